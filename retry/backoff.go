package retry

import (
	"math/rand/v2"
	"time"
)

// Backoff returns the wait before attempt number attempt+1, after attempt
// failures, as Promtail's client (dskit's backoff) draws it: uniform in
// [lo·2^(attempt-1), lo·2^attempt), both capped at hi. The waits grow
// and never fall back to lo, so max_attempts converted from Promtail's
// max_retries spans as long an outage as Promtail's did (10 attempts
// from 500ms to 5m: at least 4 minutes). A receiver's hint (Retry-After)
// wins when it is longer.
func Backoff(attempt int, lo, hi, hint time.Duration) time.Duration {
	floor := lo
	for i := 1; i < attempt && floor < hi; i++ {
		floor *= 2
	}
	floor = min(floor, hi)
	ceil := min(2*floor, hi)
	d := floor
	if ceil > floor {
		d = floor + rand.N(ceil-floor)
	}
	return max(d, hint)
}
