// Package sinkbench measures a sink alone: how fast, and at what CPU and
// allocation cost, it drains a WAL that is already full to a local
// receiver that decodes every request. It is for benchmarks only (no
// production code imports it) and is shared by the sinks' benchmarks, so
// their figures are taken the same way and can be put side by side.
//
// # What is measured
//
// Drain fills a template data directory once, before any timing: blocks
// of 200-byte lines (as the file source cuts them: about 64 KiB each, with
// the labels filename, host and job), emitted through the pipeline with no
// sink. Each iteration then, with the timer stopped, copies the template
// to a fresh data directory and opens a pipeline on it whose only sink is
// the one under test (a new sink delivers what the WAL holds). The timer
// runs from the pipeline's Start until the receiver has decoded every
// entry: the sink loop's WAL reads, batching, the sink's encoding and
// compression, and HTTP. b.SetBytes is the line bytes, so MB/s is line
// bytes; cpu-s/GiB is this process's CPU (getrusage user + system) over the
// timed part per GiB of lines; allocs/MiB and B/MiB come from the runtime's
// counters over the same part.
//
// # The receiver runs in a child process
//
// The decoding receiver (otlptest, lokitest) runs in a child process (the
// test binary again, running the package's TestDrainReceiver, which calls
// ServeReceiver), so this process's CPU, allocations and -cpuprofile are
// the shipper's alone. The two processes share the machine's cores; the
// receiver's own CPU is reported as receiver-cpu-s/GiB. The child answers
// on a second loopback port, to GET /wait?n=N (block until N entries were
// decoded; answer the count, the child's CPU nanoseconds and its
// problems), and exits when its standard input closes, so it never
// outlives the benchmark.
//
// The benchmark's -cpuprofile is this process's (the fill and the copies
// too: leave them out with go tool pprof -ignore
// 'sinkbench.Fill|CopyFS|runWriter|runSyncer'). With
// SINKBENCH_RECEIVER_CPUPROFILE=file in the environment the child writes
// its own CPU profile to file.
package sinkbench
