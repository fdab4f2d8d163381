package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// partialSink stores every entry but those refuse picks, and names those in
// a *sinks.Permanent, as the loki sink does for Loki's partial 400.
type partialSink struct {
	mu     sync.Mutex
	refuse func(line string) bool
	stored []string
	sent   []string // every line of every Send, in order
}

func (s *partialSink) Name() string { return "p" }
func (s *partialSink) Close() error { return nil }
func (s *partialSink) Send(_ context.Context, b *sinks.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var spans []sinks.Span
	for bi, blk := range b.Blocks {
		for ei, e := range blk.Entries {
			l := string(e.Line)
			s.sent = append(s.sent, l)
			if s.refuse != nil && s.refuse(l) {
				spans = sinks.AppendSpan(spans, bi, ei)
				continue
			}
			s.stored = append(s.stored, l)
		}
	}
	if spans == nil {
		return nil
	}
	n := 0
	for _, sp := range spans {
		n += sp.Count
	}
	return &sinks.Permanent{Reason: "too_old", Err: errors.New("400 partial"), Refused: spans, Rejected: n}
}

func (s *partialSink) snapshot() (stored, sent []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stored), slices.Clone(s.sent)
}

func (s *partialSink) setRefuse(f func(string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = f
}

func openPartial(t *testing.T, dir string, reg prometheus.Registerer, s *partialSink) *Pipeline {
	t.Helper()
	p, err := Open(nil, reg, Options{DataDir: dir, CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: s, MaxEntries: 1000, MaxWait: 20 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	return p
}

func dlqEntries(p *Pipeline) (n int) {
	for _, d := range p.DeadLetters("p") {
		n += d.Entries
	}
	return n
}

// TestPartialRefusalFilesOnlyRefusedEntries: of batches a sink partly
// refused, the DLQ holds exactly the refused entries (across a restart),
// the rest count as sent, and a replay resends only those; refused again
// in part, the DLQ narrows to what was refused again.
func TestPartialRefusalFilesOnlyRefusedEntries(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewPedanticRegistry()
	s := &partialSink{refuse: func(l string) bool { return strings.HasPrefix(l, "old") }}
	p := openPartial(t, dir, reg, s)
	var want, old []string
	for i := 0; i < 6; i++ { // blocks mixing refused and stored entries
		var lines []string
		for j := 0; j < 5; j++ {
			l := fmt.Sprintf("cur-%d-%d", i, j)
			if (i+j)%3 == 0 {
				l = fmt.Sprintf("old-%d-%d", i, j)
				old = append(old, l)
			}
			lines = append(lines, l)
			want = append(want, l)
		}
		emit(t, p, "app", "f", int64(i+1), lines...)
	}
	waitFor(t, "refused entries in the dlq", func() bool {
		stored, _ := s.snapshot()
		return len(stored) == len(want)-len(old) && dlqEntries(p) == len(old)
	})
	for _, d := range p.DeadLetters("p") {
		if d.Picks.IsZero() || d.Picks.Entries() != d.Entries || d.Reason != "too_old" {
			t.Fatalf("dead letter %+v: want a selection of its %d entries", d, d.Entries)
		}
	}
	if got := testutil.ToFloat64(p.m.sinkSent.WithLabelValues("p")); int(got) != len(want)-len(old) {
		t.Fatalf("sent entries %v, want %d", got, len(want)-len(old))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// After a restart the selection is still there; a replay sends only
	// the refused entries. One of them is refused again.
	reg = prometheus.NewPedanticRegistry()
	again := old[len(old)/2]
	s.setRefuse(func(l string) bool { return l == again })
	p = openPartial(t, dir, reg, s)
	defer p.Close()
	if n := dlqEntries(p); n != len(old) {
		t.Fatalf("dlq after restart holds %d entries, want %d", n, len(old))
	}
	if got := gathered(t, reg, "logcapturer_dlq_entries"); int(got) != len(old) {
		t.Fatalf("logcapturer_dlq_entries %v, want %d", got, len(old))
	}
	_, sentBefore := s.snapshot()
	if _, err := p.ReplayDLQ("p", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replay settled", func() bool {
		stored, _ := s.snapshot()
		n, _, _ := p.sched.Stats("p")
		return n == 0 && len(stored) == len(want)-1 && dlqEntries(p) == 1
	})
	_, sent := s.snapshot()
	if resent := sent[len(sentBefore):]; !sameSet(resent, old) {
		t.Fatalf("replay sent %q, want exactly the refused %q", resent, old)
	}
	ds := p.DeadLetters("p")
	if len(ds) != 1 || ds[0].Entries != 1 || ds[0].Picks.Entries() != 1 {
		t.Fatalf("dead letters after the second refusal %+v, want one entry", ds)
	}

	// Fixed: the last one goes through; every line is stored exactly once.
	s.setRefuse(nil)
	_, sentBefore = s.snapshot()
	if _, err := p.ReplayDLQ("p", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all stored", func() bool { stored, _ := s.snapshot(); return len(stored) == len(want) })
	_, sent = s.snapshot()
	if resent := sent[len(sentBefore):]; len(resent) != 1 || resent[0] != again {
		t.Fatalf("second replay sent %q, want [%s]", resent, again)
	}
	stored, _ := s.snapshot()
	if !sameSet(stored, want) {
		t.Fatalf("stored %q, want each of %q once", stored, want)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metric lint: %v %v", err, problems)
	}
}

// gathered returns the value of the gauge or counter name in g, summed.
func gathered(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// sameSet reports whether a and b hold the same strings, each once.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s] != 1 {
			return false
		}
		m[s] = 0
	}
	return true
}
