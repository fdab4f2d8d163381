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
	defaultSegmentSize      = 4 << 20
	defaultSegmentCacheSize = 1
)

// Options configures a Log. A nil *Options, and every zero field, means the
// default.
type Options struct {
	// SegmentSize is the size at which the tail segment is closed and a new
	// one started; a segment exceeds it by less than one record. Default
	// 4 MiB: the tail lives in memory and tidwall grows it by copying, so
	// memory is about two segments; 4 MiB measured faster than 16 MiB too.
	SegmentSize int64
	// SegmentCacheSize is how many old (non-tail) segments are kept loaded
	// in memory for reads. Default 1.
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
	// FirstIndex is the index of the segment's first record (and its file
	// name). The segment holds the indexes up to the next segment's
	// FirstIndex-1, or up to LastIndex for the tail.
	FirstIndex uint64
	// Size is the file's size in bytes.
	Size int64
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
	syncMu    sync.Mutex
	syncFile  *os.File // our own handle on the tail segment, for fsync
	syncFirst uint64   // FirstIndex of the segment syncFile refers to
	syncErr   error    // a failed fsync; sticky until Reopen

	// mu serialises every call into tidwall (its concurrent reads race)
	// and guards the fields below.
	mu        sync.Mutex
	tw        *twal.Log // nil after a Reopen that failed
	batch     twal.Batch
	segs      []SegmentInfo // mirrors tidwall's segments; the last is the tail
	dirDirty  bool          // a segment file was created since the last Sync
	closed    bool
	failed    error // an append, fsync, truncate or reopen that left the log unusable
	twCorrupt bool  // tidwall itself flagged corruption (failed TruncateFront)
	// untrusted: an fsync failed (ours, tidwall's at a segment's end, or
	// Open's), so the bytes after the durable index are of unknown state;
	// Reopen cuts them off into a new file before the log is used again.
	untrusted bool

	// Written under mu, read without it.
	first   atomic.Uint64
	last    atomic.Uint64
	durable atomic.Uint64 // last index covered by a successful fsync (Sync or Open)
	size    atomic.Int64
	nsegs   atomic.Int64
	gen     atomic.Uint64 // bumped whenever the segment list changes (for Readers)
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
	if err := l.fsync(l.segs[len(l.segs)-1].FirstIndex, true); err != nil {
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

// loadState reads the indexes from tidwall and lists the segment files that
// tidwall's Open left (it has resolved START/END leftovers by now).
func (l *Log) loadState(tw *twal.Log) error {
	first, err := tw.FirstIndex()
	if err != nil {
		return err
	}
	last, err := tw.LastIndex()
	if err != nil {
		return err
	}
	segs, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	var size int64
	for _, s := range segs {
		size += s.Size
	}
	if len(segs) == 0 || segs[0].FirstIndex != first || segs[len(segs)-1].FirstIndex > last+1 {
		return fmt.Errorf("segment files %v disagree with indexes %d..%d", segs, first, last)
	}
	l.segs = segs
	l.first.Store(first)
	l.last.Store(last)
	l.size.Store(size)
	l.nsegs.Store(int64(len(segs)))
	l.gen.Add(1)
	return nil
}

// Append writes recs as consecutive records in one tidwall batch and
// returns the indexes of the first and the last. Every record must be a
// framed record that passes CheckRecord; if one does not, nothing is
// written and the error wraps ErrBadRecord. An empty recs writes nothing and
// returns (LastIndex()+1, LastIndex(), nil).
//
// Append does not fsync: records are durable after a later Sync returns.
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
			return 0, 0, fmt.Errorf("append to wal: record %d of %d: %w", i, len(recs), err)
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
	if err := l.writeChunks(prev+1, recs); err != nil {
		// tidwall has already grown its in-memory segment; its state no
		// longer matches the file. A failed write (ENOSPC) leaves our own
		// half-written bytes, cut in place by Reopen; anything else may be
		// tidwall's fsync of the finished segment, which makes the records
		// since the last Sync of unknown state.
		l.failed = err
		l.untrusted = l.untrusted || !isWriteError(err)
		return 0, 0, fmt.Errorf("append %d records to wal at index %d: %w", len(recs), prev+1, err)
	}
	nsegs := len(l.segs)
	l.account(recs)
	if len(l.segs) != nsegs {
		// tidwall keeps the finished tail loaded in its read cache. Sinks
		// that keep up read the new tail, and one that is behind reloads
		// what it needs, so drop it: memory stays one segment, not two.
		if err := l.tw.ClearCache(); err != nil {
			l.logger.Warn("clear wal segment cache", "err", err)
		}
	}
	l.m.appendedRecords.Add(float64(len(recs)))
	l.m.appendedBytes.Add(float64(n))
	return prev + 1, l.last.Load(), nil
}

// maxChunkBytes bounds the records handed to tidwall in one WriteBatch:
// tidwall copies a batch into a buffer of its own before appending it to
// the tail segment, and keeps that buffer, so a chunk of 256 KiB keeps
// memory flat whatever the group (about 1 MiB) while a write syscall still
// carries four 64 KiB blocks.
const maxChunkBytes = 256 << 10

// writeChunks writes recs, the first at index first, in WriteBatch calls
// of about maxChunkBytes. On error the chunks before it are in tidwall but
// not accounted: the caller marks the log failed, and Reopen reloads it.
func (l *Log) writeChunks(first uint64, recs [][]byte) error {
	for len(recs) > 0 {
		l.batch.Clear()
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size+len(recs[n]) <= maxChunkBytes) {
			l.batch.Write(first+uint64(n), recs[n])
			size += len(recs[n])
			n++
		}
		if err := l.tw.WriteBatch(&l.batch); err != nil {
			return err
		}
		first += uint64(n)
		recs = recs[n:]
	}
	return nil
}

