package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
)

// logBlock returns a block of n logfmt lines with varying fields, as an
// application writes them: S2 compresses it about 3 to 4 times.
func logBlock(n int, seed int64) *Block {
	r := rand.New(rand.NewSource(seed))
	b := &Block{
		Source:   "app",
		Labels:   []Label{{Name: "job", Value: "app"}},
		Position: Position{FileID: "1:2", Path: "/var/log/app.log", Offset: int64(n) * 150},
	}
	for i := range n {
		line := fmt.Appendf(nil, "ts=2026-12-06T03:%02d:%02d.%06dZ level=info path=/api/v1/items status=%d duration=%dms trace_id=%016x msg=\"request served\"",
			r.Intn(60), r.Intn(60), r.Intn(1e6), 200+r.Intn(4), r.Intn(2000), r.Uint64())
		b.Entries = append(b.Entries, Entry{Time: int64(1e18) + int64(i), Line: line})
	}
	return b
}

// compress1 is CompressBlock with no ratio asked for beyond an eighth.
func compress1(rec []byte) []byte {
	c, _ := CompressBlock(rec, 1)
	return c
}

// randomBlock returns a block of random bytes, which S2 cannot shrink.
func randomBlock(size int) *Block {
	line := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(line)
	return &Block{Source: "rand", Entries: []Entry{{Time: 1, Line: line}}}
}

// TestCompressBlock: a block of log lines is stored compressed and shorter,
// decodes to the same block, and Reader.Read returns exactly what
// EncodeBlock made; a block too small or that S2 cannot shrink by an
// eighth is left as it is.
func TestCompressBlock(t *testing.T) {
	blocks := map[string]*Block{"log lines": logBlock(400, 1)}
	for name, b := range codecBlocks() {
		blocks[name] = b
	}
	blocks["random"] = randomBlock(8 << 10)
	for name, want := range blocks {
		t.Run(name, func(t *testing.T) {
			raw := EncodeBlock(nil, want)
			in := bytes.Clone(raw)
			rec := compress1(in)
			if !bytes.Equal(in, raw) {
				t.Fatal("CompressBlock modified its argument")
			}
			compressed := rec[crcSize] == blockVersionS2
			switch {
			case name == "log lines" && (!compressed || len(rec) > len(raw)/2):
				t.Fatalf("log lines: %d bytes, version %d, from %d: want compressed to less than half", len(rec), rec[crcSize], len(raw))
			case (name == "random" || len(raw) < crcSize+1+minCompressBytes) && !bytes.Equal(rec, raw):
				t.Fatalf("%d bytes became %d (version %d): want them as they were", len(raw), len(rec), rec[crcSize])
			case compressed && len(rec)+len(raw)/8 > len(raw):
				t.Fatalf("compressed to %d bytes from %d: saves less than an eighth", len(rec), len(raw))
			}
			if err := CheckRecord(rec); err != nil {
				t.Fatal(err)
			}
			var got Block
			if err := DecodeBlock(rec, &got); err != nil {
				t.Fatalf("DecodeBlock: %v", err)
			}
			if !equalBlocks(&got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, *want)
			}
			out, err := decompressRecord(nil, rec)
			if err != nil || !bytes.Equal(out, raw) {
				t.Fatalf("decompressRecord: %v, equal to EncodeBlock's: %v", err, bytes.Equal(out, raw))
			}

			dir := t.TempDir()
			l := openLog(t, dir, nil)
			if _, _, err := l.Append([][]byte{rec, raw}); err != nil {
				t.Fatal(err)
			}
			rd := l.NewReader()
			defer rd.Close()
			for i := uint64(1); i <= 2; i++ {
				got, err := rd.Read(make([]byte, 3), i)
				if err != nil || !bytes.Equal(got, raw) {
					t.Fatalf("Read %d: %v, equal to EncodeBlock's: %v", i, err, bytes.Equal(got, raw))
				}
			}
		})
	}
}

// TestCompressBlockOnlyVersion2: CompressBlock leaves alone what is not a
// version 2 block (version 1, one already compressed, a short record).
func TestCompressBlockOnlyVersion2(t *testing.T) {
	c := compress1(EncodeBlock(nil, logBlock(100, 2)))
	if c[crcSize] != blockVersionS2 {
		t.Fatal("not compressed")
	}
	v1 := reframe(append([]byte{blockVersion1}, bytes.Repeat([]byte{0}, 2000)...))
	for _, rec := range [][]byte{nil, {1, 2, 3}, c, v1} {
		if got := compress1(bytes.Clone(rec)); !bytes.Equal(got, rec) {
			t.Fatalf("CompressBlock changed a record of version %v", rec[min(crcSize, len(rec)-1):])
		}
	}
}

