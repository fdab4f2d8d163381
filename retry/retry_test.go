package retry

import (
	"container/heap"
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStoreRoundTrip(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "s.db"))
	defer db.Close()
	st := NewStore(db)
	t0 := time.Date(2026, 11, 24, 6, 0, 0, 123, time.UTC)
	r := Range{From: 10, To: 20, Entries: 300, Bytes: 6000, Attempts: 2, Due: t0.Add(time.Second), FirstFailure: t0, LastError: "503 unavailable"}
	if _, err := st.PutRetry("loki", Range{}, r); err != nil {
		t.Fatal(err)
	}
	d := DeadLetter{From: 30, To: 31, Entries: 5, Bytes: 50, Reason: "too_old", Attempts: 1, FirstFailure: t0, LastFailure: t0.Add(time.Minute), LastError: "entry too far behind"}
	if _, err := st.PutDead("loki", Range{}, d); err != nil {
		t.Fatal(err)
	}
	rs, ds, err := st.Load("loki")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0] != r {
		t.Fatalf("ranges %+v, want %+v", rs, r)
	}
	if len(ds) != 1 || ds[0] != d {
		t.Fatalf("dead letters %+v, want %+v", ds, d)
	}
	// Moving a retry range to the DLQ removes it from the retry bucket.
	d2 := DeadLetter{From: 10, To: 20, Entries: 300, Reason: "max_attempts"}
	if _, err := st.PutDead("loki", r, d2); err != nil {
		t.Fatal(err)
	}
	rs, ds, _ = st.Load("loki")
	if len(rs) != 0 || len(ds) != 2 {
		t.Fatalf("after move: %d ranges, %d dead letters", len(rs), len(ds))
	}
	if sinks, _ := st.Sinks(); len(sinks) != 1 || sinks[0] != "loki" {
		t.Fatalf("sinks %v", sinks)
	}
}

func newTestScheduler(t *testing.T, db *bolt.DB) *Scheduler {
	t.Helper()
	s, err := New(nil, nil, NewStore(db), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchedulerTiming runs under synctest: ranges come out at their due
// time, in due order, and a full sink channel holds them back until Signal.
func TestSchedulerTiming(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	synctest.Test(t, func(t *testing.T) {
		db := openDB(t, path)
		defer db.Close()
		s := newTestScheduler(t, db)
		out, err := s.Register("a", 1)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.Start(ctx)
		start := time.Now()
		for i, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
			r := Range{From: uint64(10 * (i + 1)), To: uint64(10*(i+1) + 5), Entries: 6, Due: start.Add(d), FirstFailure: start}
			if err := s.Add("a", r); err != nil {
				t.Fatal(err)
			}
		}
		if n, e, _ := s.Stats("a"); n != 3 || e != 18 {
			t.Fatalf("stats %d %d", n, e)
		}
		r := <-out
		if r.From != 20 || time.Since(start) != time.Second {
			t.Fatalf("first range %d after %s", r.From, time.Since(start))
		}
		// The channel holds one; the next two are due but wait for room.
		time.Sleep(5 * time.Second)
		r = <-out
		if r.From != 30 {
			t.Fatalf("second range %d", r.From)
		}
		synctest.Wait()
		select {
		case r := <-out:
			t.Fatalf("range %d handed out without room", r.From)
		default:
		}
		s.Signal()
		synctest.Wait()
		if r = <-out; r.From != 10 {
			t.Fatalf("third range %d", r.From)
		}
		if low, ok := s.Low("a"); !ok || low != 10 {
			t.Fatalf("low %d %v", low, ok)
		}
		for _, f := range []uint64{10, 20, 30} {
			if err := s.Done("a", Range{From: f, To: f + 5, Due: mustDue(t, f, start)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, ok := s.Low("a"); ok {
			t.Fatal("low after all done")
		}
		cancel()
		s.Close()
	})
}

func mustDue(t *testing.T, from uint64, start time.Time) time.Time {
	t.Helper()
	return start.Add(map[uint64]time.Duration{10: 3 * time.Second, 20: time.Second, 30: 2 * time.Second}[from])
}

func TestReloadReplayPurgeExpire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := openDB(t, path)
	s := newTestScheduler(t, db)
	if _, err := s.Register("a", 2); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.Add("a", Range{From: 5, To: 6, Entries: 2, Due: now.Add(time.Hour), FirstFailure: now}); err != nil {
		t.Fatal(err)
	}
	for i, reason := range []string{"rejected", "max_attempts", "too_old"} {
		d := DeadLetter{From: uint64(100 + 10*i), To: uint64(105 + 10*i), Entries: 10, Bytes: 1000, Reason: reason,
			FirstFailure: now.Add(-3 * time.Hour), LastFailure: now.Add(-time.Duration(i) * time.Hour)}
		if err := s.Dead("a", Range{}, d); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	db.Close()

	// A restart reloads everything from the store.
	db = openDB(t, path)
	defer db.Close()
	s = newTestScheduler(t, db)
	defer s.Close()
	out, err := s.Register("a", 2)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.Stats("a"); n != 1 || len(s.DeadLetters("a")) != 3 {
		t.Fatalf("reloaded %d ranges, %d dead letters", n, len(s.DeadLetters("a")))
	}
	// Expire by age: the one whose last failure is 2h old.
	if n := s.Expire(0, 90*time.Minute); n != 10 || len(s.DeadLetters("a")) != 2 {
		t.Fatalf("expired %d, left %d", n, len(s.DeadLetters("a")))
	}
	// Expire by bytes: the oldest (lowest index) goes first.
	if n := s.Expire(1500, 0); n != 10 || s.DeadLetters("a")[0].From != 110 {
		t.Fatalf("expired %d, left %+v", n, s.DeadLetters("a"))
	}
	if n, err := s.Replay("a", 110); err != nil || n != 1 {
		t.Fatalf("replay %d %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx)
	select {
	case r := <-out:
		// Attempts start over; the first failure is the dead letter's, so
		// a range dead-lettered again still shows when it first failed.
		if r.From != 110 || r.Attempts != 0 || !r.FirstFailure.Equal(now.Add(-3*time.Hour)) {
			t.Fatalf("replayed range %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("replayed range not handed out")
	}
	if _, err := s.Purge("a", 999); err == nil {
		t.Fatal("purge of a missing dead letter succeeded")
	}
	if dropped := s.DropBelow(7); dropped["a"] != 2 {
		t.Fatalf("dropped %v", dropped)
	}
	if low, ok := s.Low("a"); !ok || low != 110 {
		t.Fatalf("low %d %v", low, ok)
	}
}

// BenchmarkHeapPopPush pops the earliest of 100,000 ranges and pushes it
// back with a later due time: the scheduler's per-retry heap work.
func BenchmarkHeapPopPush(b *testing.B) {
	var h rangeHeap
	now := time.Now()
	for i := 0; i < 100_000; i++ {
		h = append(h, item{r: Range{From: uint64(i), Due: now.Add(time.Duration(i*7919%100_000) * time.Millisecond)}, seq: uint64(i)})
	}
	heap.Init(&h)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		it := heap.Pop(&h).(item)
		it.r.Due = it.r.Due.Add(time.Duration(100_000+n%1000) * time.Millisecond)
		heap.Push(&h, it)
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ranges/s")
}
