// Bench measures logcapturer end to end with the real binary: file source,
// WAL with fsync per group commit, file sink fsyncing each batch. It prints
// MiB/s, lines/s, CPU seconds (and the kernel's part of them), page faults
// and peak RSS per run and the median. With
// -sink loki the sink pushes to a lokitest receiver, with -sink kafka to a
// one-broker kfake, each in its own process whose CPU is reported apart.
//
// The default input pads each logfmt line with one repeated string, which
// the WAL's S2 compression shrinks tens of times; -format varied writes
// request logs whose fields vary (about 3 times), for figures that do not
// lean on that.
//
// -pipeline FILE puts the pipeline_stages list in FILE on the source;
// -format json writes JSON lines for it (ts, level, file, seq, trace,
// msg). scripts/bench/testdata/stages6.yaml is the 6-stage pipeline
// (json, labels, timestamp, drop, structured_metadata, output) measured
// in README.md:
//
//	go run ./scripts/bench -sink loki -format json -size 256MiB
//	go run ./scripts/bench -sink loki -format json -size 256MiB -pipeline scripts/bench/testdata/stages6.yaml
//
// -promtail (with -sink loki) writes the same setup as a Promtail config
// (static_configs on the files, the -pipeline stages, one client with
// batchsize 1MiB) and runs it with --config-format promtail, to compare
// the converted config with the native one; -workers 1 gives the native
// sink the one worker a converted client has:
//
//	go run ./scripts/bench -sink loki -format json -size 128MiB -pipeline scripts/bench/testdata/stages6.yaml -workers 1
//	go run ./scripts/bench -sink loki -format json -size 128MiB -pipeline scripts/bench/testdata/stages6.yaml -promtail
//
// -cpuprofile saves a CPU profile of 3 s of the first run, and the heap
// profile after it. -mode idle tails -files quiet files and reports CPU
// (percent of a core) and RSS over -window; -mode restart fills the WAL
// with a -size backlog while the Loki sink is down, then restarts with a
// receiver and reports the time to the first delivery, to the whole
// backlog, and the peak RSS meanwhile.
//
//	go run ./scripts/bench -size 1GiB -runs 3
//	go run ./scripts/bench -size 256MiB -sink kafka
//	go run ./scripts/bench -mode idle -files 100 -window 30s
//	go run ./scripts/bench -mode restart -size 1GiB
package main
