package journald

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
)

// Tests against a fake journalctl: a shell script that prints a fixture
// in the export format.

func TestFakeReadsFixture(t *testing.T) {
	dir := t.TempDir()
	bin := "bin\xff\x00line\nsecond\r"
	fix := fixture(testEntry(0, "hello"), testEntry(1, bin), testEntry(2, "last"))
	if err := os.WriteFile(filepath.Join(dir, "fixture"), fix, 0o644); err != nil {
		t.Fatal(err)
	}
	// Prints the fixture once, then follows forever (as journalctl
	// --follow does).
	js := fakeJournalctl(t, dir, `cat "$(dirname "$0")/fixture"; exec sleep 1000`)
	o := testOptions(js)
	o.Path = "/var/log/journal"
	o.Matches = "_SYSTEMD_UNIT=app.service + PRIORITY=3"
	o.Priority = "warning"
	o.Metadata = map[string]string{"mono": "__MONOTONIC_TIMESTAMP", "absent": "NOPE"}
	p := fast()
	p.Labels = map[string]string{"job": "systemd"}
	h := startSource(t, o, p)
	got := h.rec.waitLines(t, 3, 10*time.Second)
	if got[0] != "hello" || got[1] != bin || got[2] != "last" {
		t.Fatalf("lines %q, want hello, the binary MESSAGE byte for byte, last", got)
	}
	h.rec.mu.Lock()
	b := h.rec.blocks[len(h.rec.blocks)-1]
	first := h.rec.blocks[0]
	h.rec.mu.Unlock()
	rec, _ := h.rec.lastRecord()
	if b.Position.FileID != FileID || b.Position.Cursor != rec.Position.Cursor || b.Position.Path != "/var/log/journal" {
		t.Errorf("position stored in the block %+v, record's %+v", b.Position, rec.Position)
	}
	if got := fmt.Sprint(first.Labels); got != "[{job systemd}]" {
		t.Errorf("block labels %s, want the configured ones", got)
	}
	wantLabels := "[{hostname h1} {job systemd} {priority info} {unit app.service}]"
	if got := fmt.Sprint(first.Entries[0].Labels); got != wantLabels {
		t.Errorf("entry labels %s, want %s", got, wantLabels)
	}
	if got := fmt.Sprint(first.Entries[0].Metadata); got != "[{mono 12345}]" {
		t.Errorf("entry metadata %s", got)
	}
	if want := "s=abc;i=3;b=0;m=0;t=60a24181e4002;x=1"; rec.Position.Cursor != want || rec.Position.FileID != FileID {
		t.Errorf("last record's position %+v, want cursor %q", rec.Position, want)
	}
	if first.Entries[0].Time != 1700000000000000*1000 {
		t.Errorf("time %d, want __REALTIME_TIMESTAMP in ns", first.Entries[0].Time)
	}
	args := runs(t, dir)[0]
	for _, want := range []string{"--output=export", "--follow", "--no-tail", "--directory=/var/log/journal", "--priority=warning",
		"-- _SYSTEMD_UNIT=app.service + PRIORITY=3"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if strings.Contains(args, "--since") || strings.Contains(args, "--after-cursor") {
		t.Errorf("since: beginning with no cursor, yet args %q", args)
	}
	// Status and metrics move once Emit has returned.
	waitFor(t, 5*time.Second, "status at the last cursor", func() bool { return h.src.Files()[0].Cursor == rec.Position.Cursor })
	fs := h.src.Files()
	if len(fs) != 1 || fs[0].Cursor != rec.Position.Cursor || fs[0].CursorTime == nil ||
		!fs[0].CursorTime.Equal(time.UnixMicro(1700000000002000)) || fs[0].State != sources.FileOpen {
		t.Errorf("status %+v", fs)
	}
	if n := testutil.ToFloat64(h.src.metrics.entries); n != 3 {
		t.Errorf("entries_total %v, want 3", n)
	}
	if n := testutil.ToFloat64(h.src.metrics.readBytes); n != float64(len(fix)) {
		t.Errorf("read_bytes_total %v, want %d", n, len(fix))
	}
}

// journalctl exits after its output: started again after the cursor of the
// last entry handed over, with the restart counted and logged once.
func TestFakeRestartsAfterCursor(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "one"), fixture(testEntry(0, "a"), testEntry(1, "b")), 0o644)
	os.WriteFile(filepath.Join(dir, "two"), fixture(testEntry(2, "c")), 0o644)
	// First run prints one and exits; later runs print two and follow.
	js := fakeJournalctl(t, dir, `d=$(dirname "$0")
if [ ! -e "$d/ran" ]; then touch "$d/ran"; cat "$d/one"; exit 0; fi
cat "$d/two"; exec sleep 1000`)
	h := startSource(t, testOptions(js), fast())
	got := h.rec.waitLines(t, 3, 10*time.Second)
	if strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("lines %q", got)
	}
	r := runs(t, dir)
	if len(r) != 2 || !strings.Contains(r[1], "--after-cursor=s=abc;i=2;b=0;m=0;t=60a24181e4001;x=1") {
		t.Fatalf("runs %q: the second must start after the cursor of b", r)
	}
	if h.restarts() != 1 || strings.Count(h.logs.String(), "journalctl stopped") != 1 {
		t.Errorf("restarts %v, log:\n%s", h.restarts(), h.logs.String())
	}
}

