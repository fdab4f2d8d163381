package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxRecordSize bounds a record's length prefix; a larger one is damage.
// Whatever the prefix says, a Reader allocates no more than the segment
// file still holds after it.
const maxRecordSize = 1 << 31

// Reader reads blocks in index order straight from the segment files with
// pread. Unlike tidwall it never loads a segment into memory and holds no
// lock of the Log while it reads, so one Reader per sink runs alongside
// Append and the other Readers, and a sink far behind costs no memory.
//
// A sequential read costs one pread per block, plus one or two per record
// for its head; a jump re-positions by walking the record heads from the
// start of the segment. A Reader is for one goroutine; Close it when done.
// It reads only indexes up to LastIndex, whose bytes have been written;
// whether they are durable is the caller's business (read only what Sync
// covered).
type Reader struct {
	l        *Log
	f        *os.File
	gen      uint64 // l.gen when seg/segNext were learnt
	seg      segRef
	segNext  uint64 // first index of the following segment; 0 while it is the tail
	off      int64  // file offset of the record at rec
	rec      uint64 // record index of the record at off
	next     uint64 // index of the first block at or after off
	head     recHead
	headOK   bool  // head describes the record at off
	size     int64 // that record's size
	prefix   int   // and its length prefix's
	fileSize int64 // size of f when last looked at; the tail grows
	badFrom  uint64
	// lostFrom…lostTo-1 are the blocks of records whose heads are damaged
	// (the records after them were found); 0, 0: none.
	lostFrom, lostTo uint64
	peek             []byte
	z                []byte // a compressed block being decompressed
}

// NewReader returns a Reader positioned nowhere; the first Read positions it.
func (l *Log) NewReader() *Reader { return &Reader{l: l} }

// Read appends the block at index, framed as EncodeBlock wrote it, to
// dst[:0] and returns it after verifying its checksum. A block stored
// compressed (CompressBlock) is returned decompressed, as EncodeBlock made
// it, with its checksum. The returned slice does not alias the log.
//
// Errors: ErrNotFound (wrapped) outside [FirstIndex, LastIndex] (a block
// below FirstIndex was deleted by TruncateFront); *CorruptionError when the
// block fails its checksum or the record head that locates it cannot be
// read, in which case the caller skips the index and reads on. On error it
// returns dst[:0].
func (r *Reader) Read(dst []byte, index uint64) ([]byte, error) {
	dst = dst[:0]
	if first, last := r.l.first.Load(), r.l.last.Load(); index < first || index > last {
		return dst, fmt.Errorf("read wal index %d (have %d..%d): %w", index, first, last, ErrNotFound)
	}
	if r.gen != r.l.gen.Load() {
		// A segment started or a truncation replaced files (tidwall
		// rewrites the segment holding the new first record, possibly the
		// tail this Reader has open): find the block again.
		r.Close()
	}
	if r.f == nil || index < r.next || index < r.seg.first || (r.segNext != 0 && index >= r.segNext) {
		if err := r.position(index); err != nil {
			return dst, err
		}
	}
	if index >= r.lostFrom && index < r.lostTo {
		return dst, r.corrupt(index, fmt.Errorf("%w: the head of the record holding it is damaged", ErrBadRecord))
	}
	if r.badFrom != 0 && index >= r.badFrom {
		return dst, r.corrupt(index, fmt.Errorf("%w: record headers after index %d are unreadable", ErrBadRecord, r.badFrom))
	}
	for {
		if !r.headOK {
			if err := r.loadHead(); err != nil {
				if lerr := r.skipLost(); lerr != nil {
					r.badFrom = r.next
					return dst, r.corrupt(index, err)
				}
				if index < r.lostTo {
					return dst, r.corrupt(index, err)
				}
				continue
			}
		}
		if index < r.head.first+uint64(r.head.n) {
			break
		}
		r.advance()
	}
	if index < r.head.first {
		// Only damage gets here: the record after a damaged one starts
		// past index.
		return dst, r.corrupt(index, fmt.Errorf("%w: no record holds it", ErrBadRecord))
	}
	off, size := r.head.block(index)
	if cap(dst) < size {
		dst = make([]byte, size)
	} else {
		dst = dst[:size]
	}
	if _, err := r.f.ReadAt(dst, r.off+int64(r.prefix)+int64(off)); err != nil {
		r.badFrom = r.next
		return dst[:0], r.corrupt(index, fmt.Errorf("%w: block of %d bytes runs past the segment's end: %v", ErrBadRecord, size, err))
	}
	if err := CheckRecord(dst); err != nil {
		return dst[:0], r.corrupt(index, err)
	}
	if dst[crcSize] == blockVersionS2 {
		// Decompress from a copy: the caller's buffer receives the block.
		r.z = append(r.z[:0], dst...)
		var err error
		dst, err = decompressRecord(dst, r.z)
		if cap(r.z) > maxScratch {
			r.z = nil // a rare large block: not kept
		}
		if err != nil {
			return dst[:0], r.corrupt(index, fmt.Errorf("%w: %w", ErrBadRecord, err))
		}
	}
	return dst, nil
}

