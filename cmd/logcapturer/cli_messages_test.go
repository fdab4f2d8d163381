package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
	bolt "go.etcd.io/bbolt"
)

// transcript runs each command line and records it for a golden file:
// the command, the exit code, stdout and stderr; dir (if not "") is shown
// as DATA.
func transcript(t *testing.T, con console, dir string, cmds ...[]string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, args := range cmds {
		var out, errb bytes.Buffer
		code := runMainWith(args, con, &out, &errb)
		fmt.Fprintf(&b, "$ logcapturer %s\nexit %d\n", strings.Join(args, " "), code)
		for _, s := range []struct {
			name string
			buf  *bytes.Buffer
		}{{"stdout", &out}, {"stderr", &errb}} {
			if s.buf.Len() > 0 {
				fmt.Fprintf(&b, "--- %s\n%s", s.name, s.buf.String())
				if !bytes.HasSuffix(s.buf.Bytes(), []byte("\n")) {
					b.WriteString("\n")
				}
			}
		}
		b.WriteString("\n")
	}
	got := b.Bytes()
	if dir != "" {
		got = bytes.ReplaceAll(got, []byte(dir), []byte("DATA"))
	}
	return got
}

// TestCLIMessagesGolden: usage, help and the flag errors of the commands,
// word for word.
func TestCLIMessagesGolden(t *testing.T) {
	golden(t, "cli_messages.golden", transcript(t, console{}, "",
		[]string{"help"},
		[]string{"health", "--help"},
		[]string{"version", "--help"},
		[]string{"version", "--bogus"},
		[]string{"version", "-o", "yaml"},
		[]string{"version", "extra"},
		[]string{"sinks", "rewind", "--help"},
		[]string{"sinks", "rewind", "loki"},
		[]string{"sinks", "rewind", "loki", "--to-index", "5", "--to-time", "2026-12-01T10:00:00Z"},
		[]string{"sinks", "rewind", "loki", "--to-oldest", "--to-newest", "--to-index", "5"},
		[]string{"dlq", "purge", "--help"},
		[]string{"dlq", "purge"},
		[]string{"dlq", "purge", "--all", "--sink", "loki"},
		[]string{"dlq", "list", "--all"},
		[]string{"pipeline", "--help"},
		[]string{"pipeline", "test", "--bogus"},
	))
}

// TestUnknownFlagsEverywhere: every command refuses a flag it does not
// have, with exit 2.
func TestUnknownFlagsEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"run"}, {"check"}, {"status"}, {"sinks"}, {"sinks", "loki"}, {"sinks", "rewind", "loki"}, {"sources"},
		{"dlq", "list"}, {"dlq", "show"}, {"dlq", "replay"}, {"dlq", "purge"}, {"wal", "cat"}, {"pipeline", "test"}, {"health"}, {"version"}, {"--version"},
	} {
		var out, errb bytes.Buffer
		code := runMain(append(args, "--bogus"), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "flag provided but not defined: -bogus") || out.Len() != 0 {
			t.Errorf("%v --bogus: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
}

// TestVersionJSON: version -o json carries the version, the Go version and
// the build's VCS settings; the one line says the same.
func TestVersionJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"version", "-o", "json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if v["version"] != version || v["go_version"] != runtime.Version() {
		t.Fatalf("version -o json = %s", out.String())
	}
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	var b bytes.Buffer
	writeJSON(&b, buildVersion(info, true))
	fmt.Fprintf(&b, "%s\n", buildVersion(info, true))
	writeJSON(&b, buildVersion(nil, false))
	golden(t, "version.golden", b.Bytes())
}

