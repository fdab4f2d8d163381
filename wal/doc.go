// Package wal is logcapturer's write-ahead log: the one place every log
// entry is stored between the sources that read it and the sinks that
// deliver it. It owns the block codec (Block, EncodeBlock, DecodeBlock) and
// the segmented log (Log) built on github.com/tidwall/wal, and it repairs a
// torn tail when a log is opened.
//
// # Blocks, records and indexes
//
// A block is the entries one source read in one go, their shared stream
// labels and the source position reached after them. Blocks are numbered by
// contiguous indexes, and everything above this package (sink cursors,
// retry ranges, dead letters, positions, rewinds) addresses blocks, and
// entries within a block. A record is what tidwall stores: since format 3,
// the blocks of one group commit (an Append), so that at high rates each
// tidwall segment receives one large record, which it allocates once,
// instead of many small ones, which it appends one by one to a buffer
// grown by copying (about 5 bytes allocated and 4 copied per byte logged).
// A group record is
//
//	crc32c(head) [4 bytes, little-endian, Castagnoli] | head | block…
//	head = 3 | uvarint first | uvarint n | n × uint32 len(block) [little-endian]
//
// where first is the index of its first block and each block is framed as
// below, with its own checksum, so a damaged block costs that block only.
// The head's checksum covers the head; the blocks' lengths add up to the
// record. A group record of n = 0 is a marker: TruncateFront writes one
// when it empties the log, so that the next index survives a reopen.
// Records written before format 3 hold one framed block each (the byte
// after the checksum is the block's version, 1 or 2), and that block's
// index is the record's own tidwall index: both numberings agreed then,
// so a data directory of that release opens and goes on (wal/testdata/v2
// is one; a test appends group records to it and reads both).
//
// Append makes one record of its blocks, unless they hold 2 × SegmentSize
// bytes or more: then records of at least SegmentSize bytes each. The
// pipeline's writer gathers a group commit until it holds 1 MiB, the
// default segment size, so under load every group is a segment.
//
// A block is framed as
//
//	crc32c(payload) [4 bytes, little-endian, Castagnoli] | payload
//
// and the payload is a block, version 2 (written by EncodeBlock since the
// processing stages; DecodeBlock reads versions 1, 2 and 3, below):
//
//	version=2 | source | fileID | path | uvarint offset | cursor |
//	uvarint nlabels { name value } | uvarint nentries { entry }
//
//	entry = varint Δtime | uvarint(len(line)<<1 | more) | line [| flags data]
//
// where every string is uvarint-length-prefixed, and each entry's time is a
// signed delta from the previous entry's (the first from 0), so times may
// go backwards. Lines are raw bytes: empty lines, NUL bytes and invalid
// UTF-8 survive. cursor is Position.Cursor (for files "", one byte, unless
// streams interleave: see sources' streamSkip).
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
// Version 3 is a version 2 block stored compressed (CompressBlock; the
// pipeline compresses with wal.compression: s2, the default, the blocks
// that shrink at least 4 times):
//
//	version=3 | crc32c(version 2 payload) [4 bytes, little-endian] | S2 block
//
// where the S2 block (github.com/klauspost/compress/s2, block format: the
// decoded length as a uvarint, then the compressed bytes) holds the
// version 2 payload after its version byte. The frame's checksum covers
// these bytes, so repair, Read and a record's verification treat a
// compressed block as any other. Reader.Read returns it decompressed, as
// version 2 with the kept checksum, verified against the decompressed
// bytes, so nothing above this package sees version 3; DecodeBlock
// decodes it too, its lines then in storage the Block keeps.
// CompressBlock verifies the version 2 checksum before it compresses (a
// block changed after EncodeBlock stays version 2, and Append refuses
// it), and stores as they are blocks over MaxBlockBytes or that would
// decode to more than 512 times their compressed size plus 64 KiB. A
// compressed block that claims more, whose S2 block does not decode, or
// whose decoded bytes fail the kept checksum is damaged (ErrBadRecord;
// from Read a *CorruptionError): so a damaged record that passes its own
// checksum makes a reader allocate at most that much before it is
// refused. A release before version 3 reads a version 3 block as damaged
// and skips it: to go back to one, set wal.compression: none and let
// every sink deliver what the WAL holds first (dead letters included).
// wal/testdata/groups is a log written by the release before version 3
// (version 2 blocks in group records); a test opens it, appends compressed
// and plain blocks after it, and reads all of them.
//
// Version 1, written before the processing stages, is the same without
// cursor and with uvarint(len(line)) (no more bit and no per-entry data):
//
//	version=1 | source | fileID | path | uvarint offset |
//	uvarint nlabels { name value } | uvarint nentries { varint Δtime line }
//
// wal/testdata/v1 is a log written by that release; a test opens it.
//
// DecodeBlock verifies the checksum and never panics (FuzzDecodeBlock
// covers every version, and compresses what it decodes); DecodeReadBlock
// decodes a block Reader.Read returned, whose checksum Read verified,
// without computing it again (the sinks' reads). Both reuse the
// Block's slices: entries' Labels and Metadata live in storage the Block
// keeps for the next decode (entries with equal label sets share one
// slice, found among the last few distinct sets), and names and short
// label values are interned across decodes, so a block of entries with a
// few label sets costs no allocation per entry beyond metadata values.
//
// # Files
//
// A Log is a directory of segment files named by tidwall's index of their
// first record as 20 decimal digits (00000000000000000001, …). A segment
// is a sequence of tidwall binary entries, uvarint(len(record)) | record,
// with no header or trailer. The last segment, the tail, is the one
// written; a new one is started once the tail reaches Options.SegmentSize.
// Open learns which blocks each segment holds from the head of its first
// record (one pread per segment) and the last index from the tail's
// heads; Segments reports segments by the index of their first block. Files named
// NAME.broken, NAME.broken.1, … hold bytes cut off by repair (below).
// NAME.START and NAME.END are tidwall's leftovers from an interrupted
// truncation, resolved by the next Open; a NAME.START.TEMP or NAME.TEMP
// (Reopen's rewrite, below) left by a crash is ignored (and may be
// deleted).
//
// # Invariants
//
//   - Indexes are contiguous: blocks FirstIndex … LastIndex all exist; a
//     new log has FirstIndex 1 and LastIndex 0, and an emptied log has
//     FirstIndex = LastIndex+1. Records' tidwall indexes are contiguous
//     too, and each record's blocks follow the previous record's.
//   - No block is empty, and every block and every record head carries a
//     CRC32C: Append rejects a block that fails CheckRecord, and Read
//     verifies the checksum of every block it returns.
//   - A block is durable once a Sync that started after its Append has
//     returned, and every block Open or Reopen found is durable when it
//     returns: DurableIndex says how far. A record is written and cut
//     whole, so durable indexes end records. Append alone writes to the page
//     cache only (tidwall with NoSync); Sync fsyncs the tail file, and the
//     directory when a segment file was created since the last Sync.
//     tidwall fsyncs a segment before it starts the next one, so a tail
//     that holds no record yet is not fsynced: under load, where each
//     group fills a segment, Sync fsyncs only the directory. Open fsyncs
//     the (repaired) tail segment and the directory before it returns:
//     after a kill -9 the tail may exist only in the page cache, and
//     nothing in it may be called durable before it is on disk.
//   - A block's index never changes; TruncateFront only removes a prefix
//     of whole records, and Reopen after a failed fsync only removes
//     records after DurableIndex (so LastIndex goes back, never past
//     DurableIndex).
//
// # Repair
//
// tidwall refuses to open a log whose last record is torn, reads a
// zero-filled tail as empty entries, and has no checksum. So Open scans the
// tail segment first (the file tidwall will treat as the tail, START/END
// leftovers included) and stops at the first entry that is empty, runs past
// the end of the file, fails its head's or any of its blocks' checksums,
// or whose blocks do not follow the previous record's: a record is kept
// only if every block in it verifies. Everything from there on is
// written to NAME.broken (or the next free NAME.broken.N), fsynced, then
// cut off; the file and the directory are fsynced, one warning is logged
// and logcapturer_wal_repairs_total / _repaired_bytes_total count it. If
// the .broken file cannot be written (a full disk), the cut goes ahead
// without it and the warning says so: a log that cannot start is worse
// than a lost torn record. The cut can leave the tail empty. Older
// segments are not scanned: a damaged block there is found by Read, which
// returns a *CorruptionError for it and keeps reading the others; a
// damaged record head loses that record's blocks (the next record's head
// says where the blocks go on), and a damaged length prefix every block
// after it in the segment.
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
// calls into tidwall, so Append, Segments and TruncateFront exclude each
// other; reads go through Readers (pread, no tidwall), which look segments
// up in a list published whenever a segment starts or is removed, and take
// the mutex only when a file they looked up is gone (a truncation in
// progress). FirstIndex, LastIndex and Size are lock-free. Sync holds a second mutex and releases the first one before
// it fsyncs, through its own handle on the tail file, so sinks keep reading
// while ingest waits for the disk. TruncateFront, Reopen and Close take
// both.
//
// # Memory
//
// tidwall keeps the whole tail segment in memory. Under load the tail is
// one record, allocated once at its size; at low rates records are small
// and tidwall grows the tail by copying, up to about two segments at a
// moment. Append builds each record in a buffer it keeps, and tidwall
// copies it into a batch buffer of its own, also kept: so ingest holds
// about three times the largest record (2 × SegmentSize at most, plus a
// block); the buffers of a rare larger record (one huge line), above 4 ×
// SegmentSize, are dropped after it. Nothing is read through tidwall, whose read cache is cleared
// whenever a segment is finished. A Reader (Log.Read has one of its own)
// holds only the block it returns, the head of its record and the copy of
// the last compressed block it read (dropped when over 1 MiB), and
// allocates for them no more than the segment file holds, whatever a
// damaged length prefix claims, except that a compressed block decodes to
// up to 512 times its size plus 64 KiB (64 MiB at most). Read copies the
// block into the caller's buffer.
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
//   - Log.Read serialises its callers on one Reader: it is for tools and
//     tests. Sinks and recovery read through a Reader each.
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
//   - Single records (before format 3) hold no index: damage to a length
//     prefix before one could, in unlucky cases, shift it to another
//     index. Group records carry their first index in their checksummed
//     head.
//   - TruncateFront keeps or removes whole records, so a FirstIndex inside
//     a record becomes that record's first index. The pipeline cuts only
//     at segment starts.
//   - Open reads one record head per segment (about 1,000 preads for a
//     1 GiB backlog of 1 MiB segments). A damaged first head of an old
//     segment is taken to start after the blocks of the segment before.
//   - Only the tail is repaired on Open. A segment before it whose end was
//     lost (the file system did not keep tidwall's fsync) is not cut; its
//     lost records read as *CorruptionError.
package wal
