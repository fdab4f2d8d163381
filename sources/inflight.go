package sources

import (
	"context"
	"sync"
	"sync/atomic"
)

// Inflight bounds the bytes a push receiver (loki_push, OTLP) holds
// unacknowledged: handed to the pipeline, not yet completed (Record.Done).
// A receiver acquires a request's size before it emits the request's
// records and releases it when the last of their completions fired
// (NewAcks's release); when TryAcquire fails it answers at once (Loki
// push: 429 with Retry-After) instead of queueing, so memory and waiting
// requests stay bounded whatever the clients do, with no goroutine of its
// own. Safe for concurrent use.
type Inflight struct {
	max  int64
	used atomic.Int64
}

// NewInflight returns an Inflight of limit bytes (at least 1).
func NewInflight(limit int64) *Inflight { return &Inflight{max: max(limit, 1)} }

// TryAcquire takes n bytes if they fit under the bound and reports whether
// it did; it never blocks. A request larger than the bound never fits: a
// receiver refuses it as too large (413) rather than as "try again".
func (f *Inflight) TryAcquire(n int64) bool {
	if n < 0 {
		return false
	}
	for {
		used := f.used.Load()
		if used+n > f.max {
			return false
		}
		if f.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// Release gives back n bytes taken by TryAcquire.
func (f *Inflight) Release(n int64) { f.used.Add(-n) }

// Used is the number of bytes held now.
func (f *Inflight) Used() int64 { return f.used.Load() }

// Max is the bound.
func (f *Inflight) Max() int64 { return f.max }

// Acks collects the completions of the records of one push request, so a
// receiver answers only when all of them are durable: Add gives each
// record its Record.Done, Wait returns once every one fired (nil, or the
// first error). It holds no goroutine: the pipeline's completions count it
// down. Safe for concurrent use.
type Acks struct {
	mu      sync.Mutex
	pending int
	sealed  bool
	err     error
	done    chan struct{}
	release func()
}

// NewAcks returns an empty Acks. release (may be nil) runs once, when
// Wait has been called and every completion fired, even if Wait returned
// early because its ctx ended: that is when an Inflight's bytes may be
// given back, as the pipeline holds the records until then.
func NewAcks(release func()) *Acks { return &Acks{done: make(chan struct{}), release: release} }

// Add registers one record and returns its completion, to set as
// Record.Done. If Emit fails, call the completion with Emit's error: the
// pipeline never calls it then. A completion called twice counts once.
// Add must not be called after Wait.
func (a *Acks) Add() func(error) {
	a.mu.Lock()
	a.pending++
	a.mu.Unlock()
	var fired atomic.Bool
	return func(err error) {
		if !fired.CompareAndSwap(false, true) {
			return
		}
		a.mu.Lock()
		if err != nil && a.err == nil {
			a.err = err
		}
		a.pending--
		last := a.sealed && a.pending == 0
		a.mu.Unlock()
		if last {
			a.finish()
		}
	}
}

// Wait says no more records come and blocks until every completion fired:
// it returns nil when all were durable, else the first error. It returns
// ctx.Err() if ctx ends first (the completions still count down, and
// release still runs). Call it once.
func (a *Acks) Wait(ctx context.Context) error {
	a.mu.Lock()
	first := !a.sealed
	a.sealed = true
	last := first && a.pending == 0
	a.mu.Unlock()
	if last {
		a.finish()
	}
	select {
	case <-a.done:
	case <-ctx.Done():
		select {
		case <-a.done: // both: durable wins (select picks at random)
		default:
			return ctx.Err()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *Acks) finish() {
	close(a.done)
	if a.release != nil {
		a.release()
	}
}
