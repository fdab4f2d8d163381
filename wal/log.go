package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	twal "github.com/tidwall/wal"
)

const (
	defaultSegmentSize      = 1 << 20
	defaultSegmentCacheSize = 1
)

// Options configures a Log. A nil *Options, and every zero field, means the
// default.
type Options struct {
	// SegmentSize is the size at which the tail segment is closed and a new
	// one started; a segment exceeds it by less than one record. It is also
	// the size at which Append starts a new record: a group commit at
	// least this large is one record in a segment of its own, which
	// tidwall allocates once and never grows. Default 1 MiB, the
	// pipeline's largest group commit.
	SegmentSize int64
	// SegmentCacheSize is how many old (non-tail) segments tidwall keeps
	// loaded; only its TruncateFront loads one (reads go through Readers).
	// Default 1.
	SegmentCacheSize int
	// Logger receives the warning about a repaired tail. Nil discards.
	Logger *slog.Logger
	// Registerer receives the logcapturer_wal_* metrics; they are
	// unregistered by Close. Nil means no metrics.
	Registerer prometheus.Registerer
	// Fsync is a test seam: every fsync the Log itself issues (the tail
	// segment, the directory, repair and rewrite files) goes through it.
	// Nil means f.Sync(). tidwall's own fsync of a finished segment and in
	// its Close do not pass through it.
	Fsync func(f *os.File) error
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	// FirstIndex is the index of the segment's first block. The segment
	// holds the indexes up to the next segment's FirstIndex-1, or up to
	// LastIndex for the tail. (Its file is named by tidwall's index of
	// its first record.)
	FirstIndex uint64
	// Size is the file's size in bytes.
	Size int64
}

// segment is what the Log knows of a segment file.
type segment struct {
	rec   uint64 // tidwall's index of its first record: the file's name
	first uint64 // index of its first block (of the next block, while it has none)
	size  int64
}

// Log is the segmented write-ahead log: a sequence of framed block records
// numbered by contiguous indexes. All methods are safe for concurrent use.
// See the package documentation for the format and guarantees.
type Log struct {
	dir    string
	opts   Options
	logger *slog.Logger
	m      *metrics

	// syncMu serialises Sync, TruncateFront and Close, and guards the
	// fields below. It is taken before mu, never after.
	syncMu   sync.Mutex
	syncFile *os.File // our own handle on the tail segment, for fsync
	syncRec  uint64   // first record index of the segment syncFile refers to
	syncErr  error    // a failed fsync; sticky until Reopen

	// mu serialises every call into tidwall (its concurrent reads race)
	// and guards the fields below.
	mu        sync.Mutex
	tw        *twal.Log // nil after a Reopen that failed
	batch     twal.Batch
	recBuf    []byte    // the record Append builds
	recs      []recInfo // the records of an Append, for account
	segs      []segment // mirrors tidwall's segments; the last is the tail
	refs      []segRef  // segs as last published to segRefs
	lastRec   uint64    // tidwall's last record index
	dirDirty  bool      // a segment file was created since the last Sync
	closed    bool
	failed    error // an append, fsync, truncate or reopen that left the log unusable
	twCorrupt bool  // tidwall itself flagged corruption (failed TruncateFront)
	// untrusted: an fsync failed (ours, tidwall's at a segment's end, or
	// Open's), so the bytes after the durable index are of unknown state;
	// Reopen cuts them off into a new file before the log is used again.
	untrusted bool

	// readMu serialises Log.Read, which reads through rd.
	readMu sync.Mutex
	rd     *Reader

	// Written under mu, read without it. Indexes are block indexes.
	first   atomic.Uint64
	last    atomic.Uint64
	durable atomic.Uint64 // last index covered by a successful fsync (Sync or Open)
	size    atomic.Int64
	nsegs   atomic.Int64
	gen     atomic.Uint64 // bumped whenever the segment list changes (for Readers)
	segRefs atomic.Pointer[[]segRef]
}