// TestCompressBlockChecksFirst: a version 2 block whose checksum does not
// match (changed after EncodeBlock) is not compressed, so Append still
// refuses it; S2 does not run on what is too small, or too repetitive to
// decode within maxCompressRatio of its size.
func TestCompressBlockChecksFirst(t *testing.T) {
	rec := EncodeBlock(nil, logBlock(100, 6))
	rec[len(rec)-1] ^= 1
	if out, tried := CompressBlock(rec, 1); tried || !bytes.Equal(out, rec) {
		t.Fatalf("a block with a bad checksum: tried %v, changed %v", tried, !bytes.Equal(out, rec))
	}
	l := openLog(t, t.TempDir(), nil)
	if _, _, err := l.Append([][]byte{rec}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("Append of a block with a bad checksum: %v, want ErrBadRecord", err)
	}
	small := EncodeBlock(nil, &Block{Source: "s", Entries: []Entry{{Time: 1, Line: []byte("short")}}})
	if out, tried := CompressBlock(small, 1); tried || !bytes.Equal(out, small) {
		t.Fatalf("a %d-byte block: tried %v", len(small), tried)
	}
	same := EncodeBlock(nil, &Block{Source: "s", Entries: []Entry{{Time: 1, Line: make([]byte, 4<<20)}}})
	out, tried := CompressBlock(same, 1)
	if !tried || !bytes.Equal(out, same) {
		t.Fatalf("4 MiB of zeros: tried %v, stored compressed %v; want it as it is (it would shrink past %d times)",
			tried, !bytes.Equal(out, same), maxCompressRatio)
	}
}

// TestDecodeCompressedRejects: damage to a compressed block that passes the
// checksum (a bug, or a fuzzer) is an ErrBadRecord, never a panic or an
// allocation of what the block claims.
func TestDecodeCompressedRejects(t *testing.T) {
	rec := compress1(EncodeBlock(nil, logBlock(200, 3)))
	payload := rec[crcSize:]
	var b Block
	t.Run("truncated", func(t *testing.T) {
		for n := 1; n < len(payload); n++ {
			if err := DecodeBlock(reframe(payload[:n]), &b); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("DecodeBlock of %d of %d payload bytes: %v, want ErrBadRecord", n, len(payload), err)
			}
		}
	})
	t.Run("bytes changed", func(t *testing.T) {
		for i := s2Head; i < len(payload); i += 7 {
			bad := bytes.Clone(payload)
			bad[i] ^= 0x5a
			_ = DecodeBlock(reframe(bad), &b) // may decode to other lines; must not panic
		}
	})
	t.Run("claims too much", func(t *testing.T) {
		bad := append([]byte{blockVersionS2, 0, 0, 0, 0}, binary.AppendUvarint(nil, MaxBlockBytes+1)...)
		bad = append(bad, 0)
		if err := DecodeBlock(reframe(bad), &b); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("DecodeBlock: %v, want ErrBadRecord", err)
		}
	})
	t.Run("decodes to far more than its size", func(t *testing.T) {
		// A few hundred bytes that S2 decodes to 16 MiB of empty
		// entries: refused before anything is allocated for them.
		z := s2.Encode(nil, make([]byte, 16<<20))
		if len(z)*maxCompressRatio+compressSlack >= 16<<20 {
			t.Fatalf("S2 made %d bytes of 16 MiB of zeros: the test needs fewer", len(z))
		}
		bad := append([]byte{blockVersionS2, 0, 0, 0, 0}, z...)
		if err := DecodeBlock(reframe(bad), &b); !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), "claims") {
			t.Fatalf("DecodeBlock: %v, want ErrBadRecord for its claim", err)
		}
	})
	t.Run("kept checksum", func(t *testing.T) {
		bad := bytes.Clone(payload)
		bad[1] ^= 0xff // the version 2 checksum CompressBlock kept
		if err := DecodeBlock(reframe(bad), &b); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("DecodeBlock: %v, want ErrBadRecord", err)
		}
		if _, err := decompressRecord(nil, reframe(bad)); err == nil {
			t.Fatal("decompressRecord accepted a block that does not match its kept checksum")
		}
	})
	t.Run("compressed twice", func(t *testing.T) {
		// A version 3 block whose payload is itself version 3: decoding
		// does not recurse.
		inner := rec[crcSize:]
		twice := append([]byte{blockVersionS2, 0, 0, 0, 0}, s2.Encode(nil, inner)...)
		if err := DecodeBlock(reframe(twice), &b); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("DecodeBlock: %v, want ErrBadRecord", err)
		}
	})
	t.Run("read", func(t *testing.T) {
		bad := bytes.Clone(payload)
		bad = bad[:len(bad)-3] // the S2 block ends early
		l := openLog(t, t.TempDir(), nil)
		if _, _, err := l.Append([][]byte{reframe(bad), EncodeBlock(nil, logBlock(3, 4))}); err != nil {
			t.Fatal(err)
		}
		rd := l.NewReader()
		defer rd.Close()
		var ce *CorruptionError
		if _, err := rd.Read(nil, 1); !errors.As(err, &ce) || !errors.Is(err, ErrBadRecord) {
			t.Fatalf("Read of a damaged compressed block: %v, want a CorruptionError", err)
		}
		if _, err := rd.Read(nil, 2); err != nil {
			t.Fatalf("Read of the next block: %v", err)
		}
	})
}

// BenchmarkCompressBlock measures CompressBlock and a Read's decompression
// of a 64 KiB block of varied log lines (the file source's default block).
func BenchmarkCompressBlock(b *testing.B) {
	raw := EncodeBlock(nil, logBlock(64<<10/150, 5))
	b.Run("compress", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		var n int
		for b.Loop() {
			n = len(compress1(raw))
		}
		b.ReportMetric(float64(len(raw))/float64(n), "ratio")
	})
	rec := compress1(bytes.Clone(raw))
	b.Run("decompress", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		var dst []byte
		for b.Loop() {
			dst, _ = decompressRecord(dst, rec)
		}
	})
}
