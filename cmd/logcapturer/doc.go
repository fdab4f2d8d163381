// Command logcapturer is a crash-safe log shipper: it tails log files into an
// embedded write-ahead log and delivers them to sinks, each at its own pace.
//
//	logcapturer run --config FILE     ship logs until SIGINT or SIGTERM
//	logcapturer check --config FILE   validate a config; exit 1 listing every problem
//	logcapturer version               print the version
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
