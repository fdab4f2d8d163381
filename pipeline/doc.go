// Package pipeline is the engine between sources and sinks: ingest with
// group commit into the WAL, one delivery loop per sink, the commit of
// cursors and positions to state.db, WAL retention, and the admin HTTP
// server.
//
// # Data flow
//
// Sources call Emit with encoded blocks. One writer goroutine appends every
// block queued at that moment as one WAL batch; one syncer goroutine fsyncs
// (sync: batch) and then publishes the durable index. Only durable blocks
// are visible to sinks and only their positions are checkpointed, so a
// cursor or a position never covers bytes a power cut could take back.
//
// Each sink has a reader goroutine that reads durable blocks after its
// cursor in index order (one old segment load serves many blocks), keeps
// the blocks routed to it, and cuts batches by entries, bytes and wait;
// and a fixed pool of workers that call Send. A batch's range is settled when
// the sink acknowledged it (or rejected it for good); the cursor is the
// highest index below which every range is settled. Batches come from a
// fixed free list of workers+1, so memory is bounded by configuration.
//
// # State
//
// state.db (bbolt) holds, per design.md: cursors (sink name -> last settled
// index) and positions (source NUL file id -> index, offset, path), plus
// meta/positions_index: the WAL index up to which every block's position is
// in the positions bucket. One committer goroutine writes all of it in one
// transaction every CommitInterval (100ms), then deletes WAL segments below
// min(committed cursors, retry ranges, dead letters, positions checkpoint),
// at segment boundaries only. Once a minute it prunes positions no restart
// can use: older identities of the same path, and files that are gone,
// once their blocks have left the WAL.
//
// On Open, cursors are clamped to the WAL's range, and positions are the
// checkpoint plus the positions inside every block after it. A line is thus
// in the WAL exactly once whenever the process died; a sink sees again at
// most what it was sent after its last committed cursor.
//
// # Lifecycle
//
// Open (takes the state.db lock: a second process fails at once), Positions
// (for building sources), Start, Emit from sources, then Close sources first
// and the pipeline after: Close writes and syncs what was queued, stops the
// sink loops (cancelling in-flight sends, which are redelivered next start),
// commits, and closes the WAL and state.db. Every goroutine is started by
// Start and waited for by Close; none is started per batch or per entry.
//
// # Failures
//
// A batch a sink fails to deliver does not hold its cursor: the worker
// stores the range in the retry queue (retry.Scheduler, persisted in
// state.db) or, when the sink rejected it for good or it is out of
// attempts, in the dead-letter queue, and only then settles it. Due ranges
// come back from the one scheduler goroutine to the sink's workers, which
// read them from the WAL again. BreakerFailures consecutive retryable
// failures, or one refusal of our credentials (sinks.Unauthorized), open
// the sink's circuit breaker: its reader stops reading new blocks. The sink
// is probed at least every ProbeInterval (min(MaxBackoff, 30s)): by a
// waiting retry range (the reader makes the lowest one due when none would
// be in time) or, when it has none left (drop_oldest dropped them), by the
// reader's next batch. The first success (or a permanent rejection: the
// receiver is up) closes it and makes every waiting range due at once
// (retry.Scheduler.Hurry), so a recovered sink drains its retries at full
// speed instead of waiting out backoffs earned during the outage. So the
// retry queue holds at most the ranges in flight when the breaker opened,
// whatever the outage's length. Refused credentials never dead-letter and
// never use up MaxAttempts. Retention keeps every block a retry range or
// dead letter needs.
//
// # Readiness
//
// health.go keeps the conditions in force (Readiness, /readyz): each has a
// component ("wal", "source/NAME", "sink/NAME"), a reason, a start time and
// the last error, is the gauge logcapturer_component_degraded, and logs one
// line when it starts and one when it ends. A sink's reader that cannot
// read the WAL retries with a backoff capped at 2 s (sink_reader_stopped);
// the committer evaluates sink_failing (failing longer than UnreadyAfter)
// and sink_stuck (work to do, breaker closed, nothing in flight, for 30 s)
// every tick; Emit marks a source blocked for 10 s source_stalled.
//
// A partial success, a *sinks.Permanent whose Refused names entries (Loki's
// partial 400), files only those: the range is narrowed to a retry.Picks of
// (WAL index, entry) runs before it goes to the dead-letter queue, and the
// other entries count as sent (sink_sent_entries_total). A retried or
// replayed range with Picks is read back and cut to its picked entries
// before it is sent, and a refusal of a cut batch maps back through the cut.
// DeadLetterEntries (ReadDeadLetterEntries offline) lists the entries a
// dead letter holds.
//
// At wal.max_bytes, FullBlock makes the writer wait (sources block in
// Emit); FullDropOldest deletes the oldest segment and counts, per sink,
// the entries it had not read (dropped_entries_total{reason="wal_full"}).
// A failed append (ENOSPC) reopens the WAL (repairing a torn tail) and
// retries, keeping whole records that made it: like FullBlock, nothing is
// lost.
package pipeline
