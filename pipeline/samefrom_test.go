package pipeline

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/retry"
)

// TestRetryRangesWithTheSameFrom restarts on the state that kill -9s during
// an outage left in TestCrashDuringOutage: the cursor past every block, and
// two stored retry ranges that start at the same block. A range [1,2]
// failed and was stored, the process was killed before its cursor was
// committed, and the next run's reader re-sent blocks 1 to 6 as one batch,
// which failed and was stored as [1,6]. Both must be delivered after the
// restart; the scheduler used to keep one range per first block in memory,
// so only [1,2] was sent, the pipeline reported no retry range left, and
// blocks 3 to 6 never reached the sink.
func TestRetryRangesWithTheSameFrom(t *testing.T) {
	dir := t.TempDir()
	s := &memSink{name: "s"}
	p := openTest(t, dir, nil, Options{}, s)
	for i := 0; i < 6; i++ {
		emit(t, p, "app", "f", int64(i+1), fmt.Sprintf("line-%d", i))
		waitFor(t, "block delivered", func() bool { return len(s.lines()) == i+1 }) // one block each
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := openState(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	store := retry.NewStore(st.db)
	past := time.Now().Add(-time.Minute).UTC()
	for _, r := range []retry.Range{
		{From: 1, To: 6, Entries: 6, Bytes: 36, Attempts: 1, Due: past, FirstFailure: past},
		{From: 1, To: 2, Entries: 2, Bytes: 12, Attempts: 2, Due: past.Add(time.Second), FirstFailure: past},
	} {
		if _, err := store.PutRetry("s", retry.Range{}, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.db.Close(); err != nil {
		t.Fatal(err)
	}

	again := &memSink{name: "s"}
	p = openTest(t, dir, nil, Options{}, again)
	defer p.Close()
	if c := p.loops[0].cursor(); c != 6 {
		t.Fatalf("cursor %d after the restart, want 6", c)
	}
	if n, e, _ := p.sched.Stats("s"); n != 2 || e != 8 {
		t.Errorf("reloaded %d retry ranges of %d entries, want 2 of 8", n, e)
	}
	// A range is removed once the sink took it.
	waitFor(t, "no retry range left", func() bool { n, _, _ := p.sched.Stats("s"); return n == 0 })
	count := map[string]int{}
	for _, l := range again.lines() {
		count[l]++
	}
	for i := 0; i < 6; i++ {
		want := 1
		if i < 2 {
			want = 2 // in both ranges
		}
		if got := count[fmt.Sprintf("line-%d", i)]; got != want {
			t.Errorf("line-%d delivered %d times, want %d (all: %v)", i, got, want, again.lines())
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
