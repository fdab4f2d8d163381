package retry

import (
	"math/rand/v2"
	"time"
)

// Backoff returns the wait before attempt number attempt+1, after attempt
// failures: exponential from lo, capped at hi, with full jitter (uniform in
// [lo, cap]). A receiver's hint (Retry-After) wins when it is longer.
func Backoff(attempt int, lo, hi, hint time.Duration) time.Duration {
	ceil := lo
	for i := 1; i < attempt && ceil < hi; i++ {
		ceil *= 2
	}
	ceil = min(ceil, hi)
	d := lo
	if ceil > lo {
		d = lo + rand.N(ceil-lo)
	}
	return max(d, hint)
}