// account replays tidwall's writeBatch on our segment list: a batch starts
// a new segment first if the tail is already larger than SegmentSize, and
// a new segment is started after any entry that brings the tail to
// SegmentSize or more. A binary entry is uvarint(len) + the record. Called
// with mu held, after a successful WriteBatch.
func (l *Log) account(recs [][]byte) {
	last := l.last.Load()
	var added int64
	if l.segs[len(l.segs)-1].Size > l.opts.SegmentSize {
		l.startSegment(last + 1)
	}
	tail := &l.segs[len(l.segs)-1]
	for _, rec := range recs {
		n := int64(UvarintLen(uint64(len(rec))) + len(rec))
		tail.Size += n
		added += n
		last++
		if tail.Size >= l.opts.SegmentSize {
			l.startSegment(last + 1)
			tail = &l.segs[len(l.segs)-1]
		}
	}
	l.last.Store(last)
	l.size.Add(added)
}

func (l *Log) startSegment(first uint64) {
	l.segs = append(l.segs, SegmentInfo{FirstIndex: first})
	l.nsegs.Store(int64(len(l.segs)))
	l.gen.Add(1)
	l.dirDirty = true
}

// Read appends the record at index, framed as stored, to dst[:0] and
// returns it after verifying its checksum. The returned slice does not
// alias the log's memory.
//
// Errors: ErrNotFound (wrapped) outside [FirstIndex, LastIndex];
// *CorruptionError when the record fails its checksum or the segment
// holding it does not parse (other records may read fine); ErrClosed
// (wrapped) after Close. On error it returns dst[:0].
//
// Safe for concurrent use, but Reads are serialised with each other and
// with Append: the first read in an old segment loads the whole segment file
// (about 20 ms for 16 MiB on a cold cache) while holding the log. Read
// blocks during a TruncateFront. Reading in index order keeps loads rare.
func (l *Log) Read(dst []byte, index uint64) ([]byte, error) {
	dst = dst[:0]
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return dst, fmt.Errorf("read wal index %d: %w", index, ErrClosed)
	}
	if l.twCorrupt || l.tw == nil {
		l.mu.Unlock()
		return dst, fmt.Errorf("read wal index %d: the log needs a Reopen: %w", index, l.failed)
	}
	if first, last := l.first.Load(), l.last.Load(); index < first || index > last {
		l.mu.Unlock()
		return dst, fmt.Errorf("read wal index %d (have %d..%d): %w", index, first, last, ErrNotFound)
	}
	data, err := l.readLocked(index)
	if err == nil {
		dst = append(dst, data...)
	}
	l.mu.Unlock()
	if err != nil {
		if errors.Is(err, twal.ErrCorrupt) {
			l.m.corruptReads.Inc()
			return dst, &CorruptionError{Index: index, Err: fmt.Errorf("%w: segment does not parse: %v", ErrBadRecord, err)}
		}
		return dst, fmt.Errorf("read wal index %d: %w", index, err)
	}
	if err := CheckRecord(dst); err != nil {
		l.m.corruptReads.Inc()
		return dst[:0], &CorruptionError{Index: index, Err: err}
	}
	return dst, nil
}

