// Package sources reads logs into blocks for the write-ahead log: the Source
// interface, the StageRunner that runs a source's pipeline_stages, and the
// file tailer (File) for plain, Docker json-file and Kubernetes CRI logs,
// with multiline grouping and timestamp parsing.
//
// # The Source contract
//
// A source reads entries, groups the entries of one read of one file into a
// block (wal.Block) and hands the encoded block to an Emitter, the
// pipeline's ingest stage, as a Record. Every block carries the position the
// source reached after it: the file's identity (FileID) and the offset of
// the next byte to read. Because the position is inside the block, it
// becomes durable exactly when the block does: on restart the pipeline
// recovers each file's position from the newest block of the source in the
// WAL and passes them back (FileOptions.Positions). So a line is in the WAL
// exactly once whatever moment the process died, and a source never waits
// for an fsync, never saves a position of its own, and never needs an
// acknowledgement beyond Emit returning. A block may hold no entries: it
// then only records a position reached without reading (a copy resumed at
// its original's offset, see Copies); the pipeline stores it like any
// block and sinks settle it at once.
//
// Emit blocks while the WAL is behind: that is the backpressure, and the
// log files themselves hold the backlog. A record's Data belongs to the
// Emitter once passed. A source calls Emit from one goroutine, in read
// order, so the blocks of one file reach the WAL in order.
//
// Entry times are taken at the source, in UTC nanoseconds: from the record
// (Docker, CRI), parsed from the entry (FileOptions.Timestamp), or the read
// time (FileOptions.Now, read once per block), each entry so timed 1 ns
// after the one before when the clock has not moved (EntryClock: Loki
// keeps one of two entries of a stream with the same time and line, so a
// line repeated within one read would be stored once). Nothing downstream
// assigns an entry's time.
//
// A source with no position to read again from (a push receiver) sets
// Record.Done instead, and answers its client only when the completion
// fires: nil once the fsync covering the record returned, or the reason it
// never will be (the client is to retry; the pipeline never appends such
// a record twice). One request's records share an Acks (Add per record,
// Wait before answering), and the receiver bounds what it holds with an
// Inflight: TryAcquire the request's bytes before emitting (false: answer
// 429 at once), released by the Acks when the last completion fired; an
// Emitter that is a WALFuller (the pipeline) says when the WAL is at its
// cap under full_policy block, and the receiver answers 429 before it
// reads the body. sources/receiver is that receiver, shared by the push
// types (loki_push: sources/lokipush); PushStatus is what they show. No
// goroutine waits per record or per request beyond the HTTP server's own.
// A push record has no position and creates none. A source positioned by
// cursor (journald) puts it in Position.Cursor; it is recovered like an
// offset and handed back in Deps.Positions. A file position uses the
// Cursor only for the skips of interleaved streams (below).
//
// Sources have a Start(ctx)/Close() lifecycle: Start starts the goroutines
// and returns at once; Close cancels them (a pending Emit returns ctx.Err()),
// waits for them, releases files and metrics, and is idempotent.
//
// Every kind of source counts logcapturer_source_entries_total,
// logcapturer_source_blocks_total and logcapturer_source_errors_total{reason}
// with the one definition of them, Counters (NewCounters), and registers
// its collectors with RegisterMetrics: labelled source=<name>, all or none,
// so that sources of every kind share one registry.
//
// # The file tailer
//
// A File source owns one goroutine, one fsnotify watcher and one read
// buffer, whatever the number of files. FileOptions.Type says how lines
// are decoded: "file" (plain), "docker" (json-file) or "cri".
//
// # Kubernetes pods
//
// A source of type kubernetes is a File source (Type cri, or file for
// format raw) with FileOptions.Kubernetes set: it owns a
// kubepods.Discovery (started and closed with it) that lists the node's
// pods, and its scan asks kubeFiles.decide about each matched file not
// open yet. The file's directory (<namespace>_<pod>_<uid>/<container>)
// names the pod; Prometheus's pod discovery's target labels for the
// container run through the source's relabel_configs once per file
// (Promtail's target relabeling), and the first target kept whose __host__
// (if set) is the node and whose __path__ matches the file (a target
// without __path__ reads the file only when no rule sets __path__) gives
// the file's labels: the result's labels without "__", the static labels
// and filename. Without rules: namespace, pod and container. A pod not
// known waits for a list made after its directory was first seen (asked
// for at once); then the file is left alone, unless its pod is in the pod
// list kept in the data directory (Deps.DataDir, KubernetesCacheFile;
// kubepods.Options.CacheFile), loaded at start: deleted while logcapturer
// was stopped, its files are read to their end with its labels; or, when
// the kept list does not have the pod, a stored position shows it was read
// before a restart: it is read to its end with its directory's labels. The kept
// list also labels files at once after a restart, before the first list
// and while lists fail. A rotated log
// (<n>.log.<YYYYMMDD-HHMMSS>, when the globs take them) is read only with
// a stored position (rotated while logcapturer was stopped), or when it
// appeared while running without having been read; its __path__ match
// and filename are those of <n>.log, so its lines continue that stream.
// Files reports the matched files it does not read as FileWaiting (pod
// not listed yet) or FileSkipped, with why. When the last list found
// no pod at all on the node, one warning says to check the node name.
// A write to a file decided against calls for no rescan; each good list
// calls for one (kubeListed). A new file at a decided path (a rotation)
// is not a startup file for StartAt. Decisions are kept per
// path until the next list; an open file keeps its labels until it is
// closed. While lists fail, the source raises ConditionStalled (once) and
// counts logcapturer_source_errors_total{reason="kubernetes_api"}
// (reason kubernetes_cache: a failed write of the kept list);
// logcapturer_source_kubernetes_pods is the last list's pod count (the
// kept list's until the first list).
//
//   - Discovery. The globs are expanded at start and every PollInterval.
//     The watcher watches the globs' directories (never files: a watch on a
//     file dies with a rename) and is only a wake-up: a WRITE to an open
//     file marks that file for the next read round (so a write to one of a
//     thousand files reads one file); a CREATE, RENAME, REMOVE or CHMOD, or
//     a WRITE to a file not open, calls for a rescan; a watcher error (a
//     queue overflow) for both, and is logged once and counted, as is a
//     directory that cannot be watched (the inotify watch limit). The
//     periodic rescan catches whatever inotify missed and directories that
//     appear later. A glob that matches nothing at start is warned about.
//   - Opening. A match that is not a regular file is skipped with one Warn;
//     one that cannot be opened (permission denied) is warned about once,
//     counted, shown as unreadable (see Status) and retried at each rescan;
//     when it opens, one Info line says it is readable again. A file is
//     opened at its stored position if one matches it (see Identity), else,
//     only in the first scan, at its end when StartAt is "end", else at 0:
//     a file that appears while the source runs is read from its
//     beginning. The startup scan logs one Info line ("tailing files":
//     how many, from where, how many unreadable), whatever the number of
//     files; each file's "tailing file" line is at Debug.
//   - Reading. A read round reads each marked (or, after a rescan, every)
//     open file from its offset with ReadAt, one block's worth at a time,
//     up to 4 MiB per file per round. Lines are split on '\n', which is
//     dropped; every other byte is kept ('\r', NUL, invalid UTF-8). A line
//     longer than MaxLineBytes is emitted in chunks of MaxLineBytes; every
//     cut is counted (lines_split_total) and logged once per open file.
//     A stat or read of an open file that fails is warned about once,
//     counted, and shows the file unreadable until a read succeeds. Nothing is buffered per file: an entry that is not finished
//     (an unterminated line, a multiline entry or a partial line under way)
//     is not emitted and the offset stays at its start, so it is read again
//     next time. Memory is the one read buffer (max(BlockBytes,
//     MaxLineBytes+4 KiB)) plus, for decoded types, working buffers of the
//     same size, whatever the number of files.
//   - Entries and positions. The position after a block is always a point
//     from which reading again yields exactly the entries not emitted yet:
//     the start of the first unfinished entry (multiline), of the first
//     unfinished partial-line group of any stream (Docker, CRI), or of the
//     unterminated last line. So a multiline entry is never split, lost or
//     repeated by a crash. Blocks hold entries of one stream and one
//     parse_error value (labels are per block).
//   - Interleaved streams (Docker, CRI). An entry of one stream may begin
//     before the start of another stream's entry still under way and end
//     after it (stderr's stack trace around a line of stdout, or 16 KiB
//     partial records of both). The position is that start, and the file
//     is read again from it; the lines after it of entries emitted
//     already are skipped, not shipped a second time: per stream, the
//     tailer keeps where its last emitted entry ended, and each block's
//     position records it in Position.Cursor ("skip" then " until
//     len:stream" per stream), so a restart from that position skips them
//     too. With pipeline_stages, a block records them only when its
//     position is the tailer's offset (the stages hold no entry): at the
//     start of an entry they hold, the lines after it are read again.
//     Docker and CRI write two streams; a file that names more (not
//     theirs) has at most 8 tracked at once: for a ninth, the streams with
//     nothing under way are forgotten, and if none is, the entry and
//     partial line of the one that began first end there, as at max_lines.
//   - Docker. Each line {"log","stream","time"} is decoded (a small JSON
//     scanner, no allocation per line); "log" without its final '\n' is a
//     partial line (Docker cuts at 16 KiB), joined with the next records of
//     the same stream; the entry time is the record's. Labels: stream,
//     container_id (the directory name), container_name and image from the
//     container's config.v2.json when readable (read at each open of the
//     log, at most 1 MiB; kept with the open file). With PromtailLabels
//     (a converted Promtail docker_sd_configs) instead Promtail's
//     __meta_docker_container_id, _name ("/name"), _label_<name>
//     (strutil.SanitizeLabelName) and per entry
//     __meta_docker_container_log_stream, for Relabel; the entries always
//     run through the StageRunner, which removes the "__" labels, and a
//     line's trailing '\r's go as in Promtail. A line that is not such an
//     object is shipped raw with parse_error="true" and counted
//     (errors_total{reason="parse"}).
//   - CRI. "TIME STREAM P|F MESSAGE": P lines are joined with the next of
//     the same stream; the time is the record's. Labels: stream, and
//     namespace, pod, container from /var/log/pods/NS_POD_UID/CONTAINER/N.log
//     (or /var/log/containers/POD_NS_CONTAINER-ID.log). Bad lines as for
//     Docker.
//   - DecodeLine and FileLabels give one line's decoding and a path's
//     labels as the tailer does them, for logcapturer pipeline test.
//   - Multiline (any type, per stream). An entry is a line matching
//     Multiline.Start and the lines after it that do not; it ends at the
//     next start line, at MaxLines lines, before it would span more than
//     MaxLineBytes of the file (counted as a split), or, at the end of the
//     file, when no line came for MaxWait. Joined lines keep their '\n'
//     between them. MaxWait also ends a partial line never completed.
//   - Timestamps. With Timestamp set, each entry's time is parsed from its
//     first line (Regex, group ts) or from a top-level JSON field, with
//     Layout, in Location when the text has no zone (default: the host's
//     zone), and stored as UTC. An entry without a parsable time keeps its
//     read time (Docker, CRI: the record's time) and is counted
//     (errors_total{reason="timestamp"}).
//
// # Stages (StageRunner)
//
// A source runs its pipeline_stages (package stages, Promtail's syntax)
// through a StageRunner, the one piece every source type shares.
// NewStageRunner(deps, StageOptions) parses Deps.PipelineStages and
// registers the metrics (logcapturer_pipeline_entries_dropped_total,
// logcapturer_pipeline_errors_total, logcapturer_source_streams,
// logcapturer_pipeline_streams_over_limit_total, with source=<name>). A
// source makes one StageStream per origin with a position of its own (a
// file; the journal) with its block labels, and hands each entry to Add
// with Start (the position to read again from to get it) and End (the
// position after it). Add gives the entry the next sequence number (Seq),
// sets its labels (the stream's, plus the entry's own such as Docker's
// stream), runs StageOptions.Relabel if set (false drops it, counted as
// "relabel"; Relabel builds the hook of a source's relabel_configs, which
// cmd passes to every source type as Deps.Relabel, with Prometheus's
// relabel package and a cache of results per input label set), removes the labels starting with "__" but the tenant
// (Promtail's order), and runs the stages. What they hand on, now or at a
// later Add, Tick or Flush, goes to the stream of the entry's first line:
// its labels are the block's when equal, else the whole set, sorted
// (wal.Entry.Labels, the tenant as wal.TenantLabel), its metadata sorted.
// The stages hand entries on in Seq order; so everything before the first
// held Seq is settled (in the stream, or dropped) and StageStream.Position
// is the Start of the stream's first entry still held, or else the End of
// its last one: a block whose position it is covers the entries dropped,
// and reading again from it yields exactly the entries not in the WAL.
// Pending returns the block under way (entries, position; nothing when
// neither changed), Emitted forgets it once Emit accepted it; a refused
// block stays and is emitted again before the origin is read further.
// Tick (every 250 ms while entries are held: multiline max_wait_time) and
// Flush (an origin gone for good) release held entries; Dirty lists the
// streams that got entries. Close releases the stages (Stop, from any
// goroutine, ends a limit stage's wait); held entries are not written:
// the positions make the next start read them again. A new source type
// uses it in a few lines: NewStageRunner in Open, NewStream per origin,
// Add per entry, then Pending/Emit/Emitted for each Dirty stream.
//
// max_streams (Deps.MaxStreams, default 1,000) bounds the label sets the
// runner has handed on in the last hour (forgotten after an hour without
// an entry): an entry with a new one past the limit keeps its stream's
// labels and its tenant, the labels the stages added or changed become
// metadata, and the source reports WarningStreamsOverLimit to its
// ConditionSetter (a warning, not a readiness reason) until a minute
// passes without such an entry.
//
// The file tailer with stages (tailstages.go) reads and decodes as without
// them (the assembler, including the multiline and timestamp options) and
// hands each entry to the runner, one stream per open file. A file's read
// offset then runs ahead of the position its blocks record while the
// stages hold its entries. A file is not closed (gone, idle, or to free a
// descriptor) while the stages hold entries of it or its block waits for
// the Emitter; a gone file read to its end flushes the stages.
//
// # Configuration and source types
//
// A source type owns its options, as a sink type does: config decodes the
// keys every source has (name, type, labels, sinks, pipeline_stages) and
// hands the rest of the entry to the options the type's
// config.SourceType.New returned (a struct with yaml tags and defaults),
// then runs their Check, which reports every problem at its key's line
// (config.Check.Problem, or ProblemAt for a line the type found itself, in
// pipeline_stages say). The options implement Opener: cmd opens each
// configured source with Open(Deps), handing it the common keys, its
// recovered positions (Deps.Positions), the Emitter and the
// ConditionSetter. A reload compares sources with config.Source.Equal, so
// options must compare by value (reflect.DeepEqual) or have an Equal
// method.
//
// FileSourceType, DockerSourceType, CRISourceType and KubernetesSourceType
// register the tailer's four types; their options are a FileConfig (paths,
// exclude, start_at, max_line_bytes, poll_interval, max_open_files,
// close_inactive, fingerprint_bytes, multiline, timestamp; docker, cri and
// kubernetes default their paths; kubernetes adds kubernetes and format). FileConfig.Check reports what config used to check for every
// source (globs, start_at, sizes) and what only this package knows (a
// label the type sets itself, a multiline or timestamp regex that does not
// compile, a timestamp regex without a ts group, an unknown zone).
// FileOptions.Validate, which NewFile runs, reports every problem too, one
// "key: message" a line, for options built in code.
//
// Adding a source type (syslog, say) is one folder and one line:
//
//  1. sources/syslog: a Config struct with yaml tags, its defaults in the
//     constructor the SourceType's New calls, a Check(*config.Check) that
//     validates every key (and, if it names files, CheckFiles), and
//     Open(sources.Deps) (sources.Source, error), which builds the source.
//     Export `func SourceType() config.SourceType`.
//  2. cmd/logcapturer/run.go: one line in sourceTypes().
//  3. Documentation: the keys in config/doc.go's schema (and README.md).
//
// Nothing else changes: config, pipeline and the admin API know source
// types only through these interfaces. The type folder imports sources
// (Record, Emitter, Deps, Inflight), wal and config, never pipeline.
//
// # Identity
//
// An open file is known by device and inode (an inode cannot be reused
// while a descriptor holds it). A position's FileID names more than that:
// "dev-ino-n-hash", the CRC-64 of the file's first n bytes, n being
// min(offset, FingerprintBytes). So:
//
//   - On restart a stored position is applied to a file with that device
//     and inode only if the file still starts with the n bytes that were
//     read: a renamed file (app.log -> app.log.1 inside the glob) resumes
//     where it was, without reading again; an inode reused by a new file,
//     or a file truncated and rewritten while logcapturer was stopped,
//     fails the check and is read from 0 (counted as
//     errors_total{reason="position"}). The furthest matching position of
//     a file wins.
//   - A file shorter than FingerprintBytes gets a new FileID with each
//     block (its hash covers the bytes read so far); once it grew past
//     FingerprintBytes its FileID is stable. Every form is matched on
//     restart, so a file that was short when the process died and grew
//     since is still found. FileIDs of the older "dev-ino" form are
//     applied if not past the file's end.
//   - While running, a file is truncated when it is shorter than its
//     offset or when its first n bytes changed (checked whenever its size
//     changes): it is read again from 0, and counted. This is how
//     copytruncate rotates, so it is one Info line per truncation (naming
//     the copies that resume, see Copies), not a warning.
//
// # Copies (copytruncate)
//
// logrotate's copytruncate copies app.log to a new file, app.log.1, then
// truncates app.log. A file about to be read from 0 (no stored position)
// whose first FingerprintBytes hash like the head of another file is taken
// for a copy of that file's content, as Vector identifies files by a
// checksum of their first bytes (counted in
// logcapturer_source_copies_total):
//
//   - A copy of a file tailed now (seen before the truncation) is not read
//     while that file is; when that file is truncated, closed or parked,
//     the copy resumes at the offset that file had then.
//   - A copy of a file truncated in the last few scans (seen after the
//     truncation) resumes at the offset the truncated file had; so does, in
//     the first scans after startup, a copy of a file with a position
//     recovered from the WAL (copied while logcapturer was stopped).
//
// The offset is capped by the copy's size. The copy records its position at
// once with a block without entries, so a restart resumes it by its own
// FileID even after the original's old position was pruned. So with the
// copies inside the globs (app.log*), the lines written after the last
// read of app.log and before the copy are read from the copy, nothing is
// read twice, and only the lines written between the copy and the
// truncation, which are in neither file, can be lost (fewer if the source
// read them from app.log before the truncation). The decision is made at
// the file's first read: a file shorter than FingerprintBytes then is never
// a copy (a short head, a banner line, is too often shared), so a copy of
// a file under FingerprintBytes is read from its beginning. Two files with
// the same first FingerprintBytes are the same content to the source: the
// second is not read from its beginning.
//
// # Rotation, deletion and descriptors
//
// When a path leads to another file (rename and create) or to nothing
// (deletion), the old file stays open and is read to its end through the
// handle, even while the Emitter blocks; every read round reads it (a write
// to it under a name outside the globs names no file the source knows). It
// is closed once it has been gone and has not grown for a PollInterval,
// its unterminated tail then emitted as a last line; a last fstat just
// before the close sends it back to be read if it grew since the read
// that found its end.
// logcapturer_source_files_deleted_open counts such files. A file renamed
// to another matching name keeps its offset. A gone file closed while it
// still has a name (renamed out of the globs, or missed by a scan that
// listed the directory in the middle of a rotation, between app.log.1 ->
// app.log.2 and app.log -> app.log.1) keeps its position for a few scans:
// found again, it resumes there instead of being read again. Idle files
// (no growth for CloseInactive) are closed and reopened, at their
// position, when their size or mtime changes. MaxOpenFiles bounds the
// descriptors: a file that needs one takes it from the open file idle the
// longest (which is reopened when it grows); if none is idle it waits
// (errors_total{reason="max_open_files"}). Gone files are never closed
// before they are read to the end.
//
// Labels are the configured ones plus filename=<path> and the type's
// labels, sorted by name. Metrics are registered with a source=<name>
// label and unregistered by Close.
//
// # Status
//
// File.Files reports every open, idle or unreadable file: path, FileID,
// offset, size at the last stat, lag_bytes and state (open, draining once
// its path no longer leads to it, idle once closed by close_inactive or
// max_open_files, unreadable while it cannot be opened or read). An
// unreadable file also has its error and since when it fails; one that
// never opened has no FileID, offset 0 and the size of the scan's stat.
// The tailer publishes it at the end of each read round under a mutex of
// its own (status.go), one pass over the files like the sweep; a caller
// copies a short list and never waits for file I/O. The same pass sets
// logcapturer_source_lag_bytes to the sum of the files' lag_bytes
// (Promtail's file_bytes_total - read_bytes_total, per source): it keeps
// its value while the tailer waits to hand a block over (the pipeline's
// source_stalled says so).
//
// While the source has files and every one is unreadable, it reports
// ConditionUnreadable (source_unreadable) to FileOptions.Conditions, the
// pipeline, which makes it a readiness reason of source/NAME with the
// first error as detail; it is cleared when a file is readable (the
// unreadable one opens, or another appears). The source calls Conditions
// only when the condition or its detail changes, never per rescan.
// FileOptions.Open replaces the open of a matched file: a seam for tests,
// which run as root where permission bits do not stop reads.
//
// # Caveats
//
//   - copytruncate can lose lines, as with every tailer: the lines written
//     between the copy and the truncation are in neither file. With the
//     copy's name outside the globs, the lines written after the source
//     last read the file and before the copy are only in the copy, and lost
//     too; inside the globs (app.log*, exclude: ["*.gz"]) they are read
//     from the copy (see Copies). If the truncated file is written past the
//     old offset before the source looks again and starts with the same
//     FingerprintBytes as before (a fixed banner), the truncation is not
//     seen and the new head is skipped. Prefer rename and create
//     (logrotate's default).
//   - With a glob that does not match the rotated names (app.log rather
//     than app.log*), a file renamed away while logcapturer is stopped is
//     not read any more: its last lines are lost. So is a file created and
//     rotated away between two scans (while the Emitter blocks, or while
//     the source is behind). Put the rotated names inside the glob and
//     exclude the compressed ones (paths: [app.log*], exclude: ["*.gz"]):
//     the source does not decompress.
//   - FileIDs include the device number: a file system that comes back
//     with another device number after a reboot makes its files new files
//     (read again by StartAt).
//   - StartAt "end" starts at the file's size, which may be mid-line.
//   - Positions are never forgotten by the source; the pipeline keeps the
//     newest of each file (device and inode) while the file exists under
//     any name in its directory or a source reports it (see
//     FileFinder).
//   - Files are identified with syscall.Stat_t: Unix only.
//
// # Taking over another shipper's positions
//
// FileConfig.TakeoverPosition turns an offset Promtail recorded for a path
// (Promtail stores nothing else) into the position the source would have
// stored itself, after checking the file is still the one Promtail read:
// a regular file at least that long, a newline right before the offset,
// and, where statx gives a birth time, born no later than Promtail's last
// save; otherwise a *Mismatch says why. FileConfig.Tails says which source
// a path belongs to. FileConfig.TakeoverDocker does the same for a docker
// source and the position Promtail's docker_sd_configs target stored (the
// Unix second of the last entry it sent): the container's json-file log
// resumes at its first record of that second or later. cmd records the
// positions with pipeline.Takeover.
package sources