// Open opens the log in dir, creating dir (mode 0750) and an empty log if
// needed. Before handing the directory to tidwall/wal it repairs the last
// segment: a torn, zeroed or otherwise bad tail is cut at the last good
// record and the cut bytes are kept in a .broken file next to it (see the
// package documentation). It then fsyncs the tail segment and the
// directory, so everything it found is durable (DurableIndex is LastIndex)
// before the caller trusts it: after a kill -9 the tail may exist only in
// the page cache.
//
// Only one Log may have dir open at a time; Open does not lock the
// directory. Errors are wrapped with the directory; a registration conflict
// on opts.Registerer is an error too.
func Open(dir string, opts *Options) (*Log, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = defaultSegmentSize
	}
	if o.SegmentSize > math.MaxInt {
		return nil, fmt.Errorf("open wal %s: segment size %d is too large", dir, o.SegmentSize)
	}
	if o.SegmentCacheSize <= 0 {
		o.SegmentCacheSize = defaultSegmentCacheSize
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open wal %s: %w", dir, err)
	}
	l := &Log{dir: abs, opts: o, logger: logger}
	l.m = newMetrics(l, o.Registerer)
	if err := l.open(false); err != nil {
		l.closeSyncFile()
		return nil, fmt.Errorf("open wal %s: %w", dir, err)
	}
	if err := l.m.register(); err != nil {
		l.closeSyncFile()
		return nil, errors.Join(fmt.Errorf("open wal %s: %w", dir, err), l.tw.Close())
	}
	return l, nil
}

// open repairs the tail, opens tidwall, loads the segment list and fsyncs
// the tail and the directory; only then does it install tidwall and
// publish the durable index. own says the bytes after the last good record
// are this process's own unsynced writes (Reopen after a failed Append):
// they are cut without a .broken copy or a warning, needing no free space.
// On error nothing is installed. Called with both locks held, or before
// the Log is shared.
func (l *Log) open(own bool) error {
	if err := os.MkdirAll(l.dir, dirPerm); err != nil {
		return err
	}
	if err := l.repairTail(own); err != nil {
		return err
	}
	tw, err := twal.Open(l.dir, &twal.Options{
		NoSync:           true,
		SegmentSize:      int(l.opts.SegmentSize),
		LogFormat:        twal.Binary,
		SegmentCacheSize: l.opts.SegmentCacheSize,
		NoCopy:           true,
		AllowEmpty:       true,
		DirPerms:         dirPerm,
		FilePerms:        filePerm,
	})
	if err != nil {
		return err
	}
	if err := l.loadState(tw); err != nil {
		return errors.Join(err, tw.Close())
	}
	// What was found may exist only in the page cache (a kill -9 before the
	// last fsync): fsync it before anything is marked durable.
	if err := l.fsync(l.segs[len(l.segs)-1].rec, true); err != nil {
		// Not tw.Close: it would fsync the failed file again. The garbage
		// collector closes its descriptor.
		l.untrusted = true
		return fmt.Errorf("fsync the tail found on open: %w", err)
	}
	l.tw = tw
	l.failed, l.twCorrupt, l.syncErr, l.dirDirty = nil, false, nil, false
	l.durable.Store(l.last.Load())
	return nil
}

// loadState reads the record indexes from tidwall, lists the segment files
// that tidwall's Open left (it has resolved START/END leftovers by now) and
// learns from their record heads which blocks each holds.
func (l *Log) loadState(tw *twal.Log) error {
	firstRec, err := tw.FirstIndex()
	if err != nil {
		return err
	}
	lastRec, err := tw.LastIndex()
	if err != nil {
		return err
	}
	files, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	var size int64
	for _, s := range files {
		size += s.Size
	}
	if len(files) == 0 || files[0].FirstIndex != firstRec || files[len(files)-1].FirstIndex > lastRec+1 {
		return fmt.Errorf("segment files %v disagree with record indexes %d..%d", files, firstRec, lastRec)
	}
	segs, last, err := l.segmentBlocks(files, lastRec)
	if err != nil {
		return err
	}
	l.segs = segs
	l.lastRec = lastRec
	l.first.Store(segs[0].first)
	l.last.Store(last)
	l.size.Store(size)
	l.nsegs.Store(int64(len(segs)))
	l.publishSegments(false)
	return nil
}

