package stages

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestLimitDrop: "Match a line and drop" on Promtail's limit page: rate
// 10, burst 10, drop: lines past the burst are dropped and counted, and
// the bucket refills at the rate.
func TestLimitDrop(t *testing.T) {
	rec := newRecorder()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s, err := newLimitStage(limitOptions{Rate: 10, Burst: 10, Drop: true}, rec.env(time.UTC, clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		s.Process(entry(uint64(i), "x", nil), rec.next)
	}
	if n := len(rec.take()); n != 10 || rec.dropped[limitDropReason] != 5 {
		t.Fatalf("passed %d dropped %v, want 10 and 5", n, rec.dropped)
	}
	clock.Add(500 * time.Millisecond)
	for i := range 10 {
		s.Process(entry(uint64(i), "x", nil), rec.next)
	}
	if n := len(rec.take()); n != 5 || rec.dropped[limitDropReason] != 10 {
		t.Fatalf("after 0.5s: passed %d dropped %v, want 5 and 10", n, rec.dropped)
	}
}

// TestLimitByLabel: "Ratelimit by a label": each namespace has its own
// bucket; lines without the label are not limited.
func TestLimitByLabel(t *testing.T) {
	rec := newRecorder()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s, err := newLimitStage(limitOptions{Rate: 10, Burst: 10, Drop: true, ByLabelName: "namespace"}, rec.env(time.UTC, clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for range 20 {
		for _, ns := range []string{"a", "b", ""} {
			l := map[string]string{"namespace": ns}
			if ns == "" {
				l = nil
			}
			s.Process(entry(1, "x", l), func(e *Entry) { count[e.Labels["namespace"]]++ })
		}
	}
	if count["a"] != 10 || count["b"] != 10 || count[""] != 20 || rec.dropped[limitDropReason] != 20 {
		t.Fatalf("passed %v dropped %v", count, rec.dropped)
	}
}

// TestLimitWait: "Match a line and throttle": without drop the stage
// waits for a token (the source reads no faster than the rate) and
// drops nothing.
func TestLimitWait(t *testing.T) {
	rec := newRecorder()
	s, err := newLimitStage(limitOptions{Rate: 50, Burst: 1}, rec.env(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 6 {
		s.Process(entry(uint64(i), "x", nil), rec.next)
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("6 lines at 50/s with burst 1 took %v, want at least 100ms", d)
	}
	if n := len(rec.take()); n != 6 || len(rec.dropped) != 0 {
		t.Errorf("passed %d dropped %v", n, rec.dropped)
	}
}

// TestLimitCloseEndsWait: a wait for a token (here 1000s) ends when the
// pipeline is closed, and the entry is handed on.
func TestLimitCloseEndsWait(t *testing.T) {
	rec := newRecorder()
	s, err := newLimitStage(limitOptions{Rate: 0.001, Burst: 1}, rec.env(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	s.Process(entry(1, "first", nil), rec.next)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Process(entry(2, "second", nil), rec.next)
	}()
	// Wait until the goroutine is waiting (the bucket is empty and the
	// second line not handed on), then close.
	deadline := time.Now().Add(5 * time.Second)
	for s.limiter.TokensAt(time.Now()) > -0.5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	s.Close() // twice is fine
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Process still waiting after Close")
	}
	if got := lines(rec.take()); len(got) != 2 || got[1] != "second" {
		t.Errorf("lines %q", got)
	}
}

// TestLimitGenMap: the per-label buckets are bounded: values unseen for a
// generation are forgotten.
func TestLimitGenMap(t *testing.T) {
	m := genMap{max: 2, cur: map[string]*rate.Limiter{}}
	mk := func() *rate.Limiter { return rate.NewLimiter(1, 1) }
	a := m.get("a", mk)
	m.get("b", mk) // cur full: becomes old
	if m.get("a", mk) != a {
		t.Error("a lost after one generation")
	}
	m.get("c", mk) // cur {a, c} full: old {a, c}, b forgotten
	if len(m.cur)+len(m.old) > 2*m.max {
		t.Errorf("holds %d", len(m.cur)+len(m.old))
	}
	if _, ok := m.old["b"]; ok {
		t.Error("b kept")
	}
}

func TestLimitOptionErrors(t *testing.T) {
	for _, c := range []struct {
		opts limitOptions
		key  string
	}{
		{limitOptions{Burst: 1}, "rate"},
		{limitOptions{Rate: 1}, "burst"},
		{limitOptions{Rate: 1, Burst: 1, ByLabelName: "ns"}, "drop"},
		{limitOptions{Rate: 1, Burst: 1, MaxDistinctLabels: -1}, "max_distinct_labels"},
	} {
		_, err := newLimitStage(c.opts, Env{})
		var oe *optionError
		if !errors.As(err, &oe) || oe.Key != c.key {
			t.Errorf("%+v: error %v, want one for key %s", c.opts, err, c.key)
		}
	}
}
