// Package retry keeps what sinks failed to deliver: retry ranges and dead
// letters, both spans [From, To] of WAL indexes. The data never leaves the
// WAL; these are pointers into it, so a sink that is down for hours costs
// disk, never memory or goroutines.
//
// A range or dead letter may carry Picks: an exact selection of single
// entries of its blocks, as runs (WAL index, first entry, count). It is what
// a receiver refused of a batch it otherwise stored (Loki's partial 400):
// Entries and Bytes then count only the picked entries, a replay resends
// only them, and the pipeline cuts the blocks it reads back to them. The
// zero Picks selects every routed entry of the range. Picks is immutable
// and comparable, so Range and DeadLetter stay comparable values.
//
// # State
//
// Store persists both in the pipeline's bbolt file, per sink: bucket
// "retry/<sink>" keyed by due time (big-endian ns) + From, holding To,
// entries, bytes, attempts, first failure and last error; bucket
// "dlq/<sink>" keyed by From (8 bytes), holding To, entries, bytes, reason,
// attempts, first and last failure and last error. A dead letter whose From
// another one of the sink already holds (the same blocks refused again
// after a restart, batched differently) gets a key of From + Dup (8 more
// bytes, from the bucket's sequence): each is kept, counted and pins its
// blocks on its own, and a replay or purge by From takes all of them.
// Before Dup, the second replaced the first, and the blocks only the first
// covered lost their dead letter. Every change is one fsynced
// transaction, written before it shows in memory, so a range is durable
// before the sink's cursor passes it.
//
// Retry ranges may overlap, and several may start at the same index: after
// a crash the sink's reader re-sends the blocks after its last committed
// cursor, some of which a stored range already holds, and files the batch
// again if that send fails too; a rewind does the same. So a range is
// identified by its store key (due time and From), in the store and in
// memory alike, never by From alone, and the store keeps the keys unique:
// a range whose key is taken (the same From due at the same instant, as
// Hurry and Replay make them) is stored a nanosecond earlier. Each such
// range is retried and settled on its own; the sink may receive their
// common blocks more than once, never none of them.
//
// Values are versioned by a trailer. Version 1 appends uvarint 1 and the
// Picks (uvarint length, then per run uvarints: index delta from the
// previous run's index, first entry, count; empty for the whole range):
// about 3 bytes per run (BenchmarkPicks: 15,004 bytes when every other
// entry of a 10,000-entry batch was refused, the worst case; 304 bytes for
// one run in each of 100 blocks). A value without a
// trailer is version 0, written before selections existed, and loads as a
// whole range; a binary older than version 1 ignores the trailer and would
// resend a whole range on replay, which Loki absorbs (it drops entries it
// holds). A newer version, or a selection outside its range, fails Load.
//
// # Scheduler
//
// Scheduler mirrors the store in memory (a min-heap of due ranges per sink)
// and runs ONE goroutine for all sinks: one timer, a select on wake-ups and
// quit. It hands each due range to its sink's channel without ever
// blocking; when a sink's channel is full the range waits, and the sink
// calls Signal when it has room. A sink reads the range back from the WAL,
// sends it, and reports Done, Retry (with Backoff: exponential, jittered
// within [min·2^(n-1), min·2^n) as Promtail's client,
// at least the receiver's Retry-After) or Dead. The heap holds at most the
// ranges that failed before the sink's circuit breaker opened, so its size
// follows the in-flight window, not the outage's length.
//
// Dead letters (rejected for good, or out of attempts) pin their WAL blocks
// until Replay (back to the retry queue, attempts reset, first failure
// kept), Purge, or Expire
// (dlq.max_bytes / dlq.max_age, oldest first). DropBelow forgets ranges
// whose blocks full_policy drop_oldest deleted.
//
// # Lifecycle
//
// New, Register each sink (loads its stored state), Start, then Close
// (stops and waits for the goroutine; stored state stays for the next run).
// All methods are safe for concurrent use.
package retry
