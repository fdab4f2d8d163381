package loki_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/prometheus/client_golang/prometheus"
)

// TestEndToEndPartialRejection is the measurement against a real
// Loki, replayed against lokitest answering as Loki's distributor does
// (Limits: too-old entries refused, the rest stored, a 400 listing "N errors
// like"): 40,000 lines of which 10,000 are too old, a few of them in the
// bound's own second. Every current line arrives exactly once, the DLQ holds
// exactly the refused entries, and a replay (once the limit is raised)
// resends only those.
func TestEndToEndPartialRejection(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	const (
		lines  = 40_000
		maxAge = 72 * time.Hour
	)
	now := time.Now().UTC()
	bound := now.Add(-maxAge)
	r := newReceiver(t)
	r.SetLimits(&lokitest.Limits{RejectOldSamplesMaxAge: maxAge, CreationGracePeriod: 10 * time.Minute,
		Now: func() time.Time { return now }})

	// Line i is stamped in its text: every fourth too old, spread over some
	// 10 minutes before the bound, so one 400 names hundreds of seconds;
	// 40 lines fall in the bound's own second, on either side of it.
	logDir := t.TempDir()
	f, err := os.Create(filepath.Join(logDir, "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	boundSecond := bound.Truncate(time.Second)
	wantRefused := map[string]bool{}
	for i := 0; i < lines; i++ {
		var ts time.Time
		switch {
		case i%4 == 0 && i < 160:
			ts = boundSecond.Add(time.Duration(i) * 6 * time.Millisecond) // i/4 of 40 in the bound's second
		case i%4 == 0:
			ts = bound.Add(-time.Second - time.Duration(i)*15*time.Millisecond)
		default:
			ts = now.Add(-time.Hour + time.Duration(i)*time.Millisecond)
		}
		line := fmt.Sprintf("%s line %d %s", ts.Format(time.RFC3339Nano), i, strings.Repeat("x", 40))
		if ts.Before(bound) {
			wantRefused[line] = true
		}
		fmt.Fprintln(w, line)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if n := len(wantRefused); n < 9_960 || n > 10_000 {
		t.Fatalf("the test refuses %d lines, want about 10,000 (some of the bound's second are current)", n)
	}

	reg := prometheus.NewPedanticRegistry()
	s, err := loki.New(nil, reg, loki.Options{URL: r.URL(), Labels: map[string]string{"host": "edge-01"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := pipeline.Open(nil, reg, pipeline.Options{DataDir: t.TempDir(), CommitInterval: 20 * time.Millisecond,
		Sinks: []pipeline.SinkOptions{{Sink: s, MaxWait: 10 * time.Millisecond, Workers: 2,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src, err := sources.NewFile(nil, nil, sources.FileOptions{Name: "app", Paths: []string{filepath.Join(logDir, "*.log")},
		Labels: map[string]string{"job": "t"}, Positions: p.Positions("app"), Emitter: p,
		Timestamp: sources.TimestampOptions{Regex: `^(?P<ts>\S+) `, Location: "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}

	dlq := func() (n int) {
		for _, d := range p.DeadLetters(loki.DefaultName) {
			n += d.Entries
		}
		return n
	}
	current := lines - len(wantRefused)
	// The DLQ is written after Loki answered: poll both.
	waitUntil(t, 20*time.Second, func() bool { return r.Count() >= current && dlq() >= len(wantRefused) },
		func() string { return fmt.Sprintf("%d stored, %d in the dlq", r.Count(), dlq()) })

	// Loki stored every current line once, refused exactly the old ones.
	stored := countLines(r.Entries())
	for l, n := range stored {
		if n != 1 || wantRefused[l] {
			t.Fatalf("line %q stored %d times (refused: %v)", l, n, wantRefused[l])
		}
	}
	if len(stored) != current || !sameLines(countLines(r.Refused()), wantRefused) {
		t.Fatalf("stored %d lines, want %d; refused %d, want %d", len(stored), current, len(r.Refused()), len(wantRefused))
	}
	// The DLQ holds exactly the refused entries, no more.
	inDLQ := map[string]int{}
	for _, d := range p.DeadLetters(loki.DefaultName) {
		if err := p.DeadLetterEntries(loki.DefaultName, d, func(e pipeline.DeadLetterEntry) error {
			inDLQ[string(e.Line)]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if dlq() != len(wantRefused) || !sameLines(inDLQ, wantRefused) {
		t.Fatalf("dlq counts %d entries and lists %d, want exactly the %d refused", dlq(), len(inDLQ), len(wantRefused))
	}
	if got := counter(t, reg, "logcapturer_sink_sent_entries_total"); int(got) != current {
		t.Fatalf("logcapturer_sink_sent_entries_total %v, want %d", got, current)
	}
	if got := gauge(t, reg, "logcapturer_dlq_entries"); int(got) != len(wantRefused) {
		t.Fatalf("logcapturer_dlq_entries %v, want %d", got, len(wantRefused))
	}

	// Limit raised, DLQ replayed: the receiver gets the refused entries
	// and nothing else.
	r.SetLimits(nil)
	requests := len(r.Requests())
	before := len(r.Entries())
	if _, err := p.ReplayDLQ(loki.DefaultName, 0); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, func() bool {
		return r.Count() >= before+len(wantRefused) && dlq() == 0 && gauge(t, reg, "logcapturer_retry_queue_ranges") == 0
	}, func() string { return fmt.Sprintf("replay: %d stored, %d in the dlq", r.Count(), dlq()) })
	resent := 0
	for _, q := range r.Requests()[requests:] {
		resent += q.Entries
	}
	if replayed := countLines(r.Entries()[before:]); resent != len(wantRefused) || !sameLines(replayed, wantRefused) {
		t.Fatalf("replay sent %d entries (%d distinct), want exactly the %d refused", resent, len(replayed), len(wantRefused))
	}
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, state())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func countLines(es []lokitest.Entry) map[string]int {
	m := make(map[string]int, len(es))
	for _, e := range es {
		m[e.Line]++
	}
	return m
}

// sameLines reports whether got holds each line of want once, and no other.
func sameLines(got map[string]int, want map[string]bool) bool {
	if len(got) != len(want) {
		return false
	}
	for l, n := range got {
		if n != 1 || !want[l] {
			return false
		}
	}
	return true
}

// gauge returns the value of the gauge name in g, summed over labels.
func gauge(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}
