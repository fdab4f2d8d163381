// Bench measures logcapturer end to end with the real binary: file source,
// WAL with fsync per group commit, file sink fsyncing each batch. It prints
// MiB/s, lines/s, CPU seconds and peak RSS per run and the median.
//
//	go run ./scripts/bench -size 1GiB -runs 3
package main
