// Package sources reads logs into blocks for the write-ahead log: the Source
// interface and the plain file tailer (File).
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
// acknowledgement beyond Emit returning.
//
// Emit blocks while the WAL is behind: that is the backpressure, and the
// log files themselves hold the backlog. A record's Data belongs to the
// Emitter once passed. A source calls Emit from one goroutine, in read
// order, so the blocks of one file reach the WAL in order.
//
// Entry times are taken at the source, once per block, in UTC nanoseconds
// (FileOptions.Now). Nothing downstream assigns an entry's time.
//
// Sources have a Start(ctx)/Close() lifecycle: Start starts the goroutines
// and returns at once; Close cancels them (a pending Emit returns ctx.Err()),
// waits for them, releases files and metrics, and is idempotent.
//
// # The file tailer
//
// A File source owns one goroutine, one fsnotify watcher and one read
// buffer, whatever the number of files:
//
//   - Discovery. The globs are expanded at start and every PollInterval.
//     The watcher watches the globs' directories (never files: a watch on a
//     file dies with a rename) and is only a wake-up: a WRITE to a matching
//     file starts a read round, a CREATE, RENAME, REMOVE or CHMOD a rescan,
//     a watcher error (a queue overflow) both. The periodic rescan catches
//     whatever inotify missed and directories that appear later. A glob
//     that matches nothing at start is warned about once.
//   - Opening. A match that is not a regular file (a directory, FIFO,
//     socket, device) is skipped with one Warn. A file that cannot be opened
//     (permission denied) is warned about once, counted and retried silently
//     at each rescan. A file is opened at its stored position if there is
//     one (a position past the file's end means another file now: read from
//     0, and logged); else, only in the first scan, at its end when StartAt
//     is "end"; else at 0. So a file that appears while the source runs is
//     read from its beginning.
//   - Reading. A read round reads each open file from its offset with
//     ReadAt, one block's worth (BlockBytes) at a time, up to 4 MiB per file
//     per round so that one hot file cannot starve the others; rounds repeat
//     until no file has more, then the goroutine waits. Lines are split on
//     '\n', which is dropped; every other byte is kept as is ('\r', NUL,
//     invalid UTF-8). An unterminated last line is not emitted and the
//     offset stays at its start: it is read again next time, so there is no
//     per-file buffer. A line longer than MaxLineBytes is emitted in chunks
//     of MaxLineBytes, as soon as MaxLineBytes+1 bytes of it are there.
//   - Identity. A file is identified by device and inode (fileIdentity).
//     When a path leads to another identity (rotation by rename and create)
//     or to nothing (deletion), the old file stays open: it is read to its
//     end and closed once it has been gone for a PollInterval, which gives
//     writers time to move to the new file. Its unterminated tail, if any,
//     is then emitted as a last line. The new file is read from 0. A file
//     renamed to another matching name keeps its offset. A file shorter than
//     its offset was truncated: it is read again from 0, and counted.
//
// Labels are the configured ones plus filename=<path>, sorted by name.
// Metrics are registered with a source=<name> label and unregistered by
// Close.
//
// # Caveats
//
// Left for the next issue:
//
//   - Identity by fingerprint (a hash of the first bytes) instead of
//     device and inode: inodes are reused, so a stored position may be
//     applied to a different file that got the inode of a deleted one, and
//     a file copied elsewhere is read again.
//   - copytruncate: a truncation is seen only when the file is shorter than
//     the offset when looked at; if the writer refilled it past the offset
//     first, the new head is lost. Fingerprints detect this.
//   - Docker json-file and CRI decoding (timestamps from the line, stream
//     labels, partial-line reassembly) and multiline grouping. The split
//     into lines here is the layer those decoders sit on.
//   - Globs with wildcards in directory names (/var/log/pods/*/*.log):
//     the matching directories are watched, but a new matching directory
//     is found by the next rescan (up to PollInterval later), as nothing
//     watches its parent.
//   - StartAt "end" starts at the file's size, which may be mid-line.
//   - Files are identified with syscall.Stat_t: Unix only.
package sources
