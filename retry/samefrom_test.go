package retry

import (
	"cmp"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestRangesWithTheSameFrom: two retry ranges may start at the same WAL
// index. After a kill -9 the sink's reader re-sends the blocks after the
// last committed cursor, and the batch it files when that send fails too
// starts where a range filed before the crash starts ([7,14] then [7,34]);
// a rewind does the same. Each must stay a range of its own: reloaded,
// counted, handed out, hurried and settled without touching the other.
// Keyed by From in memory, the scheduler kept one of them: the other was
// never handed out nor counted, and settling its twin forgot it, so the
// blocks only it covered were never delivered.
func TestRangesWithTheSameFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := openDB(t, path)
	defer db.Close()
	st := NewStore(db)
	t0 := time.Date(2026, 12, 5, 5, 39, 22, 0, time.UTC)
	long := Range{From: 7, To: 35, Entries: 640, Bytes: 64000, Attempts: 1, Due: t0, FirstFailure: t0}
	short := Range{From: 7, To: 14, Entries: 80, Bytes: 8000, Attempts: 3, Due: t0.Add(time.Second), FirstFailure: t0}
	for _, r := range []Range{long, short} {
		if _, err := st.PutRetry("a", Range{}, r); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(-time.Minute)
	s, err := New(nil, nil, st, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Register("a", 8)
	if err != nil {
		t.Fatal(err)
	}
	if n, e, _ := s.Stats("a"); n != 2 || e != 720 {
		t.Fatalf("reloaded %d ranges of %d entries, want 2 of 720", n, e)
	}
	// A third, filed while running, with the same From.
	mid := Range{From: 7, To: 20, Entries: 100, Bytes: 10000, Attempts: 1, Due: t0.Add(2 * time.Second), FirstFailure: t0}
	if err := s.Add("a", mid); err != nil {
		t.Fatal(err)
	}
	if n, e, _ := s.Stats("a"); n != 3 || e != 820 || len(s.Ranges("a")) != 3 {
		t.Fatalf("%d ranges of %d entries (%d listed), want 3 of 820", n, e, len(s.Ranges("a")))
	}
	// Hurry makes all three due at the same instant: they must stay three
	// stored ranges (the store's key is due time + From).
	if n, err := s.Hurry("a", 0); err != nil || n != 3 {
		t.Fatalf("hurried %d: %v", n, err)
	}
	if rs, _, err := st.Load("a"); err != nil || len(rs) != 3 {
		t.Fatalf("stored after hurry: %d ranges (%v), want 3", len(rs), err)
	}
	if n, _, _ := s.Waiting("a"); n != 3 {
		t.Fatalf("%d ranges waiting, want 3", n)
	}
	s.dispatch()
	var got []Range
	for len(got) < 3 {
		select {
		case r := <-out:
			got = append(got, r)
		default:
			t.Fatalf("handed out %d ranges, want 3: %+v", len(got), got)
		}
	}
	select {
	case r := <-out:
		t.Fatalf("range handed out twice: %+v", r)
	default:
	}
	slices.SortFunc(got, func(a, b Range) int { return cmp.Compare(a.To, b.To) })
	if got[0].To != 14 || got[1].To != 20 || got[2].To != 35 {
		t.Fatalf("handed out %+v", got)
	}
	// Settling one settles only it: the short one delivered, the long one
	// failed again, the middle one dead-lettered.
	if err := s.Done("a", got[0]); err != nil {
		t.Fatal(err)
	}
	again := got[2]
	again.Attempts++
	again.Due = now.Add(time.Second)
	if err := s.Retry("a", got[2], again); err != nil {
		t.Fatal(err)
	}
	if n, e, _ := s.Stats("a"); n != 2 || e != 740 {
		t.Fatalf("after one done and one retried: %d ranges of %d entries, want 2 of 740", n, e)
	}
	if err := s.Dead("a", got[1], DeadLetter{From: 7, To: 20, Entries: 100, Reason: "max_attempts"}); err != nil {
		t.Fatal(err)
	}
	rs := s.Ranges("a")
	if len(rs) != 1 || rs[0].To != 35 || rs[0].Attempts != 2 {
		t.Fatalf("left %+v, want the long range, failed twice", rs)
	}
	if stored, _, err := st.Load("a"); err != nil || len(stored) != 1 || stored[0] != rs[0] {
		t.Fatalf("stored %+v (%v), want %+v", stored, err, rs[0])
	}
	now = again.Due
	s.dispatch()
	select {
	case r := <-out:
		if r.To != 35 {
			t.Fatalf("handed out %+v", r)
		}
	default:
		t.Fatal("the long range was not handed out again")
	}
}

// TestDeadLettersWithTheSameFrom: two dead letters may start at the same
// WAL index, as two retry ranges may (a batch refused for good, re-sent
// after a kill -9 split differently, and refused again: [7,35] then
// [7,14]). Keyed by From, the store and the scheduler kept the last one
// only: the blocks only the first covered lost their dead letter, so
// nothing pinned them, and the counts went wrong. Each is now kept,
// reloaded, listed, counted and removed on its own; a replay or purge by
// From takes both.
func TestDeadLettersWithTheSameFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := openDB(t, path)
	defer db.Close()
	st := NewStore(db)
	t0 := time.Date(2026, 12, 5, 15, 20, 0, 0, time.UTC)
	newSched := func() *Scheduler {
		s, err := New(nil, nil, st, Options{Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Register("a", 8); err != nil {
			t.Fatal(err)
		}
		return s
	}
	long := DeadLetter{From: 7, To: 35, Entries: 640, Bytes: 64000, Reason: "too_old", Attempts: 1, FirstFailure: t0, LastFailure: t0}
	short := DeadLetter{From: 7, To: 14, Entries: 80, Bytes: 8000, Reason: "too_old", Attempts: 1, FirstFailure: t0, LastFailure: t0}
	other := DeadLetter{From: 40, To: 41, Entries: 5, Bytes: 500, Reason: "max_attempts", Attempts: 5, FirstFailure: t0, LastFailure: t0}
	s := newSched()
	for _, d := range []DeadLetter{long, short, other} {
		if err := s.Dead("a", Range{}, d); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Scheduler, when string) {
		t.Helper()
		ds := s.DeadLetters("a")
		if len(ds) != 3 || ds[0].To != 35 || ds[1].To != 14 || ds[2].From != 40 {
			t.Fatalf("%s: dead letters %+v, want [7,35], [7,14] and [40,41]", when, ds)
		}
		if ds[0].Dup == ds[1].Dup {
			t.Fatalf("%s: both dead letters at 7 have Dup %d", when, ds[0].Dup)
		}
		if low, ok := s.Low("a"); !ok || low != 7 {
			t.Fatalf("%s: low %d %v, want 7", when, low, ok)
		}
		if e := s.queues["a"].deadEnt; e != 725 {
			t.Fatalf("%s: %d dead entries counted, want 725", when, e)
		}
	}
	check(s, "stored")
	s.Close()
	// The first dead letter at an index keeps the key an older release
	// wrote (From alone), so a store it reads holds what it holds today.
	if err := db.View(func(tx *bolt.Tx) error {
		var lens []int
		if err := tx.Bucket(dlqBucket("a")).ForEach(func(k, _ []byte) error {
			lens = append(lens, len(k))
			return nil
		}); err != nil {
			return err
		}
		if !slices.Equal(lens, []int{8, 16, 8}) {
			t.Errorf("key lengths %v, want [8 16 8]", lens)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s = newSched()
	defer s.Close()
	check(s, "reloaded")
	if n, err := s.Replay("a", 7); err != nil || n != 2 {
		t.Fatalf("replayed %d (%v), want 2", n, err)
	}
	if ds := s.DeadLetters("a"); len(ds) != 1 || ds[0].From != 40 {
		t.Fatalf("after replay: %+v, want [40,41] only", ds)
	}
	if n, e, _ := s.Stats("a"); n != 2 || e != 720 {
		t.Fatalf("after replay: %d ranges of %d entries, want 2 of 720", n, e)
	}
	// Dead again, both, then purged by From; DropBelow takes the last dead
	// letter and the two replayed ranges.
	for _, d := range []DeadLetter{long, short} {
		if err := s.Dead("a", Range{}, d); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Purge("a", 7); err != nil || n != 2 {
		t.Fatalf("purged %d (%v), want 2", n, err)
	}
	if got := s.DropBelow(42); got["a"] != 725 {
		t.Fatalf("dropped %v, want 725 entries of a", got)
	}
	if _, ds, err := st.Load("a"); err != nil || len(ds) != 0 {
		t.Fatalf("stored dead letters left: %+v (%v)", ds, err)
	}
	if e := s.queues["a"].deadEnt; e != 0 {
		t.Fatalf("%d dead entries counted, want 0", e)
	}
}
