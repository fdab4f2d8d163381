// Package journald is the journald source (type: journald): it reads the
// systemd journal through a supervised journalctl child, without cgo, as
// Vector, Filebeat and the OpenTelemetry Collector do.
//
// # The child
//
// One goroutine (runner.run) starts
//
//	journalctl --output=export --follow --no-tail --no-pager --quiet
//	    [--directory=PATH | --file=F... | --root=ROOT] [--merge] [--priority=P]
//	    (--after-cursor=CURSOR | --since=@SECONDS.MICROS | nothing) [-- MATCHES...]
//
// in a process group of its own (so a wrapper's children die with it) with
// Pdeathsig SIGKILL (so it dies with us, kill -9 included), reads its
// stdout through one 64 KiB buffer, and hands blocks to the Emitter from
// the same goroutine. --no-tail matters: with --follow, systemd 252 prints
// only the last 10 entries without it, --after-cursor or not. Without a
// cursor the start is since: --since with the time of the source's first
// start for "now" (kept for later restarts, so nothing is skipped while
// journalctl fails), the configured time, none for "beginning", or now
// minus max_age.
//
// When journalctl exits (or cannot start, or prints something that is not
// the export format, or Emit fails), the group is killed and reaped, the
// restart counted (logcapturer_journald_restarts_total) and logged once
// with the exit status and the end of stderr, ConditionStalled raised with
// that reason (a readiness reason of source/NAME), and journalctl started
// again after a backoff: MinBackoff doubling up to MaxBackoff, back to the
// start once a child has delivered an entry or run HealthyAfter. The
// condition ends when the new child delivers an entry or has run
// HealthyAfter (a read deadline on the pipe, set only while down). A
// cursor journalctl refuses (exit 1, "Failed to seek to cursor": the only
// signal it gives) is logged once and dropped; the next start uses since.
// A well-formed cursor no longer in the journal is journalctl's business:
// it seeks by the cursor's time.
//
// # Positions
//
// Every block's wal.Position is {FileID: "journal", Path: the journal read,
// Cursor: the __CURSOR of the last entry read}. The pipeline stores it
// with the block and recovers it on restart (sources.Deps.Positions), so
// a restart resumes after the last durable block: an entry is in the WAL
// once, whenever the process dies. Nothing is recorded before Emit takes
// the block, and Emit returning is all the source waits for. Cursors are
// opaque: never parsed or compared. Entries skipped (max_age, no MESSAGE)
// still move the cursor; a block may then hold no entries.
//
// On the first start of a data directory with a Promtail takeover, a
// source whose promtail_job names a Promtail journal job gets Promtail's
// saved cursor as its stored position (Options.TakeoverCursor), so it
// starts right after the last entry Promtail shipped.
//
// Blocks are handed over when 64 KiB of lines are gathered or when the
// buffered output is used up, before waiting for more: so a quiet journal
// gets its entries into the WAL at once and a busy one in large blocks.
// Emit blocks while the WAL is behind; the source then stops reading, the
// pipe fills and journalctl waits: its output is read only as fast as the
// WAL takes it.
//
// # The export format
//
// exportReader reads https://systemd.io/JOURNAL_EXPORT_FORMATS/: entries
// separated by an empty line; NAME=value fields, and binary fields (NAME,
// newline, a little-endian uint64 length, the bytes, newline) kept byte
// for byte. Repeated fields are kept in order (the line, labels and JSON
// use the last value, as Promtail's map of the fields does). Address fields other than __CURSOR,
// __REALTIME_TIMESTAMP, __MONOTONIC_TIMESTAMP, __SEQNUM and __SEQNUM_ID
// are skipped, as the specification asks. An entry needs __CURSOR and
// __REALTIME_TIMESTAMP (the entry's time, UTC). Memory is bounded: an
// entry's names and values over max_entry_bytes are read through and
// discarded (counted), a field name is at most 255 bytes and a binary
// length at most 1 GiB, else the stream is not the export format. It never
// panics (FuzzExport, FuzzExportRoundTrip).
//
// # Entries
//
// The line is MESSAGE, or with json: true the entry as a JSON object as
// Promtail's json: true writes it (its data fields, every value a string,
// as encoding/json marshals a map: keys sorted, HTML and control
// characters escaped, invalid UTF-8 as \ufffd). The block's labels are the
// configured ones; each entry's label set adds the field labels
// (Options.FieldLabels over DefaultFieldLabels; PRIORITY as Promtail's level
// names) and its metadata the Options.Metadata fields (wal.Entry.Labels,
// Metadata; stored by block format version 2).
//
// # Status and metrics
//
// Files returns one row: the journal, open or unreadable (journalctl down:
// why, since when), the cursor of the last block handed over and its
// entry's time. Metrics (label source=NAME): logcapturer_source_entries_total,
// _blocks_total and _errors_total{reason: journalctl, format, emit, cursor}
// (shared with the file tailer), logcapturer_journald_read_bytes_total,
// _restarts_total, _skipped_entries_total{reason: too_large, no_message,
// max_age} and _up.
//
// # Stages
//
// With pipeline_stages (or a relabel hook) each entry goes through a
// sources.StageRunner (stages.go): its line, its labels (the configured
// ones and those from fields) and metadata as above, and, only when a
// relabel hook is set, Promtail's internal labels __journal_<field name
// lowercased> for every data field (the last value of a repeated one; not
// the address fields __CURSOR, __REALTIME_TIMESTAMP and the like, which
// go-systemd's GetEntry, Promtail's reader, does not put among the
// fields) and __journal_priority_keyword; they are removed
// after the hook, before the stages. A block's cursor is the cursor of the
// last entry whose output is in the block or that was dropped (by the
// stages, max_age or for lacking MESSAGE), never past an entry the stages
// hold (a multiline block under way): then it is the cursor of the entry
// before the first held one, so --after-cursor yields that entry again.
// While they hold entries and journalctl is quiet the stages are ticked
// every 250 ms (max_wait_time). When journalctl exits the stages hand on
// what they hold (a multiline block is cut there) before it is started
// again.
//
// # Lifecycle
//
// New (or Options.Open) checks the options; Start starts the goroutine;
// Close cancels it (a pending Emit returns, the read is cut by a deadline),
// kills and reaps journalctl, waits, unregisters the metrics, and is
// idempotent.
//
// # Caveats
//
//   - Of a journal never read (no cursor yet), an entry the stages hold
//     has no cursor before it: if the process dies while they hold it,
//     the next start reads from since (see the next caveat).
//   - The since "now" of a journal never read is the process's start: if
//     it dies before the first block is durable, the next process starts
//     at its own now, and what was logged in between is not read.
//   - journalctl reads a corrupted journal file up to the damage and skips
//     a file that is not a journal (measured): the source does not see it.
package journald
