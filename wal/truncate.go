package wal

import (
	"errors"
	"fmt"
	"os"
)

// TruncateFront removes every block below index. Callers should pass a
// segment's FirstIndex: the segments below it are then deleted, and the
// segment starting at index is copied once (tidwall rewrites the segment
// holding the new first record). Any index in (FirstIndex, LastIndex+1]
// is accepted, but a record is kept or removed whole: FirstIndex becomes
// the first index of the record holding index, which may be below it.
// LastIndex+1 empties the log: a marker record that holds no block keeps
// the next index. An index at or below FirstIndex is a no-op; one past
// LastIndex+1 returns ErrNotFound (wrapped). Blocks past DurableIndex are
// made durable first (a fsync), so that the log never starts with a
// record a power cut could take back.
//
// While a failure awaits Reopen (Err is not nil), only a segment's
// FirstIndex at or below DurableIndex is accepted, and the files below it
// are simply deleted: this needs no free space, so retention can still
// free the disk.
//
// It takes 40–150 ms, during which Append, Read and Sync wait; it fsyncs
// the directory before returning. Safe for concurrent use. If tidwall fails
// after it has started replacing files, Append, Read and TruncateFront
// fail with the cause until the log is reopened, which finishes the
// interrupted truncation. Returns ErrClosed (wrapped) after Close.
func (l *Log) TruncateFront(index uint64) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if index > l.durable.Load() && index <= l.last.Load() && l.Err() == nil {
		if err := l.syncLocked(); err != nil {
			return fmt.Errorf("truncate wal front to %d: %w", index, err)
		}
	}
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
	if l.failed != nil {
		return l.deleteSegmentsLocked(index)
	}
	var rec, recFirst uint64
	if index == last+1 {
		// Empty the log, keeping the next index in a marker record.
		l.recBuf = appendGroupRecord(l.recBuf[:0], index, nil)
		if err := l.writeRecord(l.lastRec+1, l.recBuf); err != nil {
			l.failed = err
			l.untrusted = l.untrusted || !isWriteError(err)
			return false, false, fmt.Errorf("write the marker of an emptied log: %w", err)
		}
		l.recs = append(l.recs[:0], recInfo{size: int64(UvarintLen(uint64(len(l.recBuf))) + len(l.recBuf))})
		l.account()
		rec, recFirst = l.lastRec, index
	}
	k := len(l.segs) - 1
	for k > 0 && (rec != 0 && l.segs[k].rec > rec || rec == 0 && l.segs[k].first > index) {
		k--
	}
	if rec == 0 {
		if rec, recFirst, err = l.recordHolding(l.segs[k], index); err != nil {
			return false, false, err
		}
	}
	if err := l.tw.TruncateFront(rec); err != nil {
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
	newSize := seg.size
	if rec != seg.rec {
		info, err := os.Stat(l.segmentPath(rec))
		if err != nil {
			l.failed = err
			return true, k == len(l.segs)-1, fmt.Errorf("stat rewritten segment: %w", err)
		}
		newSize = info.Size()
	}
	removed := seg.size - newSize
	for _, s := range l.segs[:k] {
		removed += s.size
	}
	tailRewritten = k == len(l.segs)-1
	l.dropSegmentsLocked(k)
	l.segs[0] = segment{rec: rec, first: recFirst, size: newSize}
	l.publishSegments(false)
	l.first.Store(recFirst)
	l.size.Add(-removed)
	return true, tailRewritten, nil
}

// recordHolding returns the record index and first block index of the
// record of seg that holds block index, reading its heads.
func (l *Log) recordHolding(seg segment, index uint64) (rec, first uint64, err error) {
	if index == seg.first {
		return seg.rec, seg.first, nil
	}
	f, err := os.Open(l.segmentPath(seg.rec))
	if err != nil {
		return 0, 0, err
	}
	r := Reader{l: l, f: f, rec: seg.rec}
	defer r.Close()
	for {
		if err := r.loadHead(); err != nil {
			return 0, 0, fmt.Errorf("find the record holding index %d: %w", index, err)
		}
		if index < r.head.first+uint64(r.head.n) {
			return r.rec, r.head.first, nil
		}
		r.advance()
	}
}

// deleteSegmentsLocked truncates the front of a failed log, whose tidwall
// state is not to be used, by deleting the files of the segments before
// the one starting at index, which must be at or below DurableIndex (so
// that a durable record keeps the indexes after Reopen). Reopen loads what
// is left.
func (l *Log) deleteSegmentsLocked(index uint64) (changed, tailRewritten bool, err error) {
	k := len(l.segs) - 1
	for k > 0 && l.segs[k].first > index {
		k--
	}
	if l.segs[k].first != index || index > l.durable.Load() {
		return false, false, fmt.Errorf("only a segment's first index at or below the durable index %d, while a failure awaits Reopen: %w",
			l.durable.Load(), l.failed)
	}
	var removed int64
	for n, s := range l.segs[:k] {
		if err := os.Remove(l.segmentPath(s.rec)); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.dropSegmentsLocked(n)
			l.publishSegments(false)
			l.first.Store(s.first)
			l.size.Add(-removed)
			return n > 0, false, fmt.Errorf("delete segment: %w", err)
		}
		removed += s.size
	}
	l.dropSegmentsLocked(k)
	l.publishSegments(false)
	l.first.Store(index)
	l.size.Add(-removed)
	return true, false, nil
}

// dropSegmentsLocked forgets segs[:k]; the caller publishes the list.
func (l *Log) dropSegmentsLocked(k int) {
	l.segs = append([]segment(nil), l.segs[k:]...)
	l.nsegs.Store(int64(len(l.segs)))
}
