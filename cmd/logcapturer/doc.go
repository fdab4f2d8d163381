// Command logcapturer is a crash-safe log shipper: it tails log files into an
// embedded write-ahead log and delivers them to sinks, each at its own pace.
//
//	logcapturer run --config FILE     ship logs until SIGINT or SIGTERM
//	logcapturer check --config FILE   validate a config; exit 1 listing every problem
//	logcapturer version               print the version
//	logcapturer dlq list|show|replay|purge --data-dir DIR
//	                                  the dead-letter queue of a stopped logcapturer
//
// dlq show lists, under each dead letter, the entries it holds, read from
// the WAL (--entries N per dead letter, -1 for all): for a partial rejection
// only the refused entries; dlq replay queues them (only them) for the next
// run.
//
// It wires configuration, the pipeline, sources and sinks,
// and owns the process lifecycle: run until SIGINT or SIGTERM, then shut
// down in the reverse order of construction (sources, pipeline, sinks,
// admin server last so metrics stay up meanwhile). check validates a config
// and prints every problem with file:line; version prints the build.
//
// Exit codes: 0 success, 1 a runtime or config error (printed, never a
// stack trace), 2 a usage error.
//
// The tests here build the real binary: crash_test.go kill -9s it at random
// moments and checks that no line is lost or written to the WAL twice.
package main