// journalctl that exits at once, over and over: the source is stalled (a
// readiness reason saying why), restarts with a growing backoff (no busy
// loop: a handful of starts, one log line each), and recovers when
// journalctl works again.
func TestFakeImmediateExit(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fix"), fixture(testEntry(0, "finally")), 0o644)
	js := fakeJournalctl(t, dir, `d=$(dirname "$0")
if [ -e "$d/good" ]; then cat "$d/fix"; exec sleep 1000; fi
echo "Failed to open journal: No such file or directory" >&2; exit 1`)
	h := startSource(t, testOptions(js), fast())
	waitFor(t, 5*time.Second, "source_stalled raised", func() bool {
		_, ok := h.cond.get(sources.ConditionStalled)
		return ok
	})
	d, _ := h.cond.get(sources.ConditionStalled)
	if !strings.Contains(d, "exit status 1") || !strings.Contains(d, "Failed to open journal") {
		t.Errorf("detail %q does not say why", d)
	}
	if fs := h.src.Files(); fs[0].State != sources.FileUnreadable || !strings.Contains(fs[0].Error, "exit status 1") || fs[0].Since == nil {
		t.Errorf("status while down: %+v", fs[0])
	}
	time.Sleep(1500 * time.Millisecond) // observe the restart rate over a span
	n := len(runs(t, dir))
	// Backoff 50, 100, 200, 400, 400, ... ms: about 6 starts in 1.5 s; a
	// busy loop would make hundreds.
	if n < 3 || n > 12 {
		t.Errorf("%d starts in ~1.5s with backoff 50ms..400ms", n)
	}
	if logs := strings.Count(h.logs.String(), "journalctl stopped"); float64(logs) != h.restarts() {
		t.Errorf("%d restart log lines for %v restarts", logs, h.restarts())
	}
	if err := os.WriteFile(filepath.Join(dir, "good"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.rec.waitLines(t, 1, 5*time.Second)
	waitFor(t, 5*time.Second, "source_stalled cleared", func() bool {
		_, ok := h.cond.get(sources.ConditionStalled)
		return !ok
	})
	if fs := h.src.Files(); fs[0].State != sources.FileOpen {
		t.Errorf("status after recovery: %+v", fs[0])
	}
	if h.errors(reasonJournalctl) < 2 {
		t.Errorf("errors{journalctl} = %v", h.errors(reasonJournalctl))
	}
}

// A restarted journalctl that runs without printing anything (a quiet
// journal) is up again after HealthyAfter.
func TestFakeQuietRestartIsHealthy(t *testing.T) {
	dir := t.TempDir()
	js := fakeJournalctl(t, dir, `d=$(dirname "$0")
if [ ! -e "$d/ran" ]; then touch "$d/ran"; exit 2; fi
exec sleep 1000`)
	h := startSource(t, testOptions(js), fast())
	waitFor(t, 5*time.Second, "restarted", func() bool { return len(runs(t, dir)) == 2 })
	waitFor(t, 5*time.Second, "source_stalled cleared after HealthyAfter", func() bool {
		_, ok := h.cond.get(sources.ConditionStalled)
		return !ok && len(h.cond.events) == 2
	})
}

// Output that is not the export format: the entries before it are handed
// over, the error counted, journalctl started again after the last good
// cursor.
func TestFakeGarbage(t *testing.T) {
	dir := t.TempDir()
	bad := append(fixture(testEntry(0, "good 1"), testEntry(1, "good 2")), "this is not the export format\n\n"...)
	os.WriteFile(filepath.Join(dir, "bad"), bad, 0o644)
	js := fakeJournalctl(t, dir, `d=$(dirname "$0"); cat "$d/bad"; exec sleep 1000`)
	h := startSource(t, testOptions(js), fast())
	got := h.rec.waitLines(t, 2, 5*time.Second)
	waitFor(t, 5*time.Second, "a second start", func() bool { return len(runs(t, dir)) >= 2 })
	if strings.Join(got[:2], ",") != "good 1,good 2" {
		t.Fatalf("lines %q", got)
	}
	if !strings.Contains(runs(t, dir)[1], "--after-cursor=s=abc;i=2;") {
		t.Errorf("second start %q not after good 2", runs(t, dir)[1])
	}
	waitFor(t, 5*time.Second, "format error counted", func() bool { return h.errors(reasonFormat) >= 1 })
	// The condition is raised just after the error is counted (and each
	// start that meets the garbage again raises it again).
	waitFor(t, 5*time.Second, "source_stalled naming the format", func() bool {
		d, _ := h.cond.get(sources.ConditionStalled)
		return strings.Contains(d, "not journal export format")
	})
}

// A stored cursor journalctl refuses (systemd 252: exit 1, "Failed to seek
// to cursor"): logged once, counted, read from since instead.
func TestFakeBadCursor(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fix"), fixture(testEntry(5, "after fallback")), 0o644)
	js := fakeJournalctl(t, dir, `case "$*" in *--after-cursor=*) echo "Failed to seek to cursor: Invalid argument" >&2; exit 1;; esac
cat "$(dirname "$0")/fix"; exec sleep 1000`)
	o := testOptions(js)
	o.Since = "2024-01-02T03:04:05Z"
	p := fast()
	p.Cursor = "not a cursor"
	h := startSource(t, o, p)
	h.rec.waitLines(t, 1, 5*time.Second)
	r := runs(t, dir)
	if len(r) != 2 || !strings.Contains(r[0], "--after-cursor=not a cursor") || !strings.Contains(r[1], "--since=@1704164645.000000") {
		t.Fatalf("runs %q", r)
	}
	if strings.Count(h.logs.String(), "refused the stored cursor") != 1 || h.errors(reasonCursor) != 1 {
		t.Errorf("cursor refusal logged/counted wrongly:\n%s", h.logs.String())
	}
}

// since: now (the default) is fixed at the first start: a journalctl that
// exits before the first entry is started again from the same time.
func TestFakeSinceNowIsFixed(t *testing.T) {
	dir := t.TempDir()
	js := fakeJournalctl(t, dir, `exit 1`)
	o := testOptions(js)
	o.Since = ""
	p := fast()
	now := time.Date(2025, 3, 4, 5, 6, 7, 890000000, time.UTC)
	p.Now = func() time.Time { return now }
	startSource(t, o, p)
	waitFor(t, 5*time.Second, "three starts", func() bool { return len(runs(t, dir)) >= 3 })
	for _, r := range runs(t, dir)[:3] {
		if !strings.Contains(r, "--since=@1741064767.890000") {
			t.Errorf("start %q", r)
		}
	}
}

// An entry over max_entry_bytes is skipped and counted; the next comes
// through.
func TestFakeTooLarge(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fix"), fixture(testEntry(0, strings.Repeat("x", 4096)), testEntry(1, "small")), 0o644)
	js := fakeJournalctl(t, dir, `cat "$(dirname "$0")/fix"; exec sleep 1000`)
	o := testOptions(js)
	o.MaxEntryBytes = 2048
	h := startSource(t, o, fast())
	if got := h.rec.waitLines(t, 1, 5*time.Second); len(got) != 1 || got[0] != "small" {
		t.Fatalf("lines %q", got)
	}
	if h.skipped(skipTooLarge) != 1 {
		t.Errorf("skipped{too_large} = %v", h.skipped(skipTooLarge))
	}
}

// While Emit blocks, journalctl's output is not read ahead: what was read
// is bounded by the pipe and our buffer, and journalctl itself waits.
func TestFakeBackpressure(t *testing.T) {
	dir := t.TempDir()
	one := fixture(testEntry(0, strings.Repeat("m", 1000)))
	big := bytes.Repeat(one, 3000) // ~3.4 MB: far more than the pipe and our buffer
	os.WriteFile(filepath.Join(dir, "fix"), big, 0o644)
	js := fakeJournalctl(t, dir, `cat "$(dirname "$0")/fix"; exec sleep 1000`)
	p := fast()
	rec := newRecorder()
	rec.hold = make(chan struct{})
	p.Emitter = rec
	h := startSource(t, testOptions(js), p)
	read := func() float64 { return testutil.ToFloat64(h.src.metrics.readBytes) }
	waitFor(t, 5*time.Second, "something read", func() bool { return read() > 0 })
	time.Sleep(300 * time.Millisecond) // give a reader that does not wait the time to run ahead
	if n := read(); n > 1<<20 {
		t.Fatalf("read %v bytes while Emit blocked", n)
	}
	close(rec.hold)
	got := rec.waitLines(t, 3000, 30*time.Second)
	if len(got) != 3000 {
		t.Fatalf("%d lines", len(got))
	}
}

// max_age: a first start reads from now-max_age, and entries older than
// it are skipped (counted) even after a cursor: the cursor still moves
// past them (a block of no entries records it).
func TestFakeMaxAge(t *testing.T) {
	dir := t.TempDir()
	now := time.UnixMicro(1700000000000000 + 5*1000).Add(time.Hour)
	fresh := testEntry(9, "fresh")
	fresh[1].value = fmt.Sprint(now.Add(-time.Minute).UnixMicro())
	os.WriteFile(filepath.Join(dir, "fix"), fixture(testEntry(0, "old"), testEntry(1, "old too"), fresh), 0o644)
	js := fakeJournalctl(t, dir, `cat "$(dirname "$0")/fix"; exec sleep 1000`)
	o := testOptions(js)
	o.Since = ""
	o.MaxAge = config.Duration(30 * time.Minute)
	p := fast()
	p.Now = func() time.Time { return now }
	h := startSource(t, o, p)
	if got := h.rec.waitLines(t, 1, 5*time.Second); strings.Join(got, ",") != "fresh" {
		t.Fatalf("lines %q", got)
	}
	if h.skipped(skipMaxAge) != 2 {
		t.Errorf("skipped{max_age} = %v", h.skipped(skipMaxAge))
	}
	if r := runs(t, dir)[0]; !strings.Contains(r, fmt.Sprintf("--since=%s", sinceArg(now.Add(-30*time.Minute)))) {
		t.Errorf("first start %q", r)
	}
}

// The metrics share their names with the file tailer's: both kinds of
// source register on one registry.
func TestMetricsBesideFileSource(t *testing.T) {
	reg := prometheus.NewRegistry()
	f, err := sources.NewFile(nil, reg, sources.FileOptions{Name: "files", Paths: []string{t.TempDir() + "/*.log"}, Emitter: newRecorder()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o := *NewOptions()
	j, err := New(nil, reg, o, Params{Name: "journal", Emitter: newRecorder()})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
