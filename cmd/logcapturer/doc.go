// Command logcapturer is a crash-safe log shipper: it tails log files into an
// embedded write-ahead log and delivers them to sinks, each at its own pace.
//
//	logcapturer run --config FILE     ship logs until SIGINT or SIGTERM
//	logcapturer check --config FILE   validate a config; exit 1 listing every problem
//	logcapturer pipeline test --config FILE --source NAME [FILE|-]
//	                                  run sample lines through a source's stages
//	logcapturer status                sinks, WAL, sources, readiness
//	logcapturer sinks [NAME]          one or every sink
//	logcapturer sinks rewind NAME --to-time T | --to-index N | --to-oldest | --to-newest
//	logcapturer sources               tailed files
//	logcapturer dlq list|show|replay|purge [--sink NAME | --all]
//	logcapturer wal cat --from N | --time T [--limit K]
//	logcapturer health [--addr HOST:PORT | --config FILE] [--ready]
//	logcapturer version [-o json]     print the version (json: with the build info)
//	logcapturer dlq list|show|replay|purge --data-dir DIR
//	                                  the dead-letter queue of a stopped logcapturer
//	logcapturer sinks rewind NAME ... --data-dir DIR
//	                                  a stopped sink's cursor, from its next start
//
// dlq show lists, under each dead letter, the entries it holds, read from
// the WAL (--limit N per dead letter): for a partial rejection only the
// refused entries; dlq replay queues them (only them) for the next run,
// keeping their first failure; --from N takes every dead letter starting
// at N (two when the same blocks were refused again after a restart, see
// package retry). dlq purge without --sink and --from (every
// sink's dead letters) asks [y/N] on stderr when stdin is a terminal
// (terminal_linux.go), and otherwise wants --all (exit 2 without).
//
// The inspection commands are clients of the admin API (package admin):
// --addr, else admin.listen of --config, else 127.0.0.1:8401, with the
// token of --token-file or admin.token_file; tables for people, -o json
// for scripts (tables.go; golden files in testdata, go test -update
// rewrites them). Tables print log content through terminalSafe
// (escape.go), which escapes every control character, bidi override and
// byte that is not UTF-8, so a log line cannot drive the terminal. With --data-dir they read a stopped logcapturer's data
// directory through pipeline.OpenOffline, and say so. Every command
// prints its own flags on --help and exits 0, and refuses a flag it does
// not have with exit 2. An index or time outside the WAL is answered with
// its oldest and newest entries and the flag that asks for them.
//
// It wires configuration, the pipeline, sources and sinks,
// and owns the process lifecycle: run until SIGINT or SIGTERM, then shut
// down in the reverse order of construction (sources, pipeline, sinks,
// admin server last so metrics stay up meanwhile). check validates a config
// with both registries (sinkTypes, sourceTypes) and reads every file it
// names (config.ParseOptions.CheckFiles), and prints every problem in one
// run, each with file:line, sorted by line: whatever run refuses before it
// is running, check refuses (the systemd unit's ExecStartPre).
// version prints the build.
//
// pipeline test (pipelinetest.go, pipelinetrace.go) loads the config as
// check does, builds the source's stages with stages.Parse (problems are
// printed as check prints them, file:line and the stage's key), and runs
// each sample line as the source would: its configured labels (plus, with
// --filename, those of the file's path, sources.FileLabels), the read time
// (--now), and for docker and cri the tailer's own decoding
// (sources.DecodeLine; partial lines joined per stream). A tracer watches
// the entries through stages.Pipeline.Inspect: a snapshot of each entry as
// it enters each top-level stage, drops and failures (Env.Dropped,
// Env.Failed) charged to the stage call under way. An entry's trace is
// printed once it is settled (it left the stages, was dropped, or was
// joined: it stopped in a stage and Pipeline.Held is past it), in the
// order of the sample lines; what the stages hold is flushed at the end of
// the input (Tick is never called: max_wait_time does not apply). The
// source's own multiline: and timestamp: options are not applied. Human
// output is deterministic for its input (golden files in testdata); -o
// json is one object a line (traceView).
// SIGHUP and POST /-/reload re-read the config (reload.go): a changed one
// replaces the running one in process; an unchanged one has the pipeline
// reopen the file sinks' output files (logrotate's postrotate), for
// POST /-/reload before it answers; a refused one is logged in one line
// with one field per problem (problem.1, problem.2, ...). The running
// config stopped for a reload is cancelled with the cause errReload, so
// only a process stop logs "shutting down".
//
// Exit codes: 0 success, 1 a runtime or config error (printed, never a
// stack trace), 2 a usage error.
//
// The tests here build the real binary: crash_test.go kill -9s it at random
// moments and checks that no line is lost or written to the WAL twice.
package main
