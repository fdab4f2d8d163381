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
	// MinCompressRecord is the shortest framed block CompressBlock tries.
	MinCompressRecord = crcSize + 1 + minCompressBytes
	// MaxBlockBytes bounds a compressed block's decoded size: CompressBlock
	// stores a larger payload as it is, and decoding refuses a compressed
	// block that claims more.
	MaxBlockBytes = 64 << 20
	// maxCompressRatio bounds a compressed block's decoded size by its
	// stored size: CompressBlock stores a block that S2 shrinks more as it
	// is, and decoding refuses a claim above it, so a damaged record that
	// passes its checksum makes a reader allocate at most this many times
	// its size (plus compressSlack), never MaxBlockBytes for a few bytes.
	// The decoded payload's own checksum is verified before anything in
	// it is decoded.
	maxCompressRatio = 512
	compressSlack    = 64 << 10
	// maxScratch: larger S2 output buffers are not kept for reuse.
	maxScratch = 1 << 20
)

// compressScratch holds S2 output buffers for CompressBlock, which runs on
// many sources' goroutines at once.
var compressScratch sync.Pool // of *[]byte

// CompressBlock returns rec, a framed version 2 block as EncodeBlock
// returns it, as a framed version 3 block (the same payload after the
// version byte, S2-compressed, with the version 2 checksum kept) in a new
// slice of exactly its size, when that makes it minRatio times smaller
// (and saves at least an eighth whatever minRatio says, and no more than
// maxCompressRatio times); rec is not modified. Otherwise it returns rec
// itself. tried says whether S2 ran: not for a record of another version,
// one shorter than 517 bytes or longer than MaxBlockBytes, or one whose
// checksum does not match (left for Append to refuse, as before). The frame's checksum is the new payload's. Readers see no
// difference: Reader.Read returns the block decompressed, as EncodeBlock
// made it.
func CompressBlock(rec []byte, minRatio float64) (out []byte, tried bool) {
	if len(rec) < MinCompressRecord || len(rec) > crcSize+1+MaxBlockBytes || rec[crcSize] != blockVersion ||
		CheckRecord(rec) != nil {
		return rec, false
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
	defer func() {
		if cap(*sp) <= maxScratch {
			compressScratch.Put(sp)
		}
	}()
	n := crcSize + s2Head + len(z)
	if n > len(rec)-len(rec)/8 || float64(n)*minRatio > float64(len(rec)) || len(body) > maxDecoded(len(z)) {
		return rec, true
	}
	out = make([]byte, n)
	out[crcSize] = blockVersionS2
	copy(out[crcSize+1:], rec[:crcSize])
	copy(out[crcSize+s2Head:], z)
	binary.LittleEndian.PutUint32(out, crc32.Checksum(out[crcSize:], castagnoli))
	return out, true
}

// maxDecoded is the most an S2 block of n bytes may decode to.
func maxDecoded(n int) int { return min(MaxBlockBytes, n*maxCompressRatio+compressSlack) }

// Compressed reports whether rec is a framed version 3 block.
func Compressed(rec []byte) bool { return len(rec) > crcSize && rec[crcSize] == blockVersionS2 }

// decompressedLen returns the decoded size of an S2 block, refusing more
// than maxDecoded.
func decompressedLen(body []byte) (int, error) {
	n, err := s2.DecodedLen(body)
	if err != nil {
		return 0, fmt.Errorf("compressed block: %w", err)
	}
	if limit := maxDecoded(len(body)); n > limit {
		return 0, fmt.Errorf("compressed block of %d bytes claims %d, more than %d", len(body), n, limit)
	}
	return n, nil
}

// decompressPayload appends the version 2 payload of p, a version 3
// payload, to dst, after verifying it against the checksum p kept, and
// returns that checksum.
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
	if got := crc32.Checksum(dst[start:start+1+n], castagnoli); got != sum {
		return dst[:start], 0, fmt.Errorf("compressed block decoded with checksum %08x, want %08x", got, sum)
	}
	return dst[:start+1+n], sum, nil
}

// decompressRecord turns rec, a framed block whose checksum was verified,
// into the framed version 2 block EncodeBlock made, in dst[:0], when it is
// version 3, and returns rec itself otherwise. rec and dst must not
// overlap. The version 2 checksum is the one CompressBlock kept, verified.
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
