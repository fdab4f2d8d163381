package sources

import (
	"sync/atomic"
	"time"
)

// EntryClock hands out the times of entries that take their time from the
// shipper (the read or receive time, not a time in the log): strictly
// increasing, the time asked for, or 1 ns after the last one handed out
// when that is not later. Loki stores one entry of a stream per time and
// line (a repeated line with the same time is taken for a retry of the
// same entry), so a line repeated within one read or one request, which
// would share its read time, would be stored once; Promtail stamps each
// line as it reads it. Safe for concurrent use; the zero value is ready.
type EntryClock struct{ last atomic.Int64 }

// Next returns t (UTC Unix ns), or 1 ns after the last time handed out.
func (c *EntryClock) Next(t int64) int64 {
	for {
		last := c.last.Load()
		n := max(t, last+1)
		if c.last.CompareAndSwap(last, n) {
			return n
		}
	}
}

// NextTime is Next for a time.Time; the result is in UTC.
func (c *EntryClock) NextTime(t time.Time) time.Time {
	return time.Unix(0, c.Next(t.UnixNano())).UTC()
}
