// Package pipeline is the engine between sources and sinks: ingest with
// group commit into the WAL, one delivery loop per sink, the commit of
// cursors and positions to state.db, WAL retention, the status view and
// rewind the admin API serves (package admin), the offline view of a
// stopped data directory, and the health handlers (/metrics, /healthz,
// /readyz: HealthHandlers) the admin server mounts.
//
// # Data flow
//
// Sources call Emit with encoded blocks. With Options.Compress (config
// wal.compression: s2, the default) Emit first compresses each block on
// the source's goroutine (wal.CompressBlock) and keeps it so when it
// shrank at least 4 times, handing the source's buffer back; a block that
// shrank less is stored as it is, and so are the next 15 blocks of its
// source and file without trying (a table of 256 slots, hashed by source
// and file id, keeps the counts; logcapturer_wal_compression_blocks_total
// {result="compressed|tried|skipped"}): S2 costs more CPU than it saves
// on lines that compress less. Blocks under 517 bytes are not tried. One writer goroutine appends every
// block queued at that moment as one WAL batch; one syncer goroutine fsyncs
// (sync: batch) and then publishes the durable index, never past the WAL's
// own DurableIndex. Only durable blocks are visible to sinks and only their
// positions are checkpointed, so a cursor or a position never covers bytes
// a power cut could take back. On Open, wal.Open has fsynced the tail and
// the directory, so what a killed process left in the page cache is on
// disk before it is published.
//
// A source hands Record.Data over to Emit, and the pipeline keeps each
// block's data (in the pending list, with its position) from its Append
// until the fsync covering it, to append it again if the append or the
// fsync fails. At most maxPendingBytes (2 MiB, two group commits) wait so: above, the writer
// waits for the syncer (and the sources for the writer). Groups are at most
// 256 blocks or 1 MiB.
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
// state.db (bbolt) holds cursors (sink name -> last settled index), the
// retry ranges and dead letters (package retry), and positions (source NUL file id -> index, offset, path[, NUL cursor]), plus
// meta/positions_index: the WAL index up to which every block's position is
// in the positions bucket. One committer goroutine writes all of it in one
// transaction every CommitInterval (100ms; once a second while every block
// is delivered and committed, until new durable blocks wake it), then
// deletes WAL segments below
// min(committed cursors, retry ranges, dead letters, positions checkpoint)
// of the configured sinks only (a removed sink releases its blocks; when
// it is added again, Open drops its retry ranges and dead letters whose
// blocks are gone, counted as dropped_entries_total{reason="removed"}),
// at segment boundaries only, once 8 segments holding 32MiB are deletable (or at once
// when nothing was appended since the last pass, or the WAL holds half of
// max_bytes): each cut makes tidwall rewrite the segment at the cut. Once
// a minute (and at the first commit) it prunes positions no restart can
// use, once their blocks have left the WAL. Positions are told apart by
// file identity (source, device and inode), never by path: of one file's
// positions only the newest is kept (its fingerprint grew), and a file's
// position goes once no source reports the file and no file with its
// device and inode is at its path or in that path's directory. A file
// renamed by rotation (app.log -> app.log.1) so keeps its position while
// a new app.log has the path.
//
// On Open, cursors are clamped to the WAL's range, and positions are the
// checkpoint plus the positions inside every block after it. A line is thus
// in the WAL exactly once whenever the process died; a sink sees again at
// most what it was sent after its last committed cursor.
//
// # Lifecycle
//
// Open (takes the state.db lock: a second process fails at once),
// SourcePositions or Positions (for building sources), Start, Emit from
// sources, then Close sources first and the pipeline after. Close waits
// for the Emits in progress, so no record is queued after it has failed
// the completions still unfired (ErrClosed). Every goroutine is started by Start and waited for
// by Close; none is started per batch or per entry.
//
// Shutdown (SIGTERM, and a reload, which stops one pipeline and opens the
// next) drains: the context given to Start ends first, which stops the
// sink readers, the retry scheduler and every worker not sending, so no new
// block is read and no new send (nor retry) starts; sends in flight, and
// the committer, run on: they are not derived from that context. Close
// then writes and syncs what sources queued, waits up to ShutdownTimeout
// for the sends in flight (a success is acknowledged, a failure filed as a
// retry range, as at any time), cancels those still running, commits the
// cursors (so a drained batch is not sent again after the next start), and
// closes the WAL and state.db. A send cancelled at ShutdownTimeout leaves
// its range unsettled: it is sent again after the next start. A Send that
// ignores cancellation (a write to a hung NFS mount, to a pipe nobody
// reads) is left behind after cancelGrace (1 s) more, logged once and
// named by AbandonedSinks, so Close returns within ShutdownTimeout + 1 s
// whatever a sink does; its worker returns if the Send ever does, and
// touches nothing durable after Close.
//
// ReopenOutputs, called by cmd on a reload that changes nothing (SIGHUP,
// POST /-/reload), asks every sink that is a sinks.Reopener to reopen its
// output file; it runs on the caller's goroutine, concurrently with the
// sink loops (the sink serialises it with its Send), bounded by the
// caller's context.
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
// never use up MaxAttempts: a range's Attempts counts only its other
// failures, and the wait after a refusal grows with the time since the
// range first failed instead, up to ProbeInterval. Retention keeps every
// block a retry range or dead letter needs.
//
// A block a retried range cannot send (deleted under it by drop_oldest,
// or failing its checksum) is skipped at every attempt but logged, and
// counted in sink_corrupt_blocks_total, once per range: the sink loop
// remembers, per range start, the blocks it logged (at most 1,024 ranges),
// until the range is delivered, dead-lettered or dropped.
//
// # Readiness
//
// health.go keeps the conditions in force (Readiness, /readyz): each has a
// component ("wal", "state", "source/NAME", "sink/NAME"), a reason, a start time and
// the last error, is the gauge logcapturer_component_degraded, and logs one
// line when it starts and one when it ends. A sink's reader that cannot
// read the WAL retries with a backoff capped at 2 s (sink_reader_stopped);
// the committer evaluates sink_failing (failing longer than UnreadyAfter),
// sink_stuck (work to do, breaker closed, nothing in flight, for 30 s) and
// sink_send_hung (a send in flight for max(SendHungAfter, 2 * the sink's
// Timeout); SendHungAfter defaults to 1 minute) every tick; Emit marks a
// source blocked for 10 s source_stalled. A source reports its own
// conditions through SetSourceCondition (the pipeline is the sources'
// ConditionSetter): a file source that can read none of its matched files
// has source_unreadable. ReportSources declares both source reasons at 0.
//
// # Warnings
//
// A second set of conditions, the warnings (Warnings, Status.Warnings, the
// gauge logcapturer_component_warning), works the same way (one log line,
// "warning: REASON", when one starts and one, "warning over: REASON", when
// it ends) but never touches readiness: they are problems a restart would
// not fix. The one warning is sink_refusing (refusing.go): every send that
// settles something counts, in a ring of 10 buckets of 30 s (fixed memory),
// the entries it delivered and those the sink refused for good (a
// *sinks.Permanent: all of the batch, or Rejected of it for a partial
// success); retryable failures, refused credentials and max_attempts dead
// letters settle nothing the sink refused and do not count. The committer
// checks every tick: at least 5 sends over the last 5 minutes and more
// refused entries than delivered ones make the sink refusing (state
// SinkRefusing, the warning with the counts and the last refusal); the
// warning ends when that no longer holds. While a sink is refusing its dead
// letters are logged at debug level, not one warn line each.
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
// # Status, lag and rewind
//
// Status (status.go) copies in-memory state under short locks: it opens
// no state.db transaction and reads no WAL, whatever the backlog. A sink's
// state is the first that holds of stopped, unauthorized, circuit_open,
// refusing, retrying, ok; its status also says where it delivers
// (sinks.Destination: never a credential), since when its current run of
// failed sends lasts, when its earliest waiting retry range is due
// (retry.Scheduler.Waiting) and its last refusal. A sink's
// lag counts every entry routed to it that it has not acknowledged: the
// durable blocks after its cursor, less the ranges settled above it, plus
// its retry ranges (dead letters are counted apart). Blocks are not
// entries, so the writer feeds a sparse index (counts.go): per sink, the
// cumulative entries and line bytes routed to it, exact at the head and,
// through a ring of per-block counts, for the newest 16,384 blocks; further
// back at marks every stride blocks (64, doubling so there are at most
// 4,096), interpolated between two marks. A lag is thus exact for a cursor
// within 16,384 blocks of the head, else off by at most one stride's
// entries (LagExact says which). After Start, one goroutine counts the
// blocks after the lowest cursor once, in the background (what some sink
// had not delivered when the pipeline opened; 1.6 s for 2 GiB from the
// page cache, BenchmarkCountsSeed2GiB), so a start on a large backlog
// delivers at once; until it is done, those sinks' lag is not exact;
// a WAL reopen that takes indexes back cuts it back. The committer sets
// logcapturer_sink_lag_entries/_bytes/_blocks from the same function the
// status uses.
//
// RewindToTime, RewindToIndex, RewindToOldest and RewindToNewest
// (rewind.go) move a running sink: the
// target is found by a binary search over segments by their first
// block's first entry time, then block by block inside one segment (about
// log2(segments) + one segment's blocks read; 1.8 ms in a 2 GiB WAL). Retention is
// pinned meanwhile; the sink's reader takes the request at the top of its
// loop, drops the batch it was filling, takes back every batch (so none is
// in flight and every range read is settled), then sets its read position,
// the settled cursor and the entries to skip in the first block; the new
// cursor is committed before the call returns. A forward move counts the
// entries it skips as dropped (reason skipped). A rewind below what the
// lag index covers counts the blocks it rewinds over first (reading them).
// The skip inside the first block is not persisted: after a restart, or a
// retry of that batch, the whole block is sent.
//
// A target outside the WAL is a *RangeError, which says on which side
// (After) and what the oldest and newest entries are.
//
// OpenOffline (offline.go) gives the same status, dead letters and WAL
// entries for a stopped data directory, holding its lock; it refuses a
// directory without state.db and creates nothing. Its Rewind* methods
// write a stopped sink's cursor to state.db under the running pipeline's
// rules (a sink state.db knows, a target from the WAL's first block to its
// end); the block holding a time target is sent whole at the next start.
//
// At wal.max_bytes, FullBlock makes the writer wait (sources block in
// Emit); FullDropOldest deletes the oldest segment and counts, per sink,
// the entries it had not read (dropped_entries_total{reason="wal_full"}).
// The writer raises wal_over_90pct_of_max_bytes while the WAL holds 90% of
// wal.max_bytes or more (checked after each append and when retention
// frees space) and clears it below; waiting at the cap logs nothing else.
//
// # WAL faults
//
// A failed append (a full disk) or fsync is healed by the writer, the only
// goroutine that appends: the syncer does not retry a failed fsync (the
// kernel may have dropped the pages; a second fsync could report them
// written), it tells the writer. The writer calls wal.Log.Reopen, which
// after a failed write cuts our own half-written bytes off in place (no
// free space needed) and after a failed fsync cuts the WAL back to its
// durable index into a new file; then it appends again, under the same
// indexes, every pending block the WAL no longer holds. This equals the
// sources re-reading those lines from their last durable positions, and
// each block is still in the WAL exactly once. Attempts back off from 10 ms
// to 1 s, so ingestion resumes within about a second of the disk having
// space again; sources wait in Emit meanwhile. The condition
// wal_append_failing (detail: the error, with path and errno) is raised at
// the first failure and cleared once the blocks appended by the heal are
// fsynced: one log line at each end, never one per attempt;
// logcapturer_ingest_append_errors_total counts every failed attempt. A
// failing state.db commit is the condition state_commit_failing, retried
// every CommitInterval. A failing segment deletion (retention or
// drop_oldest: tidwall rewrites the first kept segment, which a full disk
// refuses) is wal_retention_failing, counted in
// logcapturer_wal_truncation_errors_total and retried at every pass; it
// clears at the first deletion that works (or when nothing is left to
// delete). If the failure left the WAL needing a reopen, the writer heals
// it at once, whether or not anything is appended. drop_oldest deletes a
// segment only once the positions checkpoint covers its blocks: it has
// the committer commit first (and waits, retrying every 250 ms, while that
// fails), so a crash right after a drop still finds every position. If the pipeline is closed while the WAL is still
// failed, the pending blocks are not in it and their positions were never
// recorded: the sources read them again after the next start.
//
// # Push records and completions
//
// A record with a completion (sources.Record.Done) and no position is a
// push: a receiver (loki_push, OTLP) holds its client's request until the
// completion fires, and there is nothing to read again if it is lost. Its
// completion fires exactly once, on a pipeline goroutine (never one of its
// own), as:
//
//   - nil, from publish, once the fsync covering it has returned (sync:
//     none: once appended; sync: interval: at the next interval's fsync);
//   - ErrNotDurable wrapping the fault, from the syncer at once when the
//     fsync that was to cover it failed (Reopen cuts the WAL back to its
//     durable index, so it is lost for certain), or from the writer's heal
//     when a failed append left it out of the WAL;
//   - ErrClosed, when the pipeline closes with it queued, not yet appended
//     or not durable (the writer stops with the WAL still failing).
//
// Such a record is never appended a second time: the heal takes it out of
// the pending list, the blocks after it take its index (none of them is in
// the WAL yet) and the counts are redone from the WAL's end. Appending it
// again would store it twice once the client, told it failed, sends it
// again, and would hold the client for as long as the fault lasts. When
// Emit returns an error the completion is never called. Completions must
// not block; sources.Acks counts them down for one request, and
// sources.Inflight bounds the bytes a receiver has unacknowledged.
// WALFull (sources.WALFuller) tells a receiver, without blocking, that the
// WAL is at wal.max_bytes under full_policy block, so it answers 429 at
// once instead of holding its client; a source that is a PushReporter has
// its clients in the status (SourceStatus.Push).
//
// Positions come only from records that have one (Record.HasPosition): a
// file's FileID and offset (and, for a file of interleaved streams, the
// lines past the offset already emitted, in Position.Cursor), or a cursor
// alone (Position.Cursor, journald). A cursor is stored in the positions
// bucket like an offset (after the path, behind a NUL: a value written
// before cursors existed reads unchanged), recovered on Open from the
// checkpoint and the blocks after it (once the block format carries it),
// and handed back by SourcePositions. A position without FileID (a cursor
// source's) is never pruned for want of a file: only a newer position of
// the same source replaces it.
//
// Takeover records, before Start, positions handed over from another
// shipper (Promtail) together with a marker naming the handover, in one
// bbolt transaction, at WAL index 0: the source's first block for a file
// supersedes it, and TakeoverDone makes the handover happen once per
// data directory.
package pipeline