// readLocked calls tidwall's Read. tidwall indexes into the entry positions
// of a segment without a bounds check, so an old segment damaged to hold
// fewer entries than its neighbours imply panics; that is corruption too.
// tidwall's deferred unlock has run by the time recover does.
func (l *Log) readLocked(index uint64) (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w (%v)", twal.ErrCorrupt, r)
		}
	}()
	return l.tw.Read(index)
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
	tail := l.segs[len(l.segs)-1].FirstIndex
	last := l.last.Load()
	dir := l.dirDirty
	l.dirDirty = false
	l.mu.Unlock()

	start := time.Now()
	if err := l.fsync(tail, dir); err != nil {
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

// fsync syncs the segment whose first index is tail through our own file
// handle, reopening it when the tail has changed, then the directory if dir.
// Called with syncMu held (so no TruncateFront removes the file meanwhile).
func (l *Log) fsync(tail uint64, dir bool) error {
	if l.syncFile == nil || l.syncFirst != tail {
		l.closeSyncFile()
		f, err := os.OpenFile(l.segmentPath(tail), os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("open tail segment: %w", err)
		}
		l.syncFile, l.syncFirst = f, tail
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

func (l *Log) segmentPath(first uint64) string {
	return filepath.Join(l.dir, segmentName(first))
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
	return append([]SegmentInfo(nil), l.segs...)
}

// TruncateFront removes every record below index. Callers should pass a
// segment's FirstIndex: the segments below it are then deleted, and the
// segment starting at index is copied once (tidwall rewrites the segment
// holding the new first index). Any index in (FirstIndex, LastIndex+1] is
// accepted; LastIndex+1 empties the log. An index at or below FirstIndex is
// a no-op; one past LastIndex+1 returns ErrNotFound (wrapped).
//
// While a failure awaits Reopen (Err is not nil), only a segment's
// FirstIndex is accepted, and the files below it are simply deleted: this
// needs no free space, so retention can still free the disk.
//
// It takes 40–150 ms, during which Append, Read and Sync wait; it fsyncs
// the directory before returning. Safe for concurrent use. If tidwall fails
// after it has started replacing files, Append, Read and TruncateFront
// fail with the cause until the log is reopened, which finishes the
// interrupted truncation. Returns ErrClosed (wrapped) after Close.
func (l *Log) TruncateFront(index uint64) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	changed, tailRewritten, err := l.truncateFrontLocked(index)
	l.mu.Unlock()
	if tailRewritten {
		// Our handle refers to the replaced (unlinked) tail file.
		l.closeSyncFile()
	}
	if err != nil {
		return fmt.Errorf("truncate wal front to %d: %w", index, err)
	}
	if !changed {
		return nil
	}
	if err := l.syncDir(); err != nil {
		return fmt.Errorf("truncate wal front to %d: %w", index, err)
	}
	return nil
}

func (l *Log) truncateFrontLocked(index uint64) (changed, tailRewritten bool, err error) {
	if l.closed {
		return false, false, ErrClosed
	}
	if l.twCorrupt {
		return false, false, fmt.Errorf("an earlier truncation failed, reopen the log: %w", l.failed)
	}
	first, last := l.first.Load(), l.last.Load()
	if index <= first {
		return false, false, nil
	}
	if index > last+1 {
		return false, false, fmt.Errorf("past last index %d: %w", last, ErrNotFound)
	}
	k := len(l.segs) - 1
	for k > 0 && l.segs[k].FirstIndex > index {
		k--
	}
	if l.failed != nil {
		return l.deleteSegmentsLocked(k, index)
	}
	if err := l.tw.TruncateFront(index); err != nil {
		if _, ferr := l.tw.FirstIndex(); ferr != nil {
			// tidwall got past writing its START file and flagged itself
			// corrupt; it refuses every call until reopened. The tail
			// file may have been replaced.
			l.failed = err
			l.twCorrupt = true
			return true, true, err
		}
		return false, false, err
	}
	seg := l.segs[k]
	newSize := seg.Size
	switch {
	case index == seg.FirstIndex:
	case index == last+1:
		newSize = 0
	default:
		info, err := os.Stat(l.segmentPath(index))
		if err != nil {
			l.failed = err
			return true, k == len(l.segs)-1, fmt.Errorf("stat rewritten segment: %w", err)
		}
		newSize = info.Size()
	}
	removed := seg.Size - newSize
	for _, s := range l.segs[:k] {
		removed += s.Size
	}
	tailRewritten = k == len(l.segs)-1
	l.dropSegmentsLocked(k)
	l.segs[0] = SegmentInfo{FirstIndex: index, Size: newSize}
	l.first.Store(index)
	l.size.Add(-removed)
	return true, tailRewritten, nil
}

// deleteSegmentsLocked truncates the front of a failed log, whose tidwall
// state is not to be used, by deleting the files of the segments before
// segs[k]; index must be segs[k].FirstIndex. Reopen loads what is left.
func (l *Log) deleteSegmentsLocked(k int, index uint64) (changed, tailRewritten bool, err error) {
	if l.segs[k].FirstIndex != index {
		return false, false, fmt.Errorf("only a segment's first index, while a failure awaits Reopen: %w", l.failed)
	}
	var removed int64
	for n, s := range l.segs[:k] {
		if err := os.Remove(l.segmentPath(s.FirstIndex)); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.dropSegmentsLocked(n)
			l.first.Store(s.FirstIndex)
			l.size.Add(-removed)
			return n > 0, false, fmt.Errorf("delete segment: %w", err)
		}
		removed += s.Size
	}
	l.dropSegmentsLocked(k)
	l.first.Store(index)
	l.size.Add(-removed)
	return true, false, nil
}

// dropSegmentsLocked forgets segs[:k].
func (l *Log) dropSegmentsLocked(k int) {
	l.segs = append([]SegmentInfo(nil), l.segs[k:]...)
	l.nsegs.Store(int64(len(l.segs)))
	l.gen.Add(1)
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