// Append writes recs, framed blocks, under consecutive indexes and returns
// the indexes of the first and the last. The blocks go into one record
// (several when they hold SegmentSize bytes or more, or more than 4096
// blocks), written with one tidwall batch each. Every block must pass
// CheckRecord; if one does not, nothing is written and the error wraps
// ErrBadRecord. An empty recs writes nothing and returns (LastIndex()+1,
// LastIndex(), nil).
//
// Append does not fsync: blocks are durable after a later Sync returns.
// It blocks while another call holds the log (a TruncateFront takes
// 40–150 ms; crossing a segment boundary fsyncs the finished segment). After
// a write or fsync error (here or in Sync) the log refuses further appends
// until Reopen has cut whatever was half written or not durable; Err
// reports that state. It returns ErrClosed after Close. Safe for
// concurrent use; concurrent Appends are serialised.
func (l *Log) Append(recs [][]byte) (first, last uint64, err error) {
	var n int
	for i, rec := range recs {
		if err := CheckRecord(rec); err != nil {
			return 0, 0, fmt.Errorf("append to wal: block %d of %d: %w", i, len(recs), err)
		}
		n += len(rec)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, 0, fmt.Errorf("append to wal: %w", ErrClosed)
	}
	if l.failed != nil {
		return 0, 0, fmt.Errorf("append to wal: an earlier failure needs a Reopen: %w", l.failed)
	}
	prev := l.last.Load()
	if len(recs) == 0 {
		return prev + 1, prev, nil
	}
	if err := l.writeRecords(prev+1, recs); err != nil {
		// tidwall has already grown its in-memory segment; its state no
		// longer matches the file. A failed write (ENOSPC) leaves our own
		// half-written bytes, cut in place by Reopen; anything else may be
		// tidwall's fsync of the finished segment, which makes the records
		// since the last Sync of unknown state.
		l.failed = err
		l.untrusted = l.untrusted || !isWriteError(err)
		return 0, 0, fmt.Errorf("append %d blocks to wal at index %d: %w", len(recs), prev+1, err)
	}
	l.account()
	l.m.appendedRecords.Add(float64(len(recs)))
	l.m.appendedBytes.Add(float64(n))
	return prev + 1, l.last.Load(), nil
}

// recInfo is one record an Append wrote, for account.
type recInfo struct {
	size   int64 // with its length prefix
	blocks int
}

// writeRecords writes blocks, the first under index first, as group
// records: one, unless they hold 2 × SegmentSize bytes or more; then each
// record takes blocks until it holds SegmentSize bytes or more and what is
// left does too (the last takes the rest). So at high rates each record
// fills a segment on its own, which tidwall allocates once instead of
// growing it by copying. A record holds at most maxRecordBlocks blocks. Each record is one WriteBatch. On error the
// records before it are in tidwall but not accounted: the caller marks the
// log failed, and Reopen reloads it.
func (l *Log) writeRecords(first uint64, blocks [][]byte) error {
	l.recs = l.recs[:0]
	rec := l.lastRec
	var rest int64
	for _, b := range blocks {
		rest += int64(len(b))
	}
	seg := l.opts.SegmentSize
	for len(blocks) > 0 {
		k, size := 0, int64(0)
		for k < len(blocks) && k < maxRecordBlocks && (k == 0 || size < seg || rest-size < seg) {
			size += int64(len(blocks[k]))
			k++
		}
		rest -= size
		rec++
		l.recBuf = appendGroupRecord(l.recBuf[:0], first, blocks[:k])
		if err := l.writeRecord(rec, l.recBuf); err != nil {
			return err
		}
		l.recs = append(l.recs, recInfo{size: int64(UvarintLen(uint64(len(l.recBuf))) + len(l.recBuf)), blocks: k})
		first += uint64(k)
		blocks = blocks[k:]
	}
	return nil
}