// emitFixed runs a pipeline on dir with sink s (named loki), emits blocks
// of lines with entry k at 2026-12-01T10:00:00Z + k s, waits for cond,
// and closes it.
func emitFixed(t *testing.T, dir string, s sinks.Sink, blocks [][]string, cond func(*pipeline.Pipeline) bool) {
	t.Helper()
	p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: dir, CommitInterval: 5 * time.Millisecond,
		Sinks: []pipeline.SinkOptions{{Sink: s, MaxWait: 5 * time.Millisecond, MinBackoff: time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	k := 0
	for i, lines := range blocks {
		blk := wal.Block{Source: "app", Position: wal.Position{FileID: "f", Path: "/f", Offset: int64(i + 1)}}
		n := 0
		for _, l := range lines {
			blk.Entries = append(blk.Entries, wal.Entry{Time: base.Add(time.Duration(k) * time.Second).UnixNano(), Line: []byte(l)})
			n += len(l)
			k++
		}
		rec := sources.Record{Source: "app", Position: blk.Position, Entries: len(lines), Bytes: n, Data: wal.EncodeBlock(nil, &blk)}
		if err := p.Emit(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !cond(p) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; sink %+v", p.Status().Sinks)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOfflineRewindAndRangeMessages: sinks rewind --data-dir moves a
// stopped sink (every target), refuses what is outside the WAL saying
// where it starts and ends and which flag asks for that, as does wal cat;
// the next start delivers from the new cursor.
func TestOfflineRewindAndRangeMessages(t *testing.T) {
	dir := t.TempDir()
	s := &refusingSink{}
	emitFixed(t, dir, s, [][]string{{"a0", "a1"}, {"b2", "b3"}, {"c4", "c5"}}, func(p *pipeline.Pipeline) bool {
		st, _ := p.SinkStatus("loki")
		return st.Cursor == 3
	})
	golden(t, "rewind_offline.golden", transcript(t, console{}, dir,
		[]string{"sinks", "rewind", "loki", "--to-oldest", "--data-dir", dir},
		[]string{"sinks", "rewind", "loki", "--to-time", "2026-12-01T10:00:03Z", "--data-dir", dir},
		[]string{"sinks", "rewind", "loki", "--to-newest", "--data-dir", dir, "-o", "json"},
		[]string{"sinks", "rewind", "loki", "--to-index", "0", "--data-dir", dir},
		[]string{"sinks", "rewind", "loki", "--to-time", "2026-12-01T11:00:00Z", "--data-dir", dir},
		[]string{"sinks", "rewind", "lok", "--to-index", "1", "--data-dir", dir},
		[]string{"wal", "cat", "--from", "0", "--data-dir", dir},
		[]string{"wal", "cat", "--time", "2026-12-01T09:00:00Z", "--data-dir", dir},
		[]string{"wal", "cat", "--from", "9", "--data-dir", dir},
		[]string{"sinks", "rewind", "loki", "--to-index", "2", "--data-dir", dir},
	))
	again := &refusingSink{}
	emitFixed(t, dir, again, nil, func(*pipeline.Pipeline) bool { return len(again.lines()) >= 4 })
	if got := strings.Join(again.lines(), " "); got != "b2 b3 c4 c5" {
		t.Fatalf("after rewinding to index 2 the next start sent %q", got)
	}
}

// TestDLQPurgeEverySinkAsks: purging every sink's dead letters asks on a
// terminal (no unless y or yes) and wants --all elsewhere; --sink or --all
// go ahead.
func TestDLQPurgeEverySinkAsks(t *testing.T) {
	dir := t.TempDir()
	s := &refusingSink{refuse: func(string) bool { return true }}
	dead := func(n int) func(*pipeline.Pipeline) bool {
		return func(p *pipeline.Pipeline) bool { st, _ := p.SinkStatus("loki"); return st.DLQEntries == n }
	}
	// One block: its two entries are one batch, so one dead letter (two
	// blocks were one or two batches as the sink's reader met them).
	emitFixed(t, dir, s, [][]string{{"x0", "x1"}}, dead(2))
	count := func() int {
		t.Helper()
		o, err := pipeline.OpenOffline(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		ds, err := o.DLQ("")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range ds {
			n += d.Entries
		}
		return n
	}
	tty := func(answer string) console { return console{in: strings.NewReader(answer), terminal: true} }
	got := transcript(t, console{in: strings.NewReader("")}, dir, []string{"dlq", "purge", "--data-dir", dir})
	got = append(got, transcript(t, tty("n\n"), dir, []string{"dlq", "purge", "--data-dir", dir})...)
	got = append(got, transcript(t, tty(""), dir, []string{"dlq", "purge", "--data-dir", dir})...)
	if n := count(); n != 2 {
		t.Fatalf("%d dead entries left after refusals, want 2", n)
	}
	got = append(got, transcript(t, tty("yes\n"), dir, []string{"dlq", "purge", "--data-dir", dir})...)
	if n := count(); n != 0 {
		t.Fatalf("%d dead letters left after yes", n)
	}
	golden(t, "dlq_purge.golden", got)

	// --all and --sink need no question.
	emitFixed(t, dir, s, [][]string{{"y0"}}, dead(1))
	var out, errb bytes.Buffer
	if code := runMainWith([]string{"dlq", "purge", "--sink", "loki", "--data-dir", dir}, console{}, &out, &errb); code != 0 || count() != 0 {
		t.Fatalf("purge --sink: %d %s %s; %d left", code, out.String(), errb.String(), count())
	}
	emitFixed(t, dir, s, [][]string{{"z0"}}, dead(1))
	if code := runMainWith([]string{"dlq", "purge", "--all", "--data-dir", dir}, console{}, &out, &errb); code != 0 || count() != 0 {
		t.Fatalf("purge --all: %d %s %s; %d left", code, out.String(), errb.String(), count())
	}
}

// TestDLQReplayKeepsFirstFailure: a replayed dead letter that fails again
// goes back to the queue with its first failure unchanged.
func TestDLQReplayKeepsFirstFailure(t *testing.T) {
	dir := t.TempDir()
	s := &refusingSink{refuse: func(string) bool { return true }}
	emitFixed(t, dir, s, [][]string{{"x0"}}, func(p *pipeline.Pipeline) bool { return len(p.DeadLetters("loki")) == 1 })
	list := func() pipeline.DeadLetter {
		t.Helper()
		var out, errb bytes.Buffer
		if code := runMain([]string{"dlq", "list", "--data-dir", dir, "-o", "json"}, &out, &errb); code != 0 {
			t.Fatalf("dlq list: %d %s", code, errb.String())
		}
		var v struct {
			DeadLetters []pipeline.DeadLetter `json:"dead_letters"`
		}
		if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v.DeadLetters) != 1 {
			t.Fatalf("dlq list: %v %s", err, out.String())
		}
		return v.DeadLetters[0]
	}
	first := list()
	var out, errb bytes.Buffer
	if code := runMain([]string{"dlq", "replay", "--data-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("dlq replay: %d %s", code, errb.String())
	}
	emitFixed(t, dir, s, nil, func(p *pipeline.Pipeline) bool {
		ds := p.DeadLetters("loki")
		return len(ds) == 1 && ds[0].LastFailure.After(first.LastFailure)
	})
	if again := list(); !again.FirstFailure.Equal(first.FirstFailure) || !again.LastFailure.After(first.LastFailure) {
		t.Fatalf("first failure %s, last %s after the replay failed; before: first %s, last %s",
			again.FirstFailure, again.LastFailure, first.FirstFailure, first.LastFailure)
	}
}

// TestDLQTwoAtOneIndex: a sink may hold two dead letters that start at the
// same index (a batch refused for good, re-sent after a crash and refused
// again). list shows both; replay --from takes both at once, and the CLI,
// which went through the dead letters one by one, then failed on the
// second ("no dead letter starts at index 1").
func TestDLQTwoAtOneIndex(t *testing.T) {
	dir := t.TempDir()
	s := &refusingSink{refuse: func(string) bool { return true }}
	emitFixed(t, dir, s, [][]string{{"x0"}}, func(p *pipeline.Pipeline) bool { return len(p.DeadLetters("loki")) == 1 })
	db, err := bolt.Open(filepath.Join(dir, "state.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, ds, err := retry.NewStore(db).Load("loki")
	if err == nil {
		_, err = retry.NewStore(db).PutDead("loki", retry.Range{}, ds[0])
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := runMain([]string{"dlq", "list", "--data-dir", dir, "-o", "json"}, &out, &errb); code != 0 {
		t.Fatalf("dlq list: %d %s", code, errb.String())
	}
	var v struct {
		DeadLetters []pipeline.DeadLetter `json:"dead_letters"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v.DeadLetters) != 2 || v.DeadLetters[0].From != v.DeadLetters[1].From {
		t.Fatalf("dlq list: %v %s, want two dead letters at one index", err, out.String())
	}
	out.Reset()
	from := strconv.FormatUint(v.DeadLetters[0].From, 10)
	if code := runMain([]string{"dlq", "replay", "--data-dir", dir, "--from", from}, &out, &errb); code != 0 {
		t.Fatalf("dlq replay --from %s: %d %s", from, code, errb.String())
	}
	if !strings.Contains(out.String(), "2 dead letter(s) queued") {
		t.Fatalf("dlq replay said %q, want 2 queued", out.String())
	}
}
