package stages

import (
	"sync"
	"testing"
	"time"
)

// recorder counts what stages report through Env (Dropped, Failed) and
// collects the entries a stage hands on.
type recorder struct {
	mu      sync.Mutex
	dropped map[string]int
	failed  map[string]int // "stage/reason"
	out     []*Entry
}

func newRecorder() *recorder {
	return &recorder{dropped: map[string]int{}, failed: map[string]int{}}
}

// env returns an Env reporting to r, in zone loc, with clock now.
func (r *recorder) env(loc *time.Location, now func() time.Time) Env {
	return Env{
		Source:   "test",
		Location: loc,
		Now:      now,
		Dropped: func(reason string) {
			r.mu.Lock()
			r.dropped[reason]++
			r.mu.Unlock()
		},
		Failed: func(stage, reason string) {
			r.mu.Lock()
			r.failed[stage+"/"+reason]++
			r.mu.Unlock()
		},
	}
}

// next collects a copy of each entry handed on.
func (r *recorder) next(e *Entry) {
	r.mu.Lock()
	r.out = append(r.out, copyEntry(e))
	r.mu.Unlock()
}

// take returns the entries collected so far and forgets them.
func (r *recorder) take() []*Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.out
	r.out = nil
	return out
}

// lines returns the lines of entries.
func lines(es []*Entry) []string {
	var s []string
	for _, e := range es {
		s = append(s, e.Line)
	}
	return s
}

// fakeClock is a settable clock for Env.Now and Tick.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// entry builds an entry with the labels copied into Extracted, as the
// pipeline does before the first stage.
func entry(seq uint64, line string, labels map[string]string) *Entry {
	e := &Entry{Seq: seq, Line: line, Labels: map[string]string{}, Extracted: map[string]any{}}
	for k, v := range labels {
		e.Labels[k] = v
		e.Extracted[k] = v
	}
	return e
}

func mustTime(t *testing.T, layout, s string) time.Time {
	t.Helper()
	v, err := time.Parse(layout, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
