package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// fixedStatus is a status with every kind of row, for the golden tables.
func fixedStatus() pipeline.Status {
	ok := time.Date(2026, 12, 1, 10, 4, 5, 0, time.UTC)
	unreadableSince := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	return pipeline.Status{
		Version: "v1.2.3", UptimeSeconds: 3725,
		WAL: pipeline.WALStatus{FirstIndex: 1201, LastIndex: 98765, DurableIndex: 98760, Segments: 12, Bytes: 47 << 20, MaxBytes: 2 << 30},
		Sources: []pipeline.SourceStatus{{Name: "app", Type: "file", Files: []sources.FileStatus{
			{Path: "/var/log/app/a.log", FileID: "fe00-1a2b-400-9f3e", Offset: 1048576, Size: 1049000, LagBytes: 424, State: "open"},
			{Path: "/var/log/app/a.log.1", FileID: "fe00-1a2a-400-77aa", Offset: 5242880, Size: 5242880, State: "draining"},
			{Path: "/var/log/app/quiet.log", FileID: "fe00-1a30-12-0bcd", Offset: 18, Size: 18, State: "idle"},
			{Path: "/var/log/app/secret.log", Size: 5120, State: "unreadable", Since: &unreadableSince,
				Error: "open /var/log/app/secret.log: permission denied"},
		}}, {Name: "pods", Type: "cri", Files: []sources.FileStatus{}}},
		Sinks: []pipeline.SinkStatus{
			{Name: "archive", Type: "file", Destination: "/var/log/archive/all.log", Cursor: 98760, LagExact: true, State: "ok", LastSuccessTime: &ok},
			{Name: "loki", Type: "loki", Destination: "https://loki.example/loki/api/v1/push", Cursor: 97001, LagEntries: 125034, LagBytes: 25 << 20, LagBlocks: 1780, LagExact: true,
				OldestUnackedAgeSeconds: 754, State: "circuit_open", InFlight: 1, RetryRanges: 3, RetryEntries: 30000,
				DLQRanges: 1, DLQEntries: 12, LastError: "retryable (status_503): loki answered 503: ingester unavailable, the ring is not ready", LastSuccessTime: &ok},
			{Name: "kafka", Type: "kafka", Destination: "k1:9092,k2:9092", Cursor: 1200, LagEntries: 9000000, LagBytes: 3 << 30, LagBlocks: 97560,
				OldestUnackedAgeSeconds: 200000, State: "unauthorized", LastError: "unauthorized: SASL authentication failed"},
			{Name: "webhook", Type: "http", Destination: "https://hooks.example/ingest?token=xxxxx", Cursor: 98760, LagExact: true,
				State: "refusing", DLQRanges: 40, DLQEntries: 400, LastError: "permanent (http_400): http 400: unknown field \"lvl\"",
				LastRefusal: "permanent (http_400): http 400: unknown field \"lvl\"", LastRefusalTime: &ok},
		},
		Warnings: []pipeline.Condition{{Component: "sink/webhook", Reason: "sink_refusing", Since: time.Date(2026, 12, 1, 9, 58, 0, 0, time.UTC),
			Detail: "400 of the 400 entries settled in the last 5m0s were refused and dead-lettered; last refusal: permanent (http_400): http 400: unknown field \"lvl\""}},
		Ready: pipeline.ReadyStatus{Status: "not_ready", Reasons: []pipeline.Condition{
			{Component: "sink/kafka", Reason: "sink_unauthorized", Since: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC), Detail: "SASL authentication failed"}}},
	}
}

