package sources

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestInflightBounds: acquisitions never pass the bound, whatever the
// concurrency; a request larger than the bound never fits; released bytes
// can be taken again.
func TestInflightBounds(t *testing.T) {
	f := NewInflight(100)
	if !f.TryAcquire(60) || f.TryAcquire(41) || !f.TryAcquire(40) || f.TryAcquire(1) {
		t.Fatalf("acquire past the bound: used %d", f.Used())
	}
	f.Release(60)
	if !f.TryAcquire(60) || f.Used() != 100 {
		t.Fatalf("released bytes not reusable: used %d", f.Used())
	}
	f.Release(100)
	if f.TryAcquire(101) || f.TryAcquire(-1) || f.Used() != 0 {
		t.Fatalf("an oversized or negative request was taken: used %d", f.Used())
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	peak := int64(0)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if f.TryAcquire(7) {
					u := f.Used()
					mu.Lock()
					peak = max(peak, u)
					mu.Unlock()
					f.Release(7)
				}
			}
		}()
	}
	wg.Wait()
	if peak > 100 || f.Used() != 0 {
		t.Fatalf("peak %d (bound 100), left %d", peak, f.Used())
	}
}

// TestAcks: Wait returns once every completion fired, with the first
// error; a completion called twice counts once; release runs once, after
// the last completion, even when Wait gave up on its ctx; an empty Acks
// is done at once.
func TestAcks(t *testing.T) {
	released := 0
	a := NewAcks(func() { released++ })
	d1, d2 := a.Add(), a.Add()
	d1(nil)
	d1(errors.New("again")) // ignored
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := a.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a completion missing: %v", err)
	}
	if released != 0 {
		t.Fatal("released before the last completion")
	}
	boom := errors.New("fsync failed")
	d2(boom)
	if released != 1 {
		t.Fatalf("released %d times after the last completion", released)
	}
	if err := a.Wait(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Wait: %v, want the completion's error", err)
	}

	ok := NewAcks(nil)
	d := ok.Add()
	go d(nil)
	if err := ok.Wait(context.Background()); err != nil {
		t.Fatalf("all durable: %v", err)
	}
	empty := NewAcks(func() { released++ })
	if err := empty.Wait(context.Background()); err != nil || released != 2 {
		t.Fatalf("empty Acks: %v, released %d", err, released)
	}
}

// TestAcksDurableWinsOverCtx: when every completion fired and ctx ended
// too, Wait says durable: select would pick either at random, and a push
// that is durable answered "retry" is stored twice.
func TestAcksDurableWinsOverCtx(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for range 200 {
		a := NewAcks(nil)
		a.Add()(nil)
		if err := a.Wait(done); err != nil {
			t.Fatalf("durable push with its ctx done: %v", err)
		}
	}
}