// writeRecord hands tidwall one record under record index rec.
func (l *Log) writeRecord(rec uint64, data []byte) error {
	l.batch.Clear()
	l.batch.Write(rec, data)
	err := l.tw.WriteBatch(&l.batch)
	if int64(len(data)) > keepRecordBuffers*l.opts.SegmentSize {
		// A record far larger than a group (a block of one huge line):
		// do not keep buffers of its size for the records after it.
		l.recBuf, l.batch = nil, twal.Batch{}
	}
	return err
}

// keepRecordBuffers is how many segment sizes the buffers Append keeps
// (the record it builds, tidwall's batch copy) may hold: records up to
// 2 × SegmentSize plus a block are usual, larger ones rare.
const keepRecordBuffers = 4

// account replays tidwall's writeBatch for the records of the last
// writeRecords on our segment list: a batch starts a new segment first if
// the tail is already larger than SegmentSize, and a new segment is
// started after any entry that brings the tail to SegmentSize or more. A
// binary entry is uvarint(len) + the record. Called with mu held, after a
// successful writeRecords.
func (l *Log) account() {
	last := l.last.Load()
	nsegs := len(l.segs)
	var added int64
	for _, r := range l.recs {
		if l.segs[len(l.segs)-1].size > l.opts.SegmentSize {
			l.startSegment(l.lastRec+1, last+1)
		}
		tail := &l.segs[len(l.segs)-1]
		tail.size += r.size
		added += r.size
		l.lastRec++
		last += uint64(r.blocks)
		if tail.size >= l.opts.SegmentSize {
			l.startSegment(l.lastRec+1, last+1)
		}
	}
	l.last.Store(last)
	l.size.Add(added)
	if len(l.segs) != nsegs {
		// tidwall keeps the finished tail loaded in its read cache; we
		// never read through tidwall, so drop it: memory stays one
		// segment, not two.
		if err := l.tw.ClearCache(); err != nil {
			l.logger.Warn("clear wal segment cache", "err", err)
		}
	}
}

func (l *Log) startSegment(rec, first uint64) {
	l.segs = append(l.segs, segment{rec: rec, first: first})
	l.nsegs.Store(int64(len(l.segs)))
	l.publishSegments(true)
	l.dirDirty = true
}

// segRef is what a Reader needs of a segment: its file's record index and
// its first block's index.
type segRef struct{ rec, first uint64 }

// publishSegments shows Readers the segment list after a change and bumps
// gen. Readers look segments up in the published list without taking mu,
// which Append holds across tidwall's write and its fsync of a finished
// segment: a sink moving to the next segment (every segment, under load)
// waited for both. The list's elements are never changed once published:
// one appended goes past the end of the lists already handed out, any
// other change builds a new one. Called with mu held.
func (l *Log) publishSegments(appended bool) {
	if appended && len(l.refs) == len(l.segs)-1 {
		s := l.segs[len(l.segs)-1]
		l.refs = append(l.refs, segRef{rec: s.rec, first: s.first})
	} else {
		l.refs = make([]segRef, len(l.segs))
		for i, s := range l.segs {
			l.refs[i] = segRef{rec: s.rec, first: s.first}
		}
	}
	refs := l.refs[:len(l.refs):len(l.refs)]
	l.segRefs.Store(&refs)
	l.gen.Add(1)
}

// segmentRefs returns the published segment list. wait takes mu first, so
// that a truncation or Reopen in progress (it holds mu while it replaces
// files) has published its list: a Reader that found a file gone asks so.
func (l *Log) segmentRefs(wait bool) []segRef {
	if wait {
		l.mu.Lock()
		defer l.mu.Unlock()
	}
	if p := l.segRefs.Load(); p != nil {
		return *p
	}
	return nil
}

// segments returns a copy of the segment list.
func (l *Log) segments() []segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]segment(nil), l.segs...)
}

