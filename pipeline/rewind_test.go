package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var rewindBase = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// emitSeconds emits blocks blocks of per entries; entry k (counting from 0
// over all blocks) is line "e<k>" at rewindBase + k seconds.
func emitSeconds(t *testing.T, p *Pipeline, blocks, per, firstK int) {
	t.Helper()
	for b := 0; b < blocks; b++ {
		blk := wal.Block{Source: "app", Labels: []wal.Label{{Name: "job", Value: "app"}}}
		n := 0
		for j := 0; j < per; j++ {
			k := firstK + b*per + j
			line := fmt.Sprintf("e%d", k)
			blk.Entries = append(blk.Entries, wal.Entry{Time: rewindBase.Add(time.Duration(k) * time.Second).UnixNano(), Line: []byte(line)})
			n += len(line)
		}
		blk.Position = wal.Position{FileID: "f", Path: "/f", Offset: int64(firstK + (b+1)*per)}
		rec := sources.Record{Source: "app", Position: blk.Position, Entries: per, Bytes: n, Data: wal.EncodeBlock(nil, &blk)}
		if err := p.Emit(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRewindByTime: a rewind to T lands on the first entry at or after T
// (inside a block), the sink then receives exactly the entries from there
// on, in order, and the new cursor is in state.db when the call returns.
// Outside the retained range it is a *RangeError.
func TestRewindByTime(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var held atomic.Bool
	gate := make(chan struct{})
	var open sync.Once
	a := &memSink{name: "a", fail: func(int, *sinks.Batch) error {
		if held.Load() {
			<-gate
		}
		return nil
	}}
	p := openTest(t, t.TempDir(), reg, Options{}, a)
	defer p.Close()
	defer open.Do(func() { close(gate) })
	emitSeconds(t, p, 50, 10, 0) // e0..e499 in blocks 1..50
	waitFor(t, "500 delivered", func() bool { return len(a.lines()) == 500 })
	held.Store(true) // re-shipping waits, so the committed cursor can be seen

	res, err := p.RewindToTime(context.Background(), "a", rewindBase.Add(233500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// e234 is the first at or after 233.5 s: block 24 (e230..e239), entry 4.
	if res.Index != 24 || res.Skip != 4 || res.Cursor != 23 || res.Previous != 50 || res.Skipped != 0 ||
		res.FirstTime == nil || !res.FirstTime.Equal(rewindBase.Add(234*time.Second)) {
		t.Fatalf("rewind = %+v", res)
	}
	cursors, _, _, err := p.st.load()
	if err != nil || cursors["a"] != 23 {
		t.Fatalf("committed cursor %d (%v), want 23 at once", cursors["a"], err)
	}
	open.Do(func() { close(gate) })
	// A marker after the data: once it is in, everything before it is.
	emitSeconds(t, p, 1, 1, 500)
	waitFor(t, "re-shipped entries and the marker", func() bool { return len(a.lines()) >= 500+266+1 })
	got := a.lines()[500:]
	if len(got) != 267 {
		t.Fatalf("after the rewind the sink got %d entries, want 266 + the marker", len(got))
	}
	for i, l := range got[:266] {
		if want := fmt.Sprintf("e%d", 234+i); l != want {
			t.Fatalf("entry %d after the rewind = %s, want %s", i, l, want)
		}
	}
	if got[266] != "e500" {
		t.Fatalf("last = %s, want the marker e500", got[266])
	}
	if v := testutil.ToFloat64(p.m.sinkDropped.WithLabelValues("a", "skipped")); v != 0 {
		t.Fatalf("a backward rewind counted %v skipped", v)
	}

	// Outside the WAL: before its first entry, after its last.
	for _, at := range []time.Time{rewindBase.Add(-time.Second), rewindBase.Add(time.Hour)} {
		_, err := p.RewindToTime(context.Background(), "a", at)
		var re *RangeError
		if !errors.As(err, &re) || re.FirstIndex != 1 || re.LastIndex != 51 || !re.FirstTime.Equal(rewindBase) ||
			!re.LastTime.Equal(rewindBase.Add(500*time.Second)) {
			t.Fatalf("rewind to %s: %v (%+v)", at, err, re)
		}
	}
	for _, i := range []uint64{0, 53} {
		if _, err := p.RewindToIndex(context.Background(), "a", i); !errors.As(err, new(*RangeError)) {
			t.Fatalf("rewind to index %d: %v", i, err)
		}
	}
	var unknown *UnknownSinkError
	if _, err := p.RewindToIndex(context.Background(), "nope", 1); !errors.As(err, &unknown) || unknown.Known[0] != "a" {
		t.Fatalf("unknown sink: %v", err)
	}
}

// TestRewindForwardCountsSkipped: skipping ahead while batches are in
// flight lets them settle first; what is skipped is counted as dropped
// with reason skipped, and delivered + skipped is everything.
func TestRewindForwardCountsSkipped(t *testing.T) {
	hold := make(chan struct{})
	var release sync.Once
	a := &memSink{name: "a", fail: func(int, *sinks.Batch) error { <-hold; return nil }}
	p, err := Open(nil, nil, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: a, MaxEntries: 10, MaxWait: time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	defer p.Close()
	defer release.Do(func() { close(hold) }) // before Close, whatever failed
	emitSeconds(t, p, 10, 10, 0)             // e0..e99, blocks 1..10, one batch each
	waitFor(t, "a send in flight", func() bool {
		p.loops[0].mu.Lock()
		defer p.loops[0].mu.Unlock()
		return p.loops[0].inFlight == 1
	})
	type result struct {
		res RewindResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := p.RewindToTime(context.Background(), "a", rewindBase.Add(63*time.Second))
		done <- result{r, err}
	}()
	waitFor(t, "the rewind request is with the reader", func() bool {
		return len(p.loops[0].rewind) == 1 || p.loops[0].rewinding.Load()
	})
	release.Do(func() { close(hold) }) // the in-flight batches settle; then the reader moves
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.res.Index != 7 || r.res.Skip != 3 {
		t.Fatalf("rewind = %+v, want block 7 entry 3", r.res)
	}
	emitSeconds(t, p, 1, 1, 100)
	waitFor(t, "marker delivered", func() bool { l := a.lines(); return len(l) > 0 && l[len(l)-1] == "e100" })
	got := a.lines()
	delivered := len(got) - 1
	if int64(delivered)+r.res.Skipped != 100 {
		t.Fatalf("delivered %d + skipped %d != 100 (%v)", delivered, r.res.Skipped, got)
	}
	if got[delivered-37] != "e63" {
		t.Fatalf("first after the skip = %s, want e63 (%v)", got[delivered-37], got)
	}
	if v := testutil.ToFloat64(p.m.sinkDropped.WithLabelValues("a", "skipped")); v != float64(r.res.Skipped) || v == 0 {
		t.Fatalf("dropped{skipped} = %v, rewind said %d", v, r.res.Skipped)
	}
}

// TestLagCountsRetryRanges: a sink that fails every send has its cursor
// moved past ranges parked in the retry queue; its lag still counts every
// entry it has not acknowledged, in the status and the metrics alike, and
// drops to zero once it recovers.
func TestLagCountsRetryRanges(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	a := &memSink{name: "a", fail: func(int, *sinks.Batch) error {
		if down.Load() {
			return &sinks.Retryable{Err: errors.New("503")}
		}
		return nil
	}}
	reg := prometheus.NewPedanticRegistry()
	p, err := Open(nil, reg, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: a, MaxEntries: 10, MaxWait: time.Millisecond, MinBackoff: time.Hour, MaxBackoff: time.Hour, BreakerFailures: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	defer p.Close()
	emitSeconds(t, p, 100, 10, 0)
	waitFor(t, "every block settled into the retry queue", func() bool {
		s, _ := p.SinkStatus("a")
		return s.Cursor == 100 && s.RetryEntries == 1000
	})
	s, _ := p.SinkStatus("a")
	if s.LagEntries != 1000 || s.LagBytes != 10*2+90*3+900*4 || !s.LagExact || s.State != SinkRetrying || s.RetryRanges != 100 {
		t.Fatalf("status = %+v, want 1000 entries of lag", s)
	}
	waitFor(t, "metrics agree", func() bool {
		return testutil.ToFloat64(p.m.sinkLagEntries.WithLabelValues("a")) == float64(s.LagEntries) &&
			testutil.ToFloat64(p.m.sinkLagBytes.WithLabelValues("a")) == float64(s.LagBytes) &&
			testutil.ToFloat64(p.m.sinkLag.WithLabelValues("a")) == float64(s.LagBlocks)
	})
	down.Store(false)
	if _, err := p.sched.Hurry("a", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovered", func() bool { return len(a.lines()) == 1000 })
	waitFor(t, "lag zero", func() bool {
		s, _ := p.SinkStatus("a")
		return s.LagEntries == 0 && s.LagBytes == 0 && testutil.ToFloat64(p.m.sinkLagEntries.WithLabelValues("a")) == 0
	})
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metric lint: %v %v", err, problems)
	}
}

// TestRewindBelowCountedRange: after a restart the counts start at the
// lowest cursor; a rewind below it counts the blocks it rewinds over, so
// the lag is exact at once.
func TestRewindBelowCountedRange(t *testing.T) {
	dir := t.TempDir()
	a := &memSink{name: "a"}
	p := openTest(t, dir, nil, Options{}, a)
	emitSeconds(t, p, 20, 5, 0)
	waitFor(t, "delivered", func() bool { return len(a.lines()) == 100 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	b := &memSink{name: "a", fail: func(int, *sinks.Batch) error { <-hold; return nil }}
	p = openTest(t, dir, nil, Options{}, b)
	defer p.Close()
	defer close(hold)
	if c := p.counts.covered(); c != 20 {
		t.Fatalf("counts start after %d, want the cursor 20", c)
	}
	if _, err := p.RewindToIndex(context.Background(), "a", 5); err != nil {
		t.Fatal(err)
	}
	s, _ := p.SinkStatus("a")
	if s.LagEntries != 80 || !s.LagExact || s.Cursor != 4 {
		t.Fatalf("after rewinding to 5: %+v, want 80 entries of exact lag", s)
	}
}

// TestBacklogCountedAfterStart: Open does not read the sinks' backlog to
// count it (a start on a large backlog, with a cold page cache, would wait
// for all of it); Start counts it in the background, and then the lag is
// exact.
func TestBacklogCountedAfterStart(t *testing.T) {
	dir := t.TempDir()
	down := &memSink{name: "a", fail: func(int, *sinks.Batch) error {
		return &sinks.Retryable{Reason: "test", Err: errors.New("down")}
	}}
	p := openTest(t, dir, nil, Options{}, down)
	emitSeconds(t, p, 20, 5, 0)
	waitFor(t, "durable", func() bool { return p.durable.Load() == 20 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	defer close(hold)
	b := &memSink{name: "a", fail: func(int, *sinks.Batch) error { <-hold; return nil }}
	p, err := Open(nil, nil, Options{DataDir: dir, CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: b, MaxWait: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if c := p.counts.covered(); c != 20 {
		t.Fatalf("Open counted the backlog: counts start after %d, want the last index 20", c)
	}
	p.Start(context.Background())
	waitFor(t, "the backlog counted", func() bool {
		s, _ := p.SinkStatus("a")
		return s.LagEntries == 100 && s.LagExact
	})
}