func TestTablesGolden(t *testing.T) {
	st := fixedStatus()
	var b bytes.Buffer
	if err := renderStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.golden", b.Bytes())

	b.Reset()
	st.Offline, st.DataDir = true, "/var/lib/logcapturer"
	renderStatus(&b, st)
	golden(t, "status_offline.golden", b.Bytes())

	b.Reset()
	renderSinks(&b, st.Sinks)
	golden(t, "sinks.golden", b.Bytes())

	b.Reset()
	renderSources(&b, st.Sources)
	golden(t, "sources.golden", b.Bytes())

	f := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ds := []pipeline.DeadLetter{
		{Sink: "loki", From: 5001, To: 5003, Entries: 12, Bytes: 1200, Reason: "entry_too_far_behind", Attempts: 1, FirstFailure: f, LastFailure: f,
			LastError: `loki answered 400: entry for stream '{job="app"}' has timestamp too old: 2026-11-22T13:32:52Z, oldest acceptable timestamp is: 2026-11-25T13:32:52Z`},
		{Sink: "loki", From: 7000, To: 7000, Entries: 1, Bytes: 80, Reason: "max_attempts", Attempts: 10, FirstFailure: f, LastFailure: f.Add(time.Hour), LastError: "timeout"},
	}
	b.Reset()
	renderDLQ(&b, ds, false)
	golden(t, "dlq_list.golden", b.Bytes())
	b.Reset()
	renderDLQ(&b, ds, true)
	golden(t, "dlq_show.golden", b.Bytes())

	b.Reset()
	renderEntries(&b, []pipeline.Entry{
		{Index: 5001, Time: f, Source: "app", Labels: map[string]string{"job": "app", "filename": "/var/log/app/a.log"}, Line: "GET /healthz 200"},
		{Index: 5001, Time: f.Add(time.Millisecond), Source: "app", Labels: map[string]string{"job": "app"}, Line: "a\ttab and a\nnewline"},
	})
	golden(t, "wal_cat.golden", b.Bytes())
}

// TestHelpForEveryCommand: --help prints the command's own usage and flags
// to stdout and exits 0.
func TestHelpForEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--help"}, {"check", "-h"}, {"status", "--help"}, {"sinks", "--help"}, {"sinks", "rewind", "--help"},
		{"sources", "--help"}, {"dlq", "--help"}, {"dlq", "list", "--help"}, {"dlq", "show", "-h"}, {"dlq", "replay", "--help"},
		{"dlq", "purge", "--help"}, {"wal", "--help"}, {"wal", "cat", "--help"}, {"version", "--help"}, {"health", "--help"}, {"health", "-h"}, {"help"},
	} {
		var out, errb bytes.Buffer
		code := runMain(args, &out, &errb)
		want := "usage: logcapturer " + args[0]
		if args[0] == "help" {
			want = "usage: logcapturer <command>"
		}
		if code != 0 || !strings.HasPrefix(out.String(), want) || errb.Len() != 0 || strings.Contains(out.String(), "help requested") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
		if args[0] != "version" && args[0] != "help" && len(args) > 1 && args[1] != "--help" && args[1] != "-h" && !strings.Contains(out.String(), "\nflags:\n") {
			t.Errorf("%v: no flags listed:\n%s", args, out.String())
		}
	}
}

// TestOfflineErrors: a directory without state.db is an error and stays
// without one; an unknown --sink lists the sinks there are.
func TestOfflineErrors(t *testing.T) {
	empty := t.TempDir()
	for _, args := range [][]string{
		{"dlq", "list", "--data-dir", empty}, {"status", "--data-dir", empty}, {"sinks", "--data-dir", empty},
		{"sources", "--data-dir", empty}, {"wal", "cat", "--from", "1", "--data-dir", empty},
	} {
		var out, errb bytes.Buffer
		if code := runMain(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), "is not a logcapturer data directory: no state.db in it (nothing was created)") {
			t.Errorf("%v: exit %d %q", args, code, errb.String())
		}
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("offline commands created %v", ents)
	}
	// A real data dir with sink "archive".
	dir := t.TempDir()
	p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: dir, Sinks: []pipeline.SinkOptions{{Sink: nopSink{"archive"}}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	blk := wal.Block{Source: "app", Position: wal.Position{FileID: "f", Path: "/f", Offset: 2}, Entries: []wal.Entry{{Time: 1, Line: []byte("x")}}}
	if err := p.Emit(context.Background(), sources.Record{Source: "app", Position: blk.Position, Entries: 1, Bytes: 1, Data: wal.EncodeBlock(nil, &blk)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if s, _ := p.SinkStatus("archive"); s.Cursor == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("block never delivered")
		}
	}
	if err := p.Close(); err != nil { // commits the cursor
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"dlq", "list", "--data-dir", dir, "--sink", "archiv"}, {"sinks", "archiv", "--data-dir", dir},
		{"dlq", "replay", "--data-dir", dir, "--sink", "archiv"},
	} {
		var out, errb bytes.Buffer
		if code := runMain(args, &out, &errb); code != 1 || !strings.Contains(errb.String(), `unknown sink "archiv"; known sinks: archive`) {
			t.Errorf("%v: exit %d %q", args, code, errb.String())
		}
	}
}