// Read appends the block at index, framed as stored, to dst[:0] and
// returns it after verifying its checksum. The returned slice does not
// alias the log's memory.
//
// Errors: ErrNotFound (wrapped) outside [FirstIndex, LastIndex];
// *CorruptionError when the block fails its checksum or the record head
// that locates it is damaged (other blocks may read fine); ErrClosed
// (wrapped) after Close. On error it returns dst[:0].
//
// It reads through a Reader of the Log's own, so Reads are serialised with
// each other (not with Append), and reading in index order is cheapest.
// It is for tools and tests; sinks use a Reader each.
func (l *Log) Read(dst []byte, index uint64) ([]byte, error) {
	l.mu.Lock()
	closed, failed := l.closed, l.twCorrupt || l.tw == nil
	cause := l.failed
	l.mu.Unlock()
	if closed {
		return dst[:0], fmt.Errorf("read wal index %d: %w", index, ErrClosed)
	}
	if failed {
		return dst[:0], fmt.Errorf("read wal index %d: the log needs a Reopen: %w", index, cause)
	}
	l.readMu.Lock()
	defer l.readMu.Unlock()
	if l.rd == nil {
		l.rd = l.NewReader()
	}
	return l.rd.Read(dst, index)
}

// Sync makes every record appended before the call durable: it fsyncs the
// tail segment file, and the directory if a segment file was created since
// the last Sync (tidwall fsyncs a segment before starting the next). It
// blocks for the fsync but does not hold the log meanwhile: Append and Read
// proceed. Concurrent Syncs are serialised.
//
// On success DurableIndex is at least the LastIndex seen when Sync began.
//
// A failed fsync is never retried: the kernel may have dropped the
// unwritten pages and a second fsync could report them durable. The log
// then refuses Append and Sync (Err reports why) until Reopen has cut every
// record after DurableIndex off the log, into a new file; the caller
// re-appends the records it still holds. Sync also refuses while an Append
// failure awaits Reopen. Returns ErrClosed (wrapped) after Close.
func (l *Log) Sync() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	return l.syncLocked()
}

// syncLocked is Sync, called with syncMu held.
func (l *Log) syncLocked() error {
	if l.syncErr != nil {
		return fmt.Errorf("sync wal %s: an earlier fsync failed, reopen the log: %w", l.dir, l.syncErr)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("sync wal %s: %w", l.dir, ErrClosed)
	}
	if l.failed != nil {
		l.mu.Unlock()
		return fmt.Errorf("sync wal %s: an earlier failure needs a Reopen: %w", l.dir, l.failed)
	}
	tail := l.segs[len(l.segs)-1]
	last := l.last.Load()
	dir := l.dirDirty
	l.dirDirty = false
	l.mu.Unlock()

	start := time.Now()
	var err error
	if tail.size == 0 {
		// The tail holds no record yet: tidwall fsynced every finished
		// segment before it started the next (a failure there failed the
		// Append), so only their directory entries are left to make
		// durable. Under load, where each group fills a segment, this is
		// every Sync: one fsync per group instead of two. A handle on an
		// older segment goes: its file may be deleted.
		if l.syncRec != tail.rec {
			l.closeSyncFile()
		}
		if dir {
			err = l.syncDir()
		}
	} else {
		err = l.fsync(tail.rec, dir)
	}
	if err != nil {
		l.syncErr = err
		l.mu.Lock()
		if l.failed == nil {
			l.failed = err
		}
		l.untrusted = true
		l.mu.Unlock()
		return fmt.Errorf("sync wal %s: %w", l.dir, err)
	}
	l.m.fsyncDuration.Observe(time.Since(start).Seconds())
	if last > l.durable.Load() {
		l.durable.Store(last)
	}
	return nil
}

// fsync syncs the segment whose first record index is tail through our own
// file handle, reopening it when the tail has changed, then the directory
// if dir. Called with syncMu held (so no TruncateFront removes the file
// meanwhile).
func (l *Log) fsync(tail uint64, dir bool) error {
	if l.syncFile == nil || l.syncRec != tail {
		l.closeSyncFile()
		f, err := os.OpenFile(l.segmentPath(tail), os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("open tail segment: %w", err)
		}
		l.syncFile, l.syncRec = f, tail
	}
	if err := l.sync(l.syncFile); err != nil {
		return err
	}
	if dir {
		return l.syncDir()
	}
	return nil
}

