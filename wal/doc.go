// Package wal is logcapturer's write-ahead log: the one place every log
// entry is stored between the sources that read it and the sinks that
// deliver it. It owns the block codec (Block, EncodeBlock, DecodeBlock) and
// the segmented log (Log) built on github.com/tidwall/wal, and it repairs a
// torn tail when a log is opened.
//
// # Records
//
// One record is one Block: the entries one source read in one go, their
// shared stream labels and the source position reached after them. A record
// is framed as
//
//	crc32c(payload) [4 bytes, little-endian, Castagnoli] | payload
//
// and the payload is a block, version 2 (written by EncodeBlock since the
// processing stages; DecodeBlock reads versions 1 and 2):
//
//	version=2 | source | fileID | path | uvarint offset | cursor |
//	uvarint nlabels { name value } | uvarint nentries { entry }
//
//	entry = varint Δtime | uvarint(len(line)<<1 | more) | line [| flags data]
//
// where every string is uvarint-length-prefixed, and each entry's time is a
// signed delta from the previous entry's (the first from 0), so times may
// go backwards. Lines are raw bytes: empty lines, NUL bytes and invalid
// UTF-8 survive. cursor is Position.Cursor ("" for files: one byte).
//
// The block's labels are its stream labels, stored once. An entry whose
// labels are the block's and that has no structured metadata has more=0
// and nothing after its line: it costs nothing more than in version 1,
// except one byte when its length's varint crosses a 7-bit boundary (lines
// of 64–127 and 8192–16383 bytes). Otherwise more=1 and a flags byte says
// what follows, in this order:
//
//	0x01 labels:  uvarint nset { name value } uvarint ndel { name }
//	0x02 the labels of the last entry before it with 0x01 or 0x02
//	0x04 metadata: uvarint n { name value }
//	0x08 the metadata of the last entry before it with 0x04 or 0x08
//
// A label diff turns the block's labels into the entry's: set holds the
// entry's labels the block does not have with that value (added or
// changed), del the names of the block's labels the entry does not have.
// The decoded Entry.Labels is the whole set sorted by name (nil when the
// entry has no diff: the block's labels; empty, not nil, when every label
// was deleted); the tenant is the reserved label TenantLabel like any
// other. Metadata is stored whole, in the entry's order (sorted by name).
// Flags 0, unknown bits, 0x01 with 0x02, 0x04 with 0x08, or a repeat with
// nothing before it to repeat are errors. The encoder writes a diff only
// when the sets differ, a repeat when an entry's labels (metadata) equal
// the last ones written, and never more=1 with nothing after it.
//
// Version 1, written before the processing stages, is the same without
// cursor and with uvarint(len(line)) (no more bit and no per-entry data):
//
//	version=1 | source | fileID | path | uvarint offset |
//	uvarint nlabels { name value } | uvarint nentries { varint Δtime line }
//
// wal/testdata/v1 is a log written by that release; a test opens it.
//
// DecodeBlock verifies the checksum and never panics. It reuses the
// Block's slices: entries' Labels and Metadata live in storage the Block
// keeps for the next decode (entries with equal label sets share one
// slice, found among the last few distinct sets), and names and short
// label values are interned across decodes, so a block of entries with a
// few label sets costs no allocation per entry beyond metadata values.
// The block codec (appendBlock, decodeBlock) works on a payload without
// framing, so a record may one day hold several blocks.
//
// # Files
//
// A Log is a directory of segment files named by the index of their first
// record as 20 decimal digits (00000000000000000001, …). A segment is a
// sequence of tidwall binary entries, uvarint(len(record)) | record, with
// no header or trailer. The last segment, the tail, is the one written; a
// new one is started once the tail reaches Options.SegmentSize. Files named
// NAME.broken, NAME.broken.1, … hold bytes cut off by repair (below).
// NAME.START and NAME.END are tidwall's leftovers from an interrupted
// truncation, resolved by the next Open; a NAME.START.TEMP or NAME.TEMP
// (Reopen's rewrite, below) left by a crash is ignored (and may be
// deleted).
//
// # Invariants
//
//   - Indexes are contiguous: records FirstIndex … LastIndex all exist; a
//     new log has FirstIndex 1 and LastIndex 0, and an emptied log has
//     FirstIndex = LastIndex+1.
//   - No record is empty, and every record carries a CRC32C: Append rejects
//     a record that fails CheckRecord, and Read verifies the checksum of
//     every record it returns.
//   - A record is durable once a Sync that started after its Append has
//     returned, and every record Open or Reopen found is durable when it
//     returns: DurableIndex says how far. Append alone writes to the page
//     cache only (tidwall with NoSync); Sync fsyncs the tail file, and the
//     directory when a segment file was created since the last Sync.
//     tidwall fsyncs a segment before it starts the next one. Open fsyncs
//     the (repaired) tail segment and the directory before it returns:
//     after a kill -9 the tail may exist only in the page cache, and
//     nothing in it may be called durable before it is on disk.
//   - A record's index never changes; TruncateFront only removes a prefix,
//     and Reopen after a failed fsync only removes records after
//     DurableIndex (so LastIndex goes back, never past DurableIndex).
//
// # Repair
//
// tidwall refuses to open a log whose last record is torn, reads a
// zero-filled tail as empty entries, and has no checksum. So Open scans the
// tail segment first (the file tidwall will treat as the tail, START/END
// leftovers included) and stops at the first entry that is empty, runs past
// the end of the file or fails its checksum. Everything from there on is
// written to NAME.broken (or the next free NAME.broken.N), fsynced, then
// cut off; the file and the directory are fsynced, one warning is logged
// and logcapturer_wal_repairs_total / _repaired_bytes_total count it. If
// the .broken file cannot be written (a full disk), the cut goes ahead
// without it and the warning says so: a log that cannot start is worse
// than a lost torn record. The cut can leave the tail empty. Older segments are not scanned: a damaged
// record there is found by Read, which returns a *CorruptionError for it
// (for every record of the segment if the damage hits a length prefix) and
// keeps reading the others.
//
// # Failures
//
// A failed Append or Sync leaves the log failed: Err returns the cause, and
// Append and Sync refuse until Reopen succeeds. Reopen heals by the cause:
//
//   - A failed write (ENOSPC, EDQUOT): the bytes after the last whole
//     record are our own half-written append, not crash damage. They are
//     truncated in place, with no .broken copy and no warning: this needs
//     no free space, so Reopen succeeds on a disk that stays full. Whole
//     records of the failed batch that reached the file stay.
//   - A failed fsync (Sync's, tidwall's of a finished segment, Open's):
//     after it the kernel may have dropped the dirty pages and a second
//     fsync may report them written ("fsyncgate", PostgreSQL 2018), so that
//     file is never fsynced again and every record after DurableIndex is of
//     unknown state. Reopen rewrites the segment holding DurableIndex+1
//     into a new file with only its records up to DurableIndex, verified by
//     CRC (NAME.TEMP, fsync, deletion of the later segments, rename over
//     NAME, directory fsync), then opens that. This needs free space for
//     one segment's durable prefix. If those records do not read back
//     whole, fsynced data was damaged: Reopen fails and keeps failing.
//
// Then Reopen opens the directory as Open does (repair, fsync of the tail
// and the directory), so afterwards DurableIndex = LastIndex, and the
// caller appends again, under the same indexes, the records after
// LastIndex that it still holds. A Reopen that fails leaves the log failed,
// never closed: call it again later. Meanwhile TruncateFront at a segment's
// first index deletes the files below it (retention still frees disk), and
// Readers keep reading: a rewrite renames a file with the same durable
// records over the old one. Close of a log whose fsync failed performs the
// same cut first, so the next Open does not take the records of unknown
// state for durable.
//
// Options.Fsync is a test seam through which every fsync of the Log's own
// goes (tail, directory, .broken and rewrite files); package waltest has a
// fault-injecting one.
//
// # Concurrency
//
// Every method of Log is safe for concurrent use. One mutex serialises all
// calls into tidwall (its concurrent reads race), so Append, Read, Segments
// and TruncateFront exclude each other; FirstIndex, LastIndex and Size are
// lock-free. Sync holds a second mutex and releases the first one before
// it fsyncs, through its own handle on the tail file, so sinks keep reading
// while ingest waits for the disk. TruncateFront, Reopen and Close take
// both.
//
// # Memory
//
// tidwall keeps the whole tail segment in memory (growing it by copying, so
// up to about two segments at a moment) and Log.Read loads an old segment
// whole, caching Options.SegmentCacheSize of them; the cache is cleared
// whenever a segment is finished. A Reader holds only the record it returns,
// and allocates for a record no more than its segment file holds after the
// length prefix, whatever a damaged prefix claims.
// Log.Read users: about (1 + SegmentCacheSize) × SegmentSize. Append hands
// tidwall its records in batches of about 256 KiB (tidwall copies a batch
// before appending it to the tail), so that copy stays small whatever the
// caller's group. Read copies the record into the caller's buffer.
//
// # Lifecycle
//
// Open (create or repair, load, fsync the tail and the directory) →
// Append / Sync / Read / TruncateFront from any goroutines, Reopen after a
// failure (Err) → Close, which fsyncs, closes the files and unregisters the
// metrics; Close is idempotent and a closed directory can be opened again,
// also on the same prometheus.Registerer.
//
// # Caveats
//
//   - A label diff of a few bytes yields a whole label set, so a damaged
//     record that still passes its CRC could make DecodeBlock allocate far
//     more than its size. It refuses a record whose entries would hold more
//     than 16 labels (and metadata pairs) per payload byte plus 4096: a
//     64 KiB block with 200 stream labels and 8,000 empty lines each with
//     a label set of its own would be refused (and skipped by the sinks as
//     a bad record); blocks of real lines are far below that.
//   - Open does not lock the directory: two Logs on one directory corrupt
//     it. The process-wide bbolt lock of the data directory prevents this.
//   - Log.Read of an old segment loads the whole file under the lock (about
//     20 ms for 16 MiB cold) and delays Append: it is for tools and tests.
//     Sinks and recovery read through a Reader, which streams records with
//     pread, loads nothing and takes no lock.
//   - TruncateFront rewrites the segment holding the new first index, so
//     truncating at a segment's FirstIndex costs one segment copy and needs
//     that much free disk space, even when the disk is full.
//   - After an Append error tidwall's in-memory tail no longer matches the
//     file, so Reopen drops that tidwall.Log without closing it (its Close
//     fsyncs the failed file); its file descriptor is closed by the garbage
//     collector. tidwall's own fsyncs (of a finished segment, in Close) do
//     not go through Options.Fsync. An Append error that is not a failed
//     write(2) or open(2) is taken for a failed fsync.
//   - tidwall's TruncateFront copies the first kept segment, which needs
//     free space: on a full disk retention of a healthy log fails (and is
//     retried); only a failed log deletes whole segments without copying.
//   - Records hold no index. Damage to a length prefix in an old segment
//     usually makes the segment unparsable (every record in it reads as
//     *CorruptionError), but in unlucky cases it parses into whole,
//     checksummed records at shifted positions, which Read then returns
//     under the wrong index.
//   - Only the tail is repaired on Open. A segment before it whose end was
//     lost (the file system did not keep tidwall's fsync) is not cut; its
//     lost records read as *CorruptionError.
package wal
