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

// Reader reads records in index order straight from the segment files with
// pread. Unlike Log.Read it never loads a segment into memory and holds no
// lock of the Log while it reads, so one Reader per sink runs alongside
// Append and the other Readers, and a sink far behind costs no memory.
//
// Sequential reads cost two preads each; a jump re-positions by walking the
// record headers from the start of the segment. A Reader is for one
// goroutine; Close it when done. It reads only indexes up to LastIndex,
// whose bytes have been written; whether they are durable is the caller's
// business (read only what Sync covered).
type Reader struct {
	l        *Log
	f        *os.File
	gen      uint64 // l.gen when segFirst/segNext were learnt
	segFirst uint64 // first index of the open segment
	segNext  uint64 // first index of the following segment; 0 while it is the tail
	next     uint64 // index of the record at off
	off      int64
	fileSize int64  // size of f when last looked at; the tail grows
	badFrom  uint64 // headers unreadable from this index to the segment's end; 0: none
	hdr      [binary.MaxVarintLen64]byte
}

// NewReader returns a Reader positioned nowhere; the first Read positions it.
func (l *Log) NewReader() *Reader { return &Reader{l: l} }

// Read appends the record at index to dst[:0] and returns it after
// verifying its checksum. The returned slice does not alias the log.
//
// Errors: ErrNotFound (wrapped) outside [FirstIndex, LastIndex] (a record
// below FirstIndex was deleted by TruncateFront); *CorruptionError when the
// record fails its checksum or its header cannot be read, in which case the
// caller skips the index and reads on. On error it returns dst[:0].
func (r *Reader) Read(dst []byte, index uint64) ([]byte, error) {
	dst = dst[:0]
	if first, last := r.l.first.Load(), r.l.last.Load(); index < first || index > last {
		return dst, fmt.Errorf("read wal index %d (have %d..%d): %w", index, first, last, ErrNotFound)
	}
	if r.gen != r.l.gen.Load() {
		// A segment started or a truncation replaced files (tidwall
		// rewrites the segment holding the new first index, possibly the
		// tail this Reader has open): find the record again by name.
		r.Close()
	}
	if r.f == nil || index < r.next || index < r.segFirst || (r.segNext != 0 && index >= r.segNext) {
		if err := r.position(index); err != nil {
			return dst, err
		}
	}
	if r.badFrom != 0 && index >= r.badFrom {
		return dst, r.corrupt(index, fmt.Errorf("%w: record headers after index %d are unreadable", ErrBadRecord, r.badFrom))
	}
	for r.next < index {
		if err := r.skip(); err != nil {
			r.badFrom = r.next
			return dst, r.corrupt(index, err)
		}
	}
	size, n, err := r.header()
	if err != nil {
		r.badFrom = r.next
		return dst, r.corrupt(index, err)
	}
	// The length prefix comes from disk: allocate only what the file
	// holds, so a damaged one cannot ask for gigabytes.
	if ok, err := r.fits(int64(n) + int64(size)); err != nil {
		return dst, fmt.Errorf("read wal index %d: %w", index, err)
	} else if !ok {
		r.badFrom = r.next
		return dst, r.corrupt(index, fmt.Errorf("%w: record of %d bytes at offset %d runs past the segment's end (%d bytes)",
			ErrBadRecord, size, r.off, r.fileSize))
	}
	if cap(dst) < int(size) {
		dst = make([]byte, size)
	} else {
		dst = dst[:size]
	}
	if _, err := r.f.ReadAt(dst, r.off+int64(n)); err != nil {
		r.badFrom = r.next
		return dst[:0], r.corrupt(index, fmt.Errorf("%w: record of %d bytes runs past the segment's end: %v", ErrBadRecord, size, err))
	}
	r.off += int64(n) + int64(size)
	r.next++
	if err := CheckRecord(dst); err != nil {
		return dst[:0], r.corrupt(index, err)
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
// open: then it looks again.
func (r *Reader) position(index uint64) error {
	for attempt := 0; ; attempt++ {
		r.gen = r.l.gen.Load()
		segs := r.l.Segments()
		i := len(segs) - 1
		for i > 0 && segs[i].FirstIndex > index {
			i--
		}
		if len(segs) == 0 || segs[i].FirstIndex > index {
			return fmt.Errorf("read wal index %d: %w", index, ErrNotFound)
		}
		f, err := os.Open(r.l.segmentPath(segs[i].FirstIndex))
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
		r.f, r.segFirst, r.next, r.off, r.badFrom = f, segs[i].FirstIndex, segs[i].FirstIndex, 0, 0
		r.fileSize = 0
		r.segNext = 0
		if i+1 < len(segs) {
			r.segNext = segs[i+1].FirstIndex
		}
		return nil
	}
}

// header reads the length prefix of the record at off.
func (r *Reader) header() (size uint64, n int, err error) {
	m, err := r.f.ReadAt(r.hdr[:], r.off)
	if m == 0 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, fmt.Errorf("%w: no record header at offset %d: %v", ErrBadRecord, r.off, err)
	}
	size, n = binary.Uvarint(r.hdr[:m])
	if n <= 0 || size == 0 || size > maxRecordSize {
		return 0, 0, fmt.Errorf("%w: bad record length prefix at offset %d", ErrBadRecord, r.off)
	}
	return size, n, nil
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

// skip moves past the record at off without reading it.
func (r *Reader) skip() error {
	size, n, err := r.header()
	if err != nil {
		return err
	}
	r.off += int64(n) + int64(size)
	r.next++
	return nil
}
