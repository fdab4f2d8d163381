package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
)

// TestStagesToLoki: the real binary tails a file of JSON, logfmt and
// multi-line stack-trace lines through Promtail-syntax stages (multiline,
// match with json and output, match with logfmt, drop, labels,
// structured_metadata, tenant, timestamp) into a Loki receiver that decodes
// the pushes: every stream, line, timestamp, metadata pair and tenant is
// exactly what the stages made, and the dropped entries are counted.
func TestStagesToLoki(t *testing.T) {
	bin := binary(t)
	r := lokitest.NewReceiver()
	defer r.Close()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	logFile := filepath.Join(logs, "app.log")
	trace := "level=error ts=2024-05-01T10:00:02+02:00 msg=boom team=a trace=t3\n" +
		"java.lang.IllegalStateException: boom\n" +
		"\tat com.example.App.run(App.java:42)\n" +
		"\tat com.example.App.main(App.java:7)"
	os.WriteFile(logFile, []byte(`{"level":"info","ts":"2024-05-01T10:00:00.123456789Z","msg":"started","team":"a","trace":"t1"}
{"level":"debug","ts":"2024-05-01T10:00:00.5Z","msg":"noise","team":"a","trace":"t0"}
level=warn ts=2024-05-01T10:00:01Z msg="disk low" team=b trace=t2
`+trace+`
{"level":"error","ts":"2024-05-01T10:00:03Z","msg":"r&d failed","team":"b","trace":"t4"}
level=debug ts=2024-05-01T10:00:04Z msg=noise team=b
`), 0o644)
	addr := freePort(t)
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources:
  - name: app
    type: file
    paths: ["`+logs+`/*.log"]
    labels: {job: app}
    pipeline_stages:
      - multiline:
          firstline: '^(\{|level=)'
          max_wait_time: 200ms
      - match:
          selector: '{job="app"} |~ "^\\{"'
          stages:
            - json:
                expressions: {level: level, ts: ts, msg: msg, team: team, trace: trace}
            - output: {source: msg}
      - match:
          selector: '{job="app"} |~ "^level="'
          stages:
            - logfmt:
                mapping: {level: "", ts: "", team: "", trace: ""}
      - drop: {source: level, value: debug}
      - labels: {level: ""}
      - structured_metadata: {trace: ""}
      - tenant: {source: team}
      - timestamp: {source: ts, format: RFC3339}
sinks:
  - {name: loki, type: loki, url: "`+r.URL()+`", batch: {max_wait: 10ms}}
admin: {listen: "`+addr+`"}
`), 0o644)
	var stderr bytes.Buffer
	cmd := startChild(t, bin, cfgPath, &stderr)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("clean shutdown: %v\n%s", err, stderr.String())
		}
	}()
	if err := r.WaitEntries(4, 20*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	// The last line, held by multiline until max_wait_time, is dropped:
	// wait for its count so nothing more can come.
	waitFor(t, func() bool {
		return strings.Contains(metricsText(t, addr), `logcapturer_pipeline_entries_dropped_total{reason="drop_stage",source="app"} 2`)
	})
	stream := func(level string) string {
		return lokitest.Labels(lokitest.Label{Name: "filename", Value: logFile}, lokitest.Label{Name: "job", Value: "app"},
			lokitest.Label{Name: "level", Value: level})
	}
	ts := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	meta := func(v string) []lokitest.Label { return []lokitest.Label{{Name: "trace", Value: v}} }
	want := []lokitest.Entry{
		{Tenant: "a", Labels: stream("info"), Time: ts("2024-05-01T10:00:00.123456789Z"), Line: "started", Metadata: meta("t1")},
		{Tenant: "b", Labels: stream("warn"), Time: ts("2024-05-01T10:00:01Z"), Line: `level=warn ts=2024-05-01T10:00:01Z msg="disk low" team=b trace=t2`, Metadata: meta("t2")},
		{Tenant: "a", Labels: stream("error"), Time: ts("2024-05-01T08:00:02Z"), Line: trace, Metadata: meta("t3")},
		{Tenant: "b", Labels: stream("error"), Time: ts("2024-05-01T10:00:03Z"), Line: "r&d failed", Metadata: meta("t4")},
	}
	got := r.Entries()
	key := func(e lokitest.Entry) string { return fmt.Sprintf("%d %s", e.Time, e.Line) }
	slices.SortFunc(got, func(a, b lokitest.Entry) int { return strings.Compare(key(a), key(b)) })
	slices.SortFunc(want, func(a, b lokitest.Entry) int { return strings.Compare(key(a), key(b)) })
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if g := fmt.Sprintf("%+v", got[i]); g != fmt.Sprintf("%+v", want[i]) {
			t.Errorf("entry %d:\n got %s\nwant %+v", i, g, want[i])
		}
	}
	if p := r.Problems(); len(p) > 0 {
		t.Errorf("protocol problems: %q", p)
	}
	for _, req := range r.Requests() {
		if tenant := req.Header.Get("X-Scope-OrgID"); tenant != "a" && tenant != "b" {
			t.Errorf("a push with X-Scope-OrgID %q: %+v", tenant, req)
		}
	}
}

// TestCrashKill9Stages: the real binary tails files through a multiline
// stage (each line a block of its own, held until the next line of its
// file or max_wait_time) and a drop stage that drops the lines whose
// number ends in 0, 3 or 6, and is kill -9ed at random moments while lines
// are written. Every line the stages keep reaches the sink, none of the
// dropped ones does, the WAL holds every kept line exactly once, and
// duplicates at the sink stay within the in-flight window.
func TestCrashKill9Stages(t *testing.T) {
	bin := binary(t)
	kills := envInt(t, "LOGCAPTURER_CRASH_KILLS", 6)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "archive.log")
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 64MiB
sources:
  - name: app
    type: file
    paths: ["%s/*.log"]
    pipeline_stages:
      - multiline: {firstline: '^f', max_wait_time: 100ms}
      - drop: {expression: '[036] payload='}
sinks:
  - name: archive
    type: file
    path: %s
    batch: {max_entries: 500, max_wait: 20ms}
admin:
  listen: ""
`, filepath.Join(dir, "data"), filepath.Join(dir, "logs"), out)), 0o644)
	const nfiles, rate = 4, 4000
	w := startWriter(t, filepath.Join(dir, "logs"), nfiles, rate)
	var stderr bytes.Buffer
	for range kills {
		crashOnce(t, bin, cfg, &stderr, 100*time.Millisecond, 900*time.Millisecond)
	}
	written := w.finish()
	kept := map[string]bool{}
	for f, n := range written {
		for i := range n {
			if d := i % 10; d != 0 && d != 3 && d != 6 {
				kept[lineKey(f, i)] = true
			}
		}
	}

	cmd := startChild(t, bin, cfg, &stderr)
	deadline := time.Now().Add(60 * time.Second)
	var counts map[string]int
	for {
		counts = countLines(t, out)
		if len(counts) >= len(kept) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopChild(t, cmd, &stderr)
	counts = countLines(t, out)
	missing, dropped, dups := tally(t, counts, kept, "kept line %s never reached the sink",
		"line %q reached the sink: the stages drop it (or it was never written)")
	walCounts, walBlocks := walLines(t, filepath.Join(dir, "data", "wal"))
	_, _, walDups := tally(t, walCounts, kept, "", "the WAL holds %q, which the stages drop")
	if walDups > 0 || len(walCounts) != len(kept) {
		t.Errorf("wal: %d distinct lines, %d kept, %d lines more than once", len(walCounts), len(kept), walDups)
	}
	bound := kills * (400 + 3*500)
	t.Logf("kills=%d kept=%d delivered distinct=%d missing=%d dropped delivered=%d sink duplicates=%d (bound %d) wal blocks=%d wal duplicates=%d",
		kills, len(kept), len(counts), missing, dropped, dups, bound, walBlocks, walDups)
	if dups > bound {
		t.Errorf("%d duplicates at the sink, more than the in-flight bound %d", dups, bound)
	}
	if t.Failed() {
		t.Logf("child stderr:\n%s", stderr.String())
	}
}
