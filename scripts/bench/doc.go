// Bench measures logcapturer end to end with the real binary: file source,
// WAL with fsync per group commit, file sink fsyncing each batch. It prints
// MiB/s, lines/s, CPU seconds and peak RSS per run and the median. With
// -sink loki the sink pushes to a lokitest receiver, with -sink kafka to a
// one-broker kfake, each in its own process whose CPU is reported apart.
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
