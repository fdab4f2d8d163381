package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/s2"
)

const (
	// blockVersionS2 is a version 2 block compressed: the version byte,
	// the checksum of the version 2 payload (4 bytes, little-endian), then
	// that payload after its version byte as one S2 block
	// (github.com/klauspost/compress/s2).
	blockVersionS2 = 3
	s2Head         = 1 + crcSize // version and the version 2 checksum
	// minCompressBytes: a smaller payload is stored as it is (S2 saves
	// little on a few lines, and the attempt costs a pool round trip).
	minCompressBytes = 512
	// MaxBlockBytes bounds a compressed block's decoded size: CompressBlock
	// stores a larger payload as it is, and decoding refuses a compressed
	// block that claims more, so damage that passes the checksum cannot
	// make a reader allocate more than this.
	MaxBlockBytes = 64 << 20
)

// compressScratch holds S2 output buffers for CompressBlock, which runs on
// many sources' goroutines at once.
var compressScratch sync.Pool // of *[]byte

// CompressBlock returns rec, a framed version 2 block as EncodeBlock
// returns it, as a framed version 3 block (the same payload after the
// version byte, S2-compressed, with the version 2 checksum kept) in a new
// slice of exactly its size, when that makes it minRatio times smaller
// (and saves at least an eighth whatever minRatio says); rec is not
// modified. Otherwise, and for any other record, it returns rec itself. The frame's checksum is the new payload's. Readers see no
// difference: Reader.Read returns the block decompressed, as EncodeBlock
// made it.
func CompressBlock(rec []byte, minRatio float64) []byte {
	if len(rec) < crcSize+1+minCompressBytes || len(rec) > crcSize+1+MaxBlockBytes || rec[crcSize] != blockVersion {
		return rec
	}
	body := rec[crcSize+1:]
	need := s2.MaxEncodedLen(len(body))
	sp, _ := compressScratch.Get().(*[]byte)
	if sp == nil {
		sp = new([]byte)
	}
	if cap(*sp) < need {
		*sp = make([]byte, need)
	}
	z := s2.Encode((*sp)[:need], body)
	if n := crcSize + s2Head + len(z); n > len(rec)-len(rec)/8 || float64(n)*minRatio > float64(len(rec)) {
		compressScratch.Put(sp)
		return rec
	}
	out := make([]byte, crcSize+s2Head+len(z))
	out[crcSize] = blockVersionS2
	copy(out[crcSize+1:], rec[:crcSize])
	copy(out[crcSize+s2Head:], z)
	compressScratch.Put(sp)
	binary.LittleEndian.PutUint32(out, crc32.Checksum(out[crcSize:], castagnoli))
	return out
}

// decompressedLen returns the decoded size of an S2 block, refusing more
// than MaxBlockBytes.
func decompressedLen(body []byte) (int, error) {
	n, err := s2.DecodedLen(body)
	if err != nil {
		return 0, fmt.Errorf("compressed block: %w", err)
	}
	if n > MaxBlockBytes {
		return 0, fmt.Errorf("compressed block claims %d bytes, more than %d", n, MaxBlockBytes)
	}
	return n, nil
}

// decompressPayload appends the version 2 payload of p, a version 3
// payload, to dst, and returns the version 2 payload's checksum.
func decompressPayload(dst, p []byte) ([]byte, uint32, error) {
	if len(p) < s2Head {
		return dst, 0, fmt.Errorf("compressed block: %w", ErrTruncated)
	}
	sum := binary.LittleEndian.Uint32(p[1:])
	body := p[s2Head:]
	n, err := decompressedLen(body)
	if err != nil {
		return dst, 0, err
	}
	start := len(dst)
	if cap(dst)-start < 1+n {
		grown := make([]byte, start, start+1+n)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, blockVersion)
	if _, err := s2.Decode(dst[start+1:start+1+n], body); err != nil {
		return dst[:start], 0, fmt.Errorf("compressed block: %w", err)
	}
	return dst[:start+1+n], sum, nil
}

// decompressRecord turns rec, a framed block whose checksum was verified,
// into the framed version 2 block EncodeBlock made, in dst[:0], when it is
// version 3, and returns rec itself otherwise. rec and dst must not
// overlap. The version 2 checksum is the one CompressBlock kept: it is
// not computed again.
func decompressRecord(dst, rec []byte) ([]byte, error) {
	if len(rec) <= crcSize || rec[crcSize] != blockVersionS2 {
		return rec, nil
	}
	dst = append(dst[:0], 0, 0, 0, 0)
	dst, sum, err := decompressPayload(dst, rec[crcSize:])
	if err != nil {
		return dst[:0], err
	}
	binary.LittleEndian.PutUint32(dst, sum)
	return dst, nil
}
