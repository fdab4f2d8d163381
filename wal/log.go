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
	syncErr   error    // a failed fsync; sticky

	// mu serialises every call into tidwall (its concurrent reads race)
	// and guards the fields below.
	mu        sync.Mutex
	tw        *twal.Log
	batch     twal.Batch
	segs      []SegmentInfo // mirrors tidwall's segments; the last is the tail
	dirDirty  bool          // a segment file was created since the last Sync
	closed    bool
	failed    error // an append or truncate that left tidwall unusable
	twCorrupt bool  // tidwall itself flagged corruption (failed TruncateFront)

	// Written under mu, read without it.
	first atomic.Uint64
	last  atomic.Uint64
	size  atomic.Int64
	nsegs atomic.Int64
	gen   atomic.Uint64 // bumped whenever the segment list changes (for Readers)
}

// Open opens the log in dir, creating dir (mode 0750) and an empty log if
// needed. Before handing the directory to tidwall/wal it repairs the last
// segment: a torn, zeroed or otherwise bad tail is cut at the last good
// record and the cut bytes are kept in a .broken file next to it (see the
// package documentation). It fsyncs the directory before returning.
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
	if err := l.open(); err != nil {
		return nil, fmt.Errorf("open wal %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) open() error {
	if err := os.MkdirAll(l.dir, dirPerm); err != nil {
		return err
	}
	if err := l.repairTail(); err != nil {
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
	if err := syncDir(l.dir); err != nil {
		return errors.Join(err, tw.Close())
	}
	if err := l.m.register(); err != nil {
		return errors.Join(err, tw.Close())
	}
	l.tw = tw
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
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var segs []SegmentInfo
	var size int64
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		index, kind, ok := parseSegmentName(e.Name())
		if !ok || kind != plainSegment {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		segs = append(segs, SegmentInfo{FirstIndex: index, Size: info.Size()})
		size += info.Size()
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
// a write error the log refuses further appends: Close it and Open it again,
// which repairs whatever was half written. It returns ErrClosed after Close.
// Safe for concurrent use; concurrent Appends are serialised.
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
		return 0, 0, fmt.Errorf("append to wal: an earlier write failed, reopen the log: %w", l.failed)
	}
	prev := l.last.Load()
	if len(recs) == 0 {
		return prev + 1, prev, nil
	}
	l.batch.Clear()
	for i, rec := range recs {
		l.batch.Write(prev+1+uint64(i), rec)
	}
	if err := l.tw.WriteBatch(&l.batch); err != nil {
		// tidwall has already grown its in-memory segment; its state no
		// longer matches the file.
		l.failed = err
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
		n := int64(uvarintLen(uint64(len(rec))) + len(rec))
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

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
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
	if l.twCorrupt {
		l.mu.Unlock()
		return dst, fmt.Errorf("read wal index %d: a failed truncation left the log unusable, reopen it: %w", index, l.failed)
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
// A failed fsync is sticky: the kernel may have dropped the unwritten
// pages, so every later Sync (and Close) returns the same error, and the
// caller must treat records not yet acknowledged as lost. Returns ErrClosed
// (wrapped) after Close.
func (l *Log) Sync() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.syncErr != nil {
		return fmt.Errorf("sync wal %s: an earlier fsync failed: %w", l.dir, l.syncErr)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("sync wal %s: %w", l.dir, ErrClosed)
	}
	tail := l.segs[len(l.segs)-1].FirstIndex
	dir := l.dirDirty
	l.dirDirty = false
	l.mu.Unlock()

	start := time.Now()
	err := l.fsync(tail, dir)
	if err != nil {
		if dir {
			l.mu.Lock()
			l.dirDirty = true
			l.mu.Unlock()
		}
		return fmt.Errorf("sync wal %s: %w", l.dir, err)
	}
	l.m.fsyncDuration.Observe(time.Since(start).Seconds())
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
	if err := l.syncFile.Sync(); err != nil {
		l.syncErr = err
		return err
	}
	if dir {
		return syncDir(l.dir)
	}
	return nil
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
// last value. Both indexes only grow: read FirstIndex before LastIndex to
// get a range that was valid at some moment.
func (l *Log) LastIndex() uint64 { return l.last.Load() }

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
// It takes 40–150 ms, during which Append, Read and Sync wait; it fsyncs
// the directory before returning. Safe for concurrent use. If tidwall fails
// after it has started replacing files, Append, Read and TruncateFront
// fail with the cause until the log is closed and opened again, which
// finishes the interrupted truncation. Returns ErrClosed (wrapped) after
// Close.
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
	if err := syncDir(l.dir); err != nil {
		return fmt.Errorf("truncate wal front to %d: %w", index, err)
	}
	return nil
}

func (l *Log) truncateFrontLocked(index uint64) (changed, tailRewritten bool, err error) {
	if l.closed {
		return false, false, ErrClosed
	}
	if l.failed != nil {
		return false, false, fmt.Errorf("an earlier operation failed, reopen the log: %w", l.failed)
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
	l.segs = append([]SegmentInfo(nil), l.segs[k:]...)
	l.segs[0] = SegmentInfo{FirstIndex: index, Size: newSize}
	l.first.Store(index)
	l.size.Add(-removed)
	l.nsegs.Store(int64(len(l.segs)))
	l.gen.Add(1)
	return true, tailRewritten, nil
}

// Close fsyncs the tail segment (and the directory if needed), closes the
// files and unregisters the metrics. It waits for a Sync or TruncateFront in
// progress. It is idempotent: a second call returns nil. Other methods
// return ErrClosed afterwards, except FirstIndex, LastIndex, Size and
// Segments, which keep returning the final state.
func (l *Log) Close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	err := l.tw.Close()
	dir := l.dirDirty
	l.dirDirty = false
	l.mu.Unlock()
	if err == nil && dir {
		err = syncDir(l.dir)
	}
	if err == nil && l.syncErr != nil {
		err = fmt.Errorf("an earlier fsync failed: %w", l.syncErr)
	}
	l.closeSyncFile()
	l.m.unregister()
	if err != nil {
		return fmt.Errorf("close wal %s: %w", l.dir, err)
	}
	return nil
}

// Reopen closes and reopens the log in place after a failed Append (a full
// disk, say) or fsync: Open's repair cuts whatever was half written off the
// tail, and appends continue after the last whole record. Records appended
// since the last successful Sync may be gone, so callers re-append what was
// not synced (their sources re-read it: positions live in the records).
// Readers reposition by themselves. Safe for concurrent use; it blocks
// Append, Read, Sync and TruncateFront meanwhile. Returns ErrClosed after
// Close.
func (l *Log) Reopen() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("reopen wal %s: %w", l.dir, ErrClosed)
	}
	_ = l.tw.Close() // its state is what failed; the files are what counts
	l.closeSyncFile()
	l.m.unregister()
	l.failed, l.twCorrupt, l.syncErr, l.dirDirty = nil, false, nil, false
	if err := l.open(); err != nil {
		l.closed = true
		return fmt.Errorf("reopen wal %s: %w", l.dir, err)
	}
	l.batch.Clear()
	return nil
}
