package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"
)

// codecBlocks returns blocks that exercise every field of the codec.
func codecBlocks() map[string]*Block {
	return map[string]*Block{
		"empty": {},
		"no labels": {
			Source:   "file",
			Position: Position{FileID: "2049:131", Path: "/var/log/syslog", Offset: 4096},
			Entries:  []Entry{{Time: 1700000000000000000, Line: []byte("hello")}},
		},
		"labels and several entries": {
			Source:   "k8s",
			Labels:   []Label{{Name: "namespace", Value: "prod"}, {Name: "pod", Value: "api-7d9f"}, {Name: "", Value: ""}},
			Position: Position{FileID: "fp:abc", Path: "/var/log/pods/x/0.log", Offset: 1 << 40},
			Entries: []Entry{
				{Time: 1700000000000000000, Line: []byte("first")},
				{Time: 1700000000000000001, Line: []byte("second")},
				{Time: 1700000000500000000, Line: []byte("third")},
			},
		},
		"empty lines": {
			Source:  "file",
			Entries: []Entry{{Time: 1, Line: nil}, {Time: 2, Line: []byte{}}, {Time: 3, Line: []byte("x")}, {Time: 4}},
		},
		"binary, NUL and invalid UTF-8": {
			Source: "bin\x00src",
			Labels: []Label{{Name: "k\xff", Value: "v\x00"}},
			Entries: []Entry{
				{Time: 10, Line: []byte{0, 0, 0}},
				{Time: 11, Line: []byte{0xff, 0xfe, 0xc3, 0x28, '\n', '\r'}},
				{Time: 12, Line: bytes.Repeat([]byte{0x80}, 300)},
			},
		},
		"negative time deltas and extremes": {
			Source: "clock",
			Entries: []Entry{
				{Time: 1000, Line: []byte("a")},
				{Time: 999, Line: []byte("b")},
				{Time: -5, Line: []byte("c")},
				{Time: math.MaxInt64, Line: []byte("d")},
				{Time: math.MinInt64, Line: []byte("e")},
				{Time: 0, Line: []byte("f")},
			},
		},
		"negative offset": {Position: Position{Offset: -1}},
		"long line": {
			Source:  "big",
			Entries: []Entry{{Time: 1, Line: bytes.Repeat([]byte("0123456789"), 7000)}},
		},
	}
}

// equalBlocks compares blocks, treating nil and empty slices alike.
func equalBlocks(a, b *Block) bool {
	if a.Source != b.Source || a.Position != b.Position ||
		len(a.Labels) != len(b.Labels) || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Labels {
		if a.Labels[i] != b.Labels[i] {
			return false
		}
	}
	for i := range a.Entries {
		if a.Entries[i].Time != b.Entries[i].Time || !bytes.Equal(a.Entries[i].Line, b.Entries[i].Line) {
			return false
		}
	}
	return true
}

func TestBlockRoundTrip(t *testing.T) {
	// One Block reused across decodes, as readers do, so that slice reuse
	// is covered too.
	var got Block
	prefix := []byte("prefix")
	for name, want := range codecBlocks() {
		t.Run(name, func(t *testing.T) {
			rec := EncodeBlock(nil, want)
			if err := CheckRecord(rec); err != nil {
				t.Fatalf("CheckRecord: %v", err)
			}
			if err := DecodeBlock(rec, &got); err != nil {
				t.Fatalf("DecodeBlock: %v", err)
			}
			if !equalBlocks(&got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, *want)
			}
			// Appending to a non-empty dst frames only the new bytes.
			withPrefix := EncodeBlock(append([]byte(nil), prefix...), want)
			if !bytes.Equal(withPrefix[:len(prefix)], prefix) || !bytes.Equal(withPrefix[len(prefix):], rec) {
				t.Fatal("EncodeBlock with a non-empty dst differs")
			}
			if want.Size() != got.Size() {
				t.Fatalf("Size %d, want %d", got.Size(), want.Size())
			}
		})
	}
}

// reframe returns payload framed with a correct checksum.
func reframe(payload []byte) []byte {
	rec := binary.LittleEndian.AppendUint32(nil, crc32.Checksum(payload, castagnoli))
	return append(rec, payload...)
}

func TestDecodeBlockRejects(t *testing.T) {
	rec := EncodeBlock(nil, codecBlocks()["labels and several entries"])
	var b Block

	t.Run("truncated", func(t *testing.T) {
		for n := range len(rec) {
			if err := DecodeBlock(rec[:n], &b); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("DecodeBlock of %d of %d bytes: %v, want ErrBadRecord", n, len(rec), err)
			}
		}
	})
	t.Run("bit flipped", func(t *testing.T) {
		for bit := range len(rec) * 8 {
			bad := bytes.Clone(rec)
			bad[bit/8] ^= 1 << (bit % 8)
			if err := DecodeBlock(bad, &b); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("DecodeBlock with bit %d flipped: %v, want ErrBadRecord", bit, err)
			}
		}
	})
	t.Run("trailing byte", func(t *testing.T) {
		bad := reframe(append(bytes.Clone(rec[crcSize:]), 0))
		if err := DecodeBlock(bad, &b); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("DecodeBlock: %v, want ErrBadRecord", err)
		}
	})
	t.Run("unknown version", func(t *testing.T) {
		payload := bytes.Clone(rec[crcSize:])
		payload[0] = 2
		if err := DecodeBlock(reframe(payload), &b); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("DecodeBlock: %v, want ErrBadRecord", err)
		}
	})
	t.Run("payload truncated with a valid checksum", func(t *testing.T) {
		for n := 1; n < len(rec)-crcSize; n++ {
			if err := DecodeBlock(reframe(rec[crcSize:crcSize+n]), &b); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("DecodeBlock of %d payload bytes: %v, want ErrBadRecord", n, err)
			}
		}
	})
	t.Run("huge counts", func(t *testing.T) {
		payload := []byte{blockVersion, 0, 0, 0, 0}             // source, fileID, path, offset
		payload = binary.AppendUvarint(payload, math.MaxUint64) // labels
		if err := DecodeBlock(reframe(payload), &b); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("DecodeBlock: %v, want ErrBadRecord", err)
		}
	})
}

// FuzzDecodeBlock feeds arbitrary bytes to DecodeBlock, both as a framed
// record and, so that the fuzzer gets past the checksum, as a payload framed
// with its correct checksum. DecodeBlock must never panic, and whatever it
// accepts must survive an encode/decode round trip.
func FuzzDecodeBlock(f *testing.F) {
	for _, b := range codecBlocks() {
		rec := EncodeBlock(nil, b)
		f.Add(rec)
		f.Add(rec[crcSize:])
	}
	f.Add([]byte{})
	f.Add([]byte{blockVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Block
		_ = DecodeBlock(data, &b)

		rec := reframe(data)
		if err := DecodeBlock(rec, &b); err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("DecodeBlock error %v does not wrap ErrBadRecord", err)
			}
			return
		}
		again := EncodeBlock(nil, &b)
		if len(again) > len(rec) {
			// Re-encoding uses minimal varints, so it can only shrink.
			t.Fatalf("re-encoding grew from %d to %d bytes", len(rec), len(again))
		}
		var b2 Block
		if err := DecodeBlock(again, &b2); err != nil {
			t.Fatalf("decode of re-encoded block: %v", err)
		}
		if !equalBlocks(&b, &b2) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", b2, b)
		}
		if third := EncodeBlock(nil, &b2); !bytes.Equal(third, again) {
			t.Fatal("encoding is not stable")
		}
	})
}