// freePort returns a loopback address with a port free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCLIAgainstRunningProgram runs the program in-process with an admin
// address and a token, and drives the inspection commands against it:
// tables and JSON, a rewind that re-ships, the errors; then, stopped, the
// same reads offline.
func TestCLIAgainstRunningProgram(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	var lines strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&lines, "line-%d\n", i)
	}
	os.WriteFile(filepath.Join(logs, "a.log"), []byte(lines.String()), 0o644)
	out := filepath.Join(dir, "out", "archive.log")
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("tok-123\n"), 0o600)
	wrongToken := filepath.Join(dir, "wrong")
	os.WriteFile(wrongToken, []byte("nope"), 0o600)
	addr := freePort(t)
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"]}]
sinks: [{name: archive, type: file, path: `+out+`, batch: {max_wait: 10ms}}]
admin: {listen: "`+addr+`", token_file: `+tokenFile+`}
`), 0o644)
	cfg, err := config.Load(cfgPath, parseOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, slog.New(slog.DiscardHandler), cfg) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	defer stop()
	cli := func(args ...string) (int, string, string) {
		var o, e bytes.Buffer
		code := runMain(args, &o, &e)
		return code, o.String(), e.String()
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if bytes.Count(b, []byte("\n")) == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink holds %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var st pipeline.Status
	deadline = time.Now().Add(15 * time.Second)
	for st.Sinks == nil || st.Sinks[0].Cursor != st.WAL.DurableIndex || st.Sinks[0].Cursor == 0 {
		code, o, e := cli("status", "--addr", addr, "-o", "json")
		if code != 0 {
			t.Fatalf("status -o json: %d %s %s", code, o, e)
		}
		if err := json.Unmarshal([]byte(o), &st); err != nil {
			t.Fatalf("status JSON: %v\n%s", err, o)
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never caught up: %+v", st)
		}
	}
	if st.Sinks[0].Name != "archive" || st.Sinks[0].Type != "file" || st.Sources[0].Files[0].Offset != int64(lines.Len()) {
		t.Fatalf("status = %+v", st)
	}
	if code, o, e := cli("status", "--config", cfgPath); code != 0 || !regexp.MustCompile(`archive +file +\S+/out/archive\S* +ok`).MatchString(o) || !strings.Contains(o, ", ready") {
		t.Fatalf("status table: %d\n%s%s", code, o, e)
	}
	if code, o, _ := cli("sinks", "archive", "--config", cfgPath, "-o", "json"); code != 0 || !strings.Contains(o, `"name": "archive"`) {
		t.Fatalf("sinks archive: %d %s", code, o)
	}
	if code, _, e := cli("sinks", "nope", "--config", cfgPath); code != 1 || !strings.Contains(e, `unknown sink "nope"; known sinks: archive`) {
		t.Fatalf("sinks nope: %d %s", code, e)
	}
	if code, o, _ := cli("sources", "--config", cfgPath); code != 0 || !strings.Contains(o, filepath.Join(logs, "a.log")) || !strings.Contains(o, "open") {
		t.Fatalf("sources: %d %s", code, o)
	}
	if code, o, _ := cli("wal", "cat", "--from", "1", "--limit", "2", "--config", cfgPath); code != 0 || !strings.Contains(o, "line-0") || !strings.Contains(o, "line-1") || strings.Contains(o, "line-2\n") {
		t.Fatalf("wal cat: %d %s", code, o)
	}
	// Log lines need the token, on loopback too, once one is configured.
	if code, _, e := cli("wal", "cat", "--from", "1", "--addr", addr); code != 1 || !strings.Contains(e, "Authorization: Bearer") || !strings.Contains(e, "--token-file") {
		t.Fatalf("wal cat without a token: %d %s", code, e)
	}
	if code, o, e := cli("wal", "cat", "--from", "1", "--limit", "1", "--addr", addr, "--token-file", tokenFile); code != 0 || !strings.Contains(o, "line-0") {
		t.Fatalf("wal cat --token-file: %d %s %s", code, o, e)
	}
	if code, o, _ := cli("dlq", "list", "--config", cfgPath, "-o", "json"); code != 0 || !strings.Contains(o, `"dead_letters": []`) {
		t.Fatalf("dlq list: %d %s", code, o)
	}
	if code, _, e := cli("sinks", "rewind", "archive", "--to-index", "1", "--addr", addr, "--token-file", wrongToken); code != 1 || !strings.Contains(e, "invalid admin token") {
		t.Fatalf("rewind with a wrong token: %d %s", code, e)
	}
	if code, _, e := cli("sinks", "rewind", "archive", "--to-index", "1", "--addr", addr); code != 1 || !strings.Contains(e, "Authorization: Bearer") {
		t.Fatalf("rewind without a token: %d %s", code, e)
	}
	if code, _, e := cli("sinks", "rewind", "archive", "--to-time", "2026-12-01T10:00:00", "--config", cfgPath); code != 2 || !strings.Contains(e, "want RFC 3339 with a zone") {
		t.Fatalf("rewind to a time without a zone: %d %s", code, e)
	}
	if code, o, e := cli("sinks", "rewind", "archive", "--to-index", "1", "--config", cfgPath); code != 0 || !strings.Contains(o, "sink archive: cursor ") {
		t.Fatalf("rewind: %d %s %s", code, o, e)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if bytes.Count(b, []byte("line-0\n")) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rewind the sink holds %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// To the end (nothing to re-ship), then to the oldest block: all of it
	// again.
	if code, o, e := cli("sinks", "rewind", "archive", "--to-newest", "--config", cfgPath); code != 0 || !strings.Contains(o, "at the end of the wal") {
		t.Fatalf("rewind --to-newest: %d %s %s", code, o, e)
	}
	if code, o, e := cli("sinks", "rewind", "archive", "--to-oldest", "--config", cfgPath); code != 0 || !strings.Contains(o, "-> 0; next entry: index 1 entry 0") {
		t.Fatalf("rewind --to-oldest: %d %s %s", code, o, e)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if bytes.Count(b, []byte("line-19\n")) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rewind to the oldest the sink holds %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Outside the WAL: where it starts, and the flag that asks for it.
	if code, _, e := cli("sinks", "rewind", "archive", "--to-index", "0", "--config", cfgPath); code != 1 ||
		!strings.Contains(e, "index 0 is outside the wal's retained range: it is before the oldest entry, index 1 at ") || !strings.HasSuffix(e, "; use --to-oldest (or --to-index 1)\n") {
		t.Fatalf("rewind before the wal: %d %s", code, e)
	}
	if code, _, e := cli("wal", "cat", "--from", "0", "--config", cfgPath); code != 1 ||
		!strings.Contains(e, "it is before the oldest entry, index 1 at ") || !strings.HasSuffix(e, "; use --from 1 for the oldest entry\n") || strings.Contains(e, "max_bytes") {
		t.Fatalf("wal cat before the wal: %d %s", code, e)
	}
	if code, _, e := cli("sinks", "rewind", "archive", "--to-oldest", "--to-time", "2026-12-01T10:00:00Z", "--config", cfgPath); code != 2 || !strings.Contains(e, "exclude each other") {
		t.Fatalf("rewind with two targets: %d %s", code, e)
	}
	stop()

	// Stopped: the same reads, offline.
	data := filepath.Join(dir, "data")
	if code, o, e := cli("status", "--data-dir", data); code != 0 || !strings.HasPrefix(o, "offline: read from "+data) || !strings.Contains(o, "archive  file") && !strings.Contains(o, "archive  -") {
		t.Fatalf("status offline: %d\n%s%s", code, o, e)
	}
	if code, o, e := cli("status", "--data-dir", data, "-o", "json"); code != 0 || !strings.Contains(o, `"offline": true`) || !strings.Contains(o, `"state": "stopped"`) {
		t.Fatalf("status offline json: %d\n%s%s", code, o, e)
	}
	if code, o, _ := cli("wal", "cat", "--from", "1", "--limit", "1", "--data-dir", data); code != 0 || !strings.Contains(o, "offline:") || !strings.Contains(o, "line-0") {
		t.Fatalf("wal cat offline: %d %s", code, o)
	}
	if code, o, _ := cli("sources", "--data-dir", data); code != 0 || !strings.Contains(o, filepath.Join(logs, "a.log")) {
		t.Fatalf("sources offline: %d %s", code, o)
	}
}

// nopSink accepts everything.
type nopSink struct{ name string }

func (s nopSink) Name() string                             { return s.name }
func (s nopSink) Close() error                             { return nil }
func (s nopSink) Send(context.Context, *sinks.Batch) error { return nil }