// sync fsyncs f through Options.Fsync.
func (l *Log) sync(f *os.File) error {
	if l.opts.Fsync != nil {
		return l.opts.Fsync(f)
	}
	return f.Sync()
}

func (l *Log) closeSyncFile() {
	if l.syncFile != nil {
		_ = l.syncFile.Close() // only used for fsync; nothing to flush
		l.syncFile = nil
	}
}

// segmentPath returns the path of the segment file whose first record
// index is rec.
func (l *Log) segmentPath(rec uint64) string {
	return filepath.Join(l.dir, segmentName(rec))
}

// FirstIndex returns the index of the oldest record. An empty log returns
// LastIndex()+1; a new log returns 1. It never blocks; after Close it
// returns the last value.
func (l *Log) FirstIndex() uint64 { return l.first.Load() }

// LastIndex returns the index of the newest record appended (durable or
// not); a new log returns 0. It never blocks; after Close it returns the
// last value. Both indexes only grow, except that Reopen after a failed
// fsync takes LastIndex back to DurableIndex: read FirstIndex before
// LastIndex to get a range that was valid at some moment.
func (l *Log) LastIndex() uint64 { return l.last.Load() }

// DurableIndex returns the highest index covered by a successful fsync:
// Open's, or a Sync's (it covers what was appended before the Sync began).
// Records after it exist in the page cache at most. It never blocks and
// only grows, also across Reopen.
func (l *Log) DurableIndex() uint64 { return l.durable.Load() }

// Err returns the failure that makes the log refuse Append and Sync until
// Reopen succeeds (a failed write, fsync or reopen), or nil. It is cheap
// and safe for concurrent use.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// Size returns the total size in bytes of the segment files, tracked as
// records are appended and segments removed (no system calls). It never
// blocks.
func (l *Log) Size() int64 { return l.size.Load() }

// Segments returns the segment files in index order; the last one is the
// tail being written, possibly empty. Safe for concurrent use; it blocks
// while another call holds the log.
func (l *Log) Segments() []SegmentInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		out[i] = SegmentInfo{FirstIndex: s.first, Size: s.size}
	}
	return out
}

// Close fsyncs the tail segment (and the directory if needed), closes the
// files and unregisters the metrics. It waits for a Sync or TruncateFront in
// progress. It is idempotent: a second call returns nil. Other methods
// return ErrClosed afterwards, except FirstIndex, LastIndex, DurableIndex,
// Size and Segments, which keep returning the final state.
//
// If a failure still awaits Reopen, Close does not fsync the failed file
// and returns an error saying so. After a failed fsync it first cuts the
// records after DurableIndex off into a new file (as Reopen does), so the
// next Open does not take them, of unknown state, for durable.
func (l *Log) Close() error {
	defer l.closeReader() // last, after the locks: Read takes mu inside readMu
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	defer l.m.set.Unregister()
	defer l.closeSyncFile()
	if l.failed != nil {
		// tidwall's Close would fsync the failed file again: drop it and
		// let the garbage collector close its descriptor.
		l.tw = nil
		err := fmt.Errorf("an earlier failure was not repaired by Reopen: %w", l.failed)
		if l.untrusted {
			if cerr := l.cutBack(l.durable.Load()); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
		return fmt.Errorf("close wal %s: %w", l.dir, err)
	}
	err := l.tw.Close()
	if err == nil && l.dirDirty {
		err = l.syncDir()
	}
	l.dirDirty = false
	if err != nil {
		return fmt.Errorf("close wal %s: %w", l.dir, err)
	}
	return nil
}

// closeReader closes the Reader of Log.Read.
func (l *Log) closeReader() {
	l.readMu.Lock()
	defer l.readMu.Unlock()
	if l.rd != nil {
		_ = l.rd.Close() // read-only
		l.rd = nil
	}
}