// Close closes the Reader's segment file. Safe to call twice.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

func (r *Reader) corrupt(index uint64, err error) error {
	r.l.m.corruptReads.Inc()
	return &CorruptionError{Index: index, Err: err}
}

// position opens the segment holding index at its first record. A
// concurrent TruncateFront may remove the file between the lookup and the
// open: then it looks again, once the truncation has published its list.
func (r *Reader) position(index uint64) error {
	for attempt := 0; ; attempt++ {
		r.gen = r.l.gen.Load()
		segs := r.l.segmentRefs(attempt > 0)
		i := len(segs) - 1
		for i > 0 && segs[i].first > index {
			i--
		}
		if len(segs) == 0 || segs[i].first > index {
			return fmt.Errorf("read wal index %d: %w", index, ErrNotFound)
		}
		f, err := os.Open(r.l.segmentPath(segs[i].rec))
		if errors.Is(err, os.ErrNotExist) && attempt < 3 {
			if index < r.l.first.Load() {
				return fmt.Errorf("read wal index %d: %w", index, ErrNotFound)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read wal index %d: open segment: %w", index, err)
		}
		r.Close()
		r.f, r.seg = f, segs[i]
		r.off, r.rec, r.next, r.headOK = 0, segs[i].rec, segs[i].first, false
		r.badFrom, r.lostFrom, r.lostTo = 0, 0, 0
		r.fileSize = 0
		r.segNext = 0
		if i+1 < len(segs) {
			r.segNext = segs[i+1].first
		}
		return nil
	}
}

// advance moves past the record at off, whose head is loaded.
func (r *Reader) advance() {
	r.off += int64(r.prefix) + r.size
	r.rec++
	r.next = r.head.first + uint64(r.head.n)
	r.headOK = false
}

// loadHead reads the length prefix and the head of the record at off.
func (r *Reader) loadHead() error {
	if cap(r.peek) < headPeek {
		r.peek = make([]byte, headPeek)
	}
	r.size = 0
	p := r.peek[:headPeek]
	m, err := r.f.ReadAt(p, r.off)
	if m == 0 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: no record header at offset %d: %v", ErrBadRecord, r.off, err)
	}
	p = p[:m]
	size, n := binary.Uvarint(p)
	if n <= 0 || size == 0 || size > maxRecordSize {
		return fmt.Errorf("%w: bad record length prefix at offset %d", ErrBadRecord, r.off)
	}
	// The length prefix comes from disk: believe it only as far as the
	// file goes, so a damaged one cannot make a Reader allocate gigabytes.
	if ok, err := r.fits(int64(n) + int64(size)); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: record of %d bytes at offset %d runs past the segment's end (%d bytes)",
			ErrBadRecord, size, r.off, r.fileSize)
	}
	r.size, r.prefix = int64(size), n
	body := p[n:min(len(p), n+int(size))]
	need, err := parseHead(body, int(size), r.rec, &r.head)
	if err == nil && need > 0 {
		if cap(r.peek) < n+need {
			r.peek = make([]byte, n+need)
		}
		body = r.peek[n : n+need]
		if _, err := r.f.ReadAt(body, r.off+int64(n)); err != nil {
			return fmt.Errorf("%w: record head at offset %d: %v", ErrBadRecord, r.off, err)
		}
		need, err = parseHead(body, int(size), r.rec, &r.head)
		if err == nil && need > 0 {
			err = fmt.Errorf("%w: record head at offset %d does not parse", ErrBadRecord, r.off)
		}
	}
	if err != nil {
		return err
	}
	r.headOK = true
	return nil
}

// skipLost moves past records whose length prefix is good but whose head
// is damaged, to the next record with a good head: the blocks before that
// record's first are lost (lostFrom, lostTo). It fails if no such record
// follows in the segment.
func (r *Reader) skipLost() error {
	from := r.next
	for {
		if r.size == 0 {
			return errors.New("no length prefix")
		}
		r.off += int64(r.prefix) + r.size
		r.rec++
		r.size = 0
		if r.segNext != 0 {
			if ok, err := r.fits(1); err != nil || !ok {
				// The segment ends: its remaining blocks are lost.
				r.lostFrom, r.lostTo = from, r.segNext
				r.next = r.segNext
				return nil
			}
		}
		if err := r.loadHead(); err != nil {
			continue
		}
		if r.head.first < from {
			return errors.New("the record after a damaged head goes back")
		}
		r.lostFrom, r.lostTo = from, r.head.first
		r.next = r.head.first
		return nil
	}
}

// fits checks that n bytes from off are inside the segment file, looking
// at its size again (the tail grows) only when the last size is too small.
func (r *Reader) fits(n int64) (bool, error) {
	if r.off+n <= r.fileSize {
		return true, nil
	}
	// The Reader only preads, so the file offset is free: lseek to the end
	// gives the size without Stat's allocation.
	size, err := r.f.Seek(0, io.SeekEnd)
	if err != nil {
		return false, fmt.Errorf("size of segment: %w", err)
	}
	r.fileSize = size
	return r.off+n <= r.fileSize, nil
}
