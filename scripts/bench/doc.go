// Bench measures logcapturer end to end with the real binary: file source,
// WAL with fsync per group commit, file sink fsyncing each batch. It prints
// MiB/s, lines/s, CPU seconds and peak RSS per run and the median. With
// -sink loki the sink pushes to a lokitest receiver, with -sink kafka to a
// one-broker kfake, each in its own process whose CPU is reported apart.
//
//	go run ./scripts/bench -size 1GiB -runs 3
//	go run ./scripts/bench -size 256MiB -sink kafka
package main
