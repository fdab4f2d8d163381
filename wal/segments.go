package wal

import (
	"fmt"
	"os"
)

// segmentBlocks learns the first block index of every segment file (named
// by its first record index) from the head of its first record, and the
// index of the log's last block from the tail's records (or, if the tail
// holds none, from those of the segment before it). lastRec is tidwall's
// last record index, checked against what the tail holds. A segment
// before the tail whose first head cannot be read (damage that Reader
// reports as corruption) is taken to start where the one before it does.
func (l *Log) segmentBlocks(files []SegmentInfo, lastRec uint64) ([]segment, uint64, error) {
	segs := make([]segment, len(files))
	for i, f := range files {
		segs[i] = segment{rec: f.FirstIndex, size: f.Size}
		if i == len(files)-1 {
			break
		}
		first, _, _, err := l.walkSegment(f.FirstIndex, false)
		if err != nil || (i > 0 && first <= segs[i-1].first) {
			// Damage: number on from the blocks of the segment before.
			l.logger.Warn("wal: the first record of a segment is unreadable", "segment", l.segmentPath(f.FirstIndex), "err", err)
			first = f.FirstIndex
			if i > 0 {
				_, next, _, _ := l.walkSegment(segs[i-1].rec, true)
				first = max(next, segs[i-1].first+1)
			}
		}
		segs[i].first = first
	}
	tail := &segs[len(segs)-1]
	first, next, n, err := l.walkSegment(tail.rec, true)
	if err != nil {
		return nil, 0, fmt.Errorf("read the records of the tail segment: %w", err)
	}
	if n > 0 {
		if tail.rec+n-1 != lastRec {
			return nil, 0, fmt.Errorf("tail segment %d holds %d records, tidwall's last is %d", tail.rec, n, lastRec)
		}
		tail.first = first
		return segs, next - 1, nil
	}
	// An empty tail: the next block follows the segment before it, or,
	// with none, is the tail's record index (a new log, or one emptied
	// before group records: both numberings agree).
	tail.first = tail.rec
	if len(segs) > 1 {
		prev := segs[len(segs)-2]
		_, next, n, err := l.walkSegment(prev.rec, true)
		if err != nil {
			// Damage Reader reports as corruption: number on from what
			// reads.
			l.logger.Warn("wal: a record of the segment before the tail is unreadable", "segment", l.segmentPath(prev.rec), "err", err)
		}
		tail.first = max(next, prev.first)
		_ = n
	}
	return segs, tail.first - 1, nil
}

// walkSegment reads the record heads of the segment file whose first record
// is rec, only the first unless all: first is the index of its first block,
// next the index after the last block read, n how many records it read.
// An empty file returns n = 0. On error it returns what it read before.
func (l *Log) walkSegment(rec uint64, all bool) (first, next, n uint64, err error) {
	f, err := os.Open(l.segmentPath(rec))
	if err != nil {
		return 0, 0, 0, err
	}
	r := Reader{l: l, f: f, rec: rec}
	defer r.Close()
	for {
		if ok, err := r.fits(1); err != nil {
			return first, next, n, err
		} else if !ok {
			return first, next, n, nil
		}
		if err := r.loadHead(); err != nil {
			return first, next, n, err
		}
		if n == 0 {
			first = r.head.first
		} else if r.head.first != next {
			return first, next, n, fmt.Errorf("%w: record %d holds blocks from %d, want %d", ErrBadRecord, r.rec, r.head.first, next)
		}
		n++
		next = r.head.first + uint64(r.head.n)
		if !all {
			return first, next, n, nil
		}
		r.advance()
	}
}
