package retry

import (
	"testing"
	"time"
)

// TestBackoff: after attempt failures the wait is in [lo·2^(a-1),
// lo·2^a), capped at hi, as dskit's backoff (Promtail's client) draws it:
// 10 attempts from 500ms to 5m span at least 255.5 s, where Promtail
// gives up (the dead-letter queue here); a hint that is longer wins.
func TestBackoff(t *testing.T) {
	lo, hi := 500*time.Millisecond, 5*time.Minute
	minTotal := time.Duration(1<<62 - 1)
	for range 2000 {
		var total time.Duration
		for a := 1; a < 10; a++ {
			d := Backoff(a, lo, hi, 0)
			floor := min(lo<<(a-1), hi)
			if d < floor || d >= min(2*floor, hi) && d != hi {
				t.Fatalf("attempt %d: %v outside [%v, %v)", a, d, floor, min(2*floor, hi))
			}
			total += d
		}
		minTotal = min(minTotal, total)
	}
	if minTotal < 255500*time.Millisecond {
		t.Errorf("9 waits as short as %v: under Promtail's 255.5 s", minTotal)
	}
	if d := Backoff(1, lo, hi, time.Minute); d != time.Minute {
		t.Errorf("a longer hint: %v", d)
	}
	if d := Backoff(30, lo, hi, 0); d != hi {
		t.Errorf("capped: %v", d)
	}
	if d := Backoff(3, time.Second, time.Second, 0); d != time.Second {
		t.Errorf("lo = hi: %v", d)
	}
}
