package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record layouts. A record is one tidwall entry. Since format 3 it holds
// the blocks of one group commit (a group record); before, it was one
// framed block (a single record). The byte after the leading checksum
// tells them apart: a block's version (1 or 2), or groupVersion.
const (
	groupVersion = 3
	// maxRecordBlocks bounds the blocks of one record, so its head stays
	// under 16 KiB and a damaged count cannot ask for more.
	maxRecordBlocks = 4096
	// headPeek is how many bytes of a record a Reader reads to learn its
	// head (with the length prefix before it): enough for the counts and
	// the lengths of 10 blocks; a longer head costs a second pread.
	headPeek = binary.MaxVarintLen64 + crcSize + 1 + 2*binary.MaxVarintLen64 + 40
)

// recHead is a record's head: which blocks it holds and where they are.
type recHead struct {
	// first is the index of its first block: for a single record, its own
	// record index (single records were written when every record was one
	// block, so the two numberings agree there).
	first uint64
	// n is how many blocks it holds: 1 for a single record; 0 for a
	// marker, the group record TruncateFront writes to empty the log
	// without losing the next index.
	n int
	// start is where its first block begins, from the record's start (0
	// for a single record: the record is the block).
	start int
	// ends holds each block's end, from the record's start.
	ends []int
}

// last returns the index of the record's last block (first-1 for a
// marker).
func (h *recHead) last() uint64 { return h.first + uint64(h.n) - 1 }

// block returns the offset and length of the record's block index.
func (h *recHead) block(index uint64) (off, size int) {
	i := int(index - h.first)
	off = h.start
	if i > 0 {
		off = h.ends[i-1]
	}
	return off, h.ends[i] - off
}

// appendGroupRecord appends to dst a group record holding blocks (framed
// blocks that passed CheckRecord) under the indexes from first on:
//
//	crc32c(head) | head | block…
//	head = groupVersion | uvarint first | uvarint n | n × uint32 len(block), little-endian
func appendGroupRecord(dst []byte, first uint64, blocks [][]byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, groupVersion)
	dst = binary.AppendUvarint(dst, first)
	dst = binary.AppendUvarint(dst, uint64(len(blocks)))
	for _, b := range blocks {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b)))
	}
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+crcSize:], castagnoli))
	for _, b := range blocks {
		dst = append(dst, b...)
	}
	return dst
}

// parseHead parses the head of a record of size bytes whose first bytes
// are p (len(p) <= size), stored under record index rec, into h (reusing
// h.ends). If p is too short to hold the head it returns the number of
// bytes needed and no error. It checks the head's checksum and that the
// blocks' lengths add up to the record, not the blocks' own checksums.
// Errors wrap ErrBadRecord.
func parseHead(p []byte, size int, rec uint64, h *recHead) (need int, err error) {
	if size <= crcSize || len(p) <= crcSize {
		return 0, fmt.Errorf("%w: record of %d bytes is too short", ErrBadRecord, size)
	}
	switch p[crcSize] {
	case blockVersion1, blockVersion:
		h.first, h.n, h.start = rec, 1, 0
		h.ends = append(h.ends[:0], size)
		return 0, nil
	case groupVersion:
	default:
		return 0, fmt.Errorf("%w: unknown record version %d", ErrBadRecord, p[crcSize])
	}
	at := crcSize + 1
	first, k := binary.Uvarint(p[at:])
	if k <= 0 {
		if len(p) < size && len(p) < at+2*binary.MaxVarintLen64 {
			return at + 2*binary.MaxVarintLen64, nil
		}
		return 0, fmt.Errorf("%w: bad first index in record head", ErrBadRecord)
	}
	at += k
	n, k := binary.Uvarint(p[at:])
	if k <= 0 {
		if len(p) < size && len(p) < at+binary.MaxVarintLen64 {
			return at + binary.MaxVarintLen64, nil
		}
		return 0, fmt.Errorf("%w: bad block count in record head", ErrBadRecord)
	}
	at += k
	if n > maxRecordBlocks || first == 0 || first+n < first {
		return 0, fmt.Errorf("%w: record head claims %d blocks from index %d", ErrBadRecord, n, first)
	}
	headEnd := at + 4*int(n)
	if headEnd > size {
		return 0, fmt.Errorf("%w: record head of %d blocks runs past the record's %d bytes", ErrBadRecord, n, size)
	}
	if len(p) < headEnd {
		return headEnd, nil
	}
	if got, want := crc32.Checksum(p[crcSize:headEnd], castagnoli), binary.LittleEndian.Uint32(p); got != want {
		return 0, fmt.Errorf("%w: record head checksum %08x, want %08x", ErrBadRecord, got, want)
	}
	h.first, h.n, h.start = first, int(n), headEnd
	h.ends = h.ends[:0]
	end := headEnd
	for i := 0; i < int(n); i++ {
		bl := int(binary.LittleEndian.Uint32(p[at+4*i:]))
		if bl <= crcSize || bl > size-end {
			return 0, fmt.Errorf("%w: block %d of the record is %d bytes, %d left", ErrBadRecord, i, bl, size-end)
		}
		end += bl
		h.ends = append(h.ends, end)
	}
	if end != size {
		return 0, fmt.Errorf("%w: the record's blocks end at %d of its %d bytes", ErrBadRecord, end, size)
	}
	return 0, nil
}

// checkWholeRecord parses the head of rec, a whole record stored under
// record index rec, and verifies every block's checksum.
func checkWholeRecord(data []byte, rec uint64, h *recHead) error {
	need, err := parseHead(data, len(data), rec, h)
	if err != nil {
		return err
	}
	if need > 0 {
		return fmt.Errorf("%w: record head incomplete", ErrBadRecord)
	}
	for i := 0; i < h.n; i++ {
		off, size := h.block(h.first + uint64(i))
		if err := CheckRecord(data[off : off+size]); err != nil {
			return fmt.Errorf("block %d of %d in the record: %w", i+1, h.n, err)
		}
	}
	return nil
}

// scanRecords walks the records of a segment's bytes whose first record is
// record index rec, verifying each whole (checkWholeRecord) and that their
// blocks are contiguous, and stops before the first that is not whole and
// good, or whose last block is past limit. It returns the length of the
// prefix it accepted, how many records and the index after their last
// block (next; 0 when it accepted none).
func scanRecords(data []byte, rec, limit uint64) (off int, nrec, next uint64) {
	var h recHead
	for off < len(data) {
		size, k := binary.Uvarint(data[off:])
		if k <= 0 || size == 0 || size > uint64(len(data)-off-k) {
			break
		}
		if checkWholeRecord(data[off+k:off+k+int(size)], rec+nrec, &h) != nil {
			break
		}
		if (nrec > 0 && h.first != next) || (h.n > 0 && h.last() > limit) {
			break
		}
		off += k + int(size)
		nrec++
		next = h.first + uint64(h.n)
	}
	return off, nrec, next
}
