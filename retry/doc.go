// Package retry keeps what sinks failed to deliver: retry ranges and dead
// letters, both spans [From, To] of WAL indexes. The data never leaves the
// WAL; these are pointers into it, so a sink that is down for hours costs
// disk, never memory or goroutines.
//
// # State
//
// Store persists both in the pipeline's bbolt file, per sink: bucket
// "retry/<sink>" keyed by due time (big-endian ns) + From, holding To,
// entries, bytes, attempts, first failure and last error; bucket
// "dlq/<sink>" keyed by From, holding To, entries, bytes, reason, attempts,
// first and last failure and last error. Every change is one fsynced
// transaction, written before it shows in memory, so a range is durable
// before the sink's cursor passes it.
//
// # Scheduler
//
// Scheduler mirrors the store in memory (a min-heap of due ranges per sink)
// and runs ONE goroutine for all sinks: one timer, a select on wake-ups and
// quit. It hands each due range to its sink's channel without ever
// blocking; when a sink's channel is full the range waits, and the sink
// calls Signal when it has room. A sink reads the range back from the WAL,
// sends it, and reports Done, Retry (with Backoff: exponential, full jitter,
// at least the receiver's Retry-After) or Dead. The heap holds at most the
// ranges that failed before the sink's circuit breaker opened, so its size
// follows the in-flight window, not the outage's length.
//
// Dead letters (rejected for good, or out of attempts) pin their WAL blocks
// until Replay (back to the retry queue, attempts reset), Purge, or Expire
// (dlq.max_bytes / dlq.max_age, oldest first). DropBelow forgets ranges
// whose blocks full_policy drop_oldest deleted.
//
// # Lifecycle
//
// New, Register each sink (loads its stored state), Start, then Close
// (stops and waits for the goroutine; stored state stays for the next run).
// All methods are safe for concurrent use.
package retry
