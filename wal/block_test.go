package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strings"
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
		"cursor": {
			Source:   "journal",
			Position: Position{Cursor: "s=8c1b;i=4a2;b=1f0e;m=1d2c3;t=5f1e2d3c4b5a6;x=9a8b"},
			Entries:  []Entry{{Time: 5, Line: []byte("from the journal")}},
		},
		"per-entry labels and metadata": {
			Source:   "app",
			Labels:   []Label{{Name: "filename", Value: "/var/log/app.log"}, {Name: "job", Value: "app"}},
			Position: Position{FileID: "1:2", Path: "/var/log/app.log", Offset: 99},
			Entries: []Entry{
				{Time: 1, Line: []byte("the block's labels")},
				{Time: 2, Line: []byte("added"), Labels: []Label{{Name: "filename", Value: "/var/log/app.log"}, {Name: "job", Value: "app"}, {Name: "level", Value: "info"}}},
				{Time: 3, Line: []byte("same as previous"), Labels: []Label{{Name: "filename", Value: "/var/log/app.log"}, {Name: "job", Value: "app"}, {Name: "level", Value: "info"}}},
				{Time: 4, Line: []byte("changed and removed"), Labels: []Label{{Name: "job", Value: "other"}}},
				{Time: 5, Line: []byte("back to a recent set"), Labels: []Label{{Name: "filename", Value: "/var/log/app.log"}, {Name: "job", Value: "app"}, {Name: "level", Value: "info"}}},
				{Time: 6, Line: []byte("metadata"), Metadata: []Label{{Name: "trace_id", Value: "0af7651916cd43dd8448eb211c80319c"}}},
				{Time: 7, Line: []byte("same metadata, tenant"), Metadata: []Label{{Name: "trace_id", Value: "0af7651916cd43dd8448eb211c80319c"}},
					Labels: []Label{{Name: TenantLabel, Value: "team-a"}, {Name: "filename", Value: "/var/log/app.log"}, {Name: "job", Value: "app"}}},
				{Time: 8, Line: []byte("every label removed"), Labels: []Label{}},
				{Time: 9, Line: nil, Labels: []Label{{Name: "\xff\x00", Value: "\x00"}}, Metadata: []Label{{Name: "", Value: ""}, {Name: "k", Value: "v\xff"}}},
				{Time: 10, Line: []byte("labels given, equal to the block's"), Labels: []Label{{Name: "filename", Value: "/var/log/app.log"}, {Name: "job", Value: "app"}}},
			},
		},
		"per-entry labels, no block labels": {
			Source: "bare",
			Entries: []Entry{
				{Time: 1, Line: []byte("a"), Labels: []Label{{Name: "level", Value: "warn"}}},
				{Time: 1, Line: []byte("b"), Labels: []Label{{Name: "level", Value: "error"}}},
				{Time: 1, Line: []byte("c"), Labels: []Label{{Name: "level", Value: "warn"}}},
				{Time: 1, Line: []byte("d")},
				{Time: 1, Line: []byte("e"), Labels: []Label{{Name: "level", Value: "error"}}, Metadata: []Label{{Name: "m", Value: "1"}}},
			},
		},
	}
}

// effectiveLabels returns an entry's whole label set, sorted by name.
func effectiveLabels(b *Block, e *Entry) []Label {
	ls := e.Labels
	if ls == nil {
		ls = b.Labels
	}
	ls = slices.Clone(ls)
	slices.SortStableFunc(ls, func(x, y Label) int { return strings.Compare(x.Name, y.Name) })
	return ls
}

// equalBlocks compares blocks, treating nil and empty slices alike, and an
// entry's nil Labels like the block's Labels.
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
		ea, eb := &a.Entries[i], &b.Entries[i]
		if ea.Time != eb.Time || !bytes.Equal(ea.Line, eb.Line) ||
			!equalLabels(effectiveLabels(a, ea), effectiveLabels(b, eb)) ||
			!equalLabels(ea.Metadata, eb.Metadata) {
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
		payload[0] = blockVersionS2 + 1
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
		payload := []byte{blockVersion, 0, 0, 0, 0, 0}          // source, fileID, path, offset, cursor
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
	c := compress1(EncodeBlock(nil, logBlock(20, 1)))
	f.Add(c)
	f.Add(c[crcSize:])
	f.Add([]byte{})
	f.Add([]byte{blockVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Block
		_ = DecodeBlock(data, &b)
		_ = DecodeReadBlock(data, &b)

		rec := reframe(data)
		if err := DecodeBlock(rec, &b); err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("DecodeBlock error %v does not wrap ErrBadRecord", err)
			}
			return
		}
		if !uniqueNames(b.Labels) {
			// EncodeBlock's precondition: label diffs name labels, so a
			// block with two labels of one name has no faithful encoding.
			// No source makes one (label sets are maps).
			return
		}
		again := EncodeBlock(nil, &b)
		grow := 0
		if data[0] == blockVersion1 {
			// Version 2 adds the (empty) cursor, and a line's length
			// takes one more byte when len<<1 crosses a 7-bit boundary
			// (lines of 64-127 bytes, ...).
			grow = 1
			for _, e := range b.Entries {
				n := uint64(len(e.Line))
				grow += UvarintLen(n<<1) - UvarintLen(n)
			}
		}
		if data[0] != blockVersionS2 && len(again) > len(rec)+grow {
			// Re-encoding uses minimal varints and drops what changes
			// nothing, so it can only shrink.
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
		var b3 Block
		if err := DecodeBlock(compress1(bytes.Clone(again)), &b3); err != nil || !equalBlocks(&b, &b3) {
			t.Fatalf("compressed round trip: %v\n got %+v\nwant %+v", err, b3, b)
		}
	})
}

// uniqueNames reports whether no two labels share a name.
func uniqueNames(ls []Label) bool {
	seen := map[string]bool{}
	for _, l := range ls {
		if seen[l.Name] {
			return false
		}
		seen[l.Name] = true
	}
	return true
}

// TestBlockV2EntryLabels checks what DecodeBlock returns per entry, not
// only the effective label sets: nil for the block's labels (also when an
// entry's Labels equal them), the sorted whole set otherwise, an empty
// non-nil slice when every label was removed, and one shared slice for
// entries with equal label sets.
func TestBlockV2EntryLabels(t *testing.T) {
	want := codecBlocks()["per-entry labels and metadata"]
	var got Block
	if err := DecodeBlock(EncodeBlock(nil, want), &got); err != nil {
		t.Fatal(err)
	}
	e := got.Entries
	for _, i := range []int{0, 5, 9} {
		if e[i].Labels != nil {
			t.Errorf("entry %d: Labels %v, want nil (the block's)", i, e[i].Labels)
		}
	}
	for _, i := range []int{1, 2, 3, 4, 6, 8} {
		if !equalLabels(e[i].Labels, want.Entries[i].Labels) {
			t.Errorf("entry %d: Labels %v, want %v", i, e[i].Labels, want.Entries[i].Labels)
		}
	}
	if e[7].Labels == nil || len(e[7].Labels) != 0 {
		t.Errorf("entry 7: Labels %#v, want empty and not nil", e[7].Labels)
	}
	if &e[1].Labels[0] != &e[2].Labels[0] || &e[1].Labels[0] != &e[4].Labels[0] {
		t.Error("entries with equal label sets do not share one slice")
	}
	if &e[5].Metadata[0] != &e[6].Metadata[0] {
		t.Error("entries with equal metadata do not share one slice")
	}
	for _, i := range []int{0, 1, 2, 3, 4, 7, 9} {
		if e[i].Metadata != nil {
			t.Errorf("entry %d: Metadata %v, want nil", i, e[i].Metadata)
		}
	}
	if !equalLabels(e[8].Metadata, want.Entries[8].Metadata) {
		t.Errorf("entry 8: Metadata %v, want %v", e[8].Metadata, want.Entries[8].Metadata)
	}

	// Decoding a version 1 block into the same Block clears them all.
	if err := DecodeBlock(encodeBlockV1(nil, want), &got); err != nil {
		t.Fatal(err)
	}
	for i, e := range got.Entries {
		if e.Labels != nil || e.Metadata != nil || !bytes.Equal(e.Line, want.Entries[i].Line) {
			t.Fatalf("entry %d of a version 1 block: %+v", i, e)
		}
	}
}

// TestBlockV2Size checks that version 2 costs a block without per-entry
// data one byte (the empty cursor) plus at most one byte an entry (the
// line length shifted by one bit), and an entry whose labels repeat the
// previous entry's two bytes.
func TestBlockV2Size(t *testing.T) {
	b := &Block{Source: "s", Labels: []Label{{Name: "job", Value: "x"}}}
	crossings := 0 // lines of 64…127 and 8192…16383 bytes
	for n := range 20000 {
		if n%97 != 0 && n > 300 {
			continue
		}
		b.Entries = append(b.Entries, Entry{Time: int64(n), Line: bytes.Repeat([]byte("x"), n)})
		if UvarintLen(uint64(n)<<1) > UvarintLen(uint64(n)) {
			crossings++
		}
	}
	v1, v2 := len(encodeBlockV1(nil, b)), len(EncodeBlock(nil, b))
	if v2 != v1+1+crossings {
		t.Fatalf("version 2 is %d bytes, version 1 %d: want %d more, got %d", v2, v1, 1+crossings, v2-v1)
	}

	level := []Label{{Name: "job", Value: "x"}, {Name: "level", Value: "info"}}
	one := &Block{Source: "s", Labels: b.Labels, Entries: []Entry{{Line: []byte("a"), Labels: level}}}
	two := &Block{Source: "s", Labels: b.Labels, Entries: []Entry{{Line: []byte("a"), Labels: level}, {Line: []byte("b"), Labels: level}}}
	plain := &Block{Source: "s", Labels: b.Labels, Entries: []Entry{{Line: []byte("a"), Labels: level}, {Line: []byte("b")}}}
	if d := len(EncodeBlock(nil, two)) - len(EncodeBlock(nil, plain)); d != 1 {
		t.Fatalf("an entry repeating the previous labels costs %d bytes more than one with none, want 1", d)
	}
	if d := len(EncodeBlock(nil, two)) - len(EncodeBlock(nil, one)); d != 4 { // Δtime, length, line, flags
		t.Fatalf("an entry repeating the previous labels costs %d bytes, want 4", d)
	}
}

func TestDecodeBlockV2Rejects(t *testing.T) {
	head := []byte{blockVersion, 0, 0, 0, 0, 0, 0} // source, fileID, path, offset, cursor, no labels
	entry := func(flags byte, rest ...byte) []byte {
		p := append(bytes.Clone(head), 1, 0, 1, flags) // one entry: Δtime 0, empty line with more
		return append(p, rest...)
	}
	cases := map[string][]byte{
		"flags 0":                       entry(0),
		"unknown flag":                  entry(0x10),
		"labels and labels as prev":     entry(flagLabels|flagLabelsAsPrev, 0, 0),
		"metadata and metadata as prev": entry(flagMetadata|flagMetadataAsPrev, 0),
		"labels as prev first":          entry(flagLabelsAsPrev),
		"metadata as prev first":        entry(flagMetadataAsPrev),
		"flags missing":                 entry(0)[:len(head)+3],
		"diff truncated":                entry(flagLabels, 1, 1, 'a'),
		"metadata truncated":            entry(flagMetadata, 2, 0, 0),
		"huge metadata count":           entry(flagMetadata, 0xff, 0xff, 0xff, 0xff, 0x0f),
	}
	var b Block
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			if err := DecodeBlock(reframe(payload), &b); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("DecodeBlock: %v, want ErrBadRecord", err)
			}
		})
	}
	if err := DecodeBlock(reframe(entry(flagLabels, 0, 0)), &b); err != nil {
		t.Fatalf("an empty diff (valid if not canonical): %v", err)
	}
}

// TestDecodeBlockV2Amplification builds a record whose few bytes per entry
// each make DecodeBlock materialise a large label set (a block with many
// labels, entries that each delete a different one): it must fail instead
// of allocating the square of the record's size.
func TestDecodeBlockV2Amplification(t *testing.T) {
	p := []byte{blockVersion, 0, 0, 0, 0, 0}
	const nlabels, nentries = 1000, 5000
	p = binary.AppendUvarint(p, nlabels)
	for i := range nlabels {
		p = AppendString(p, fmt.Sprintf("%04d", i))
		p = AppendString(p, "")
	}
	p = binary.AppendUvarint(p, nentries)
	for i := range nentries {
		p = append(p, 0, 1, flagLabels, 0, 1)
		p = AppendString(p, fmt.Sprintf("%04d", i%nlabels))
	}
	var b Block
	allocs := testing.AllocsPerRun(1, func() {
		if err := DecodeBlock(reframe(p), &b); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("DecodeBlock: %v, want ErrBadRecord", err)
		}
	})
	if max := len(p)*labelsPerByte + labelsSlack; cap(b.labels) > 2*max {
		t.Fatalf("decode grew its label storage to %d labels (bound %d); %v allocs", cap(b.labels), max, allocs)
	}
}

// TestDecodeReadBlock: DecodeReadBlock decodes what DecodeBlock decodes,
// without computing the checksum Reader.Read verified (a record whose
// stored checksum is wrong but whose payload is whole decodes), and refuses
// what cannot be a record.
func TestDecodeReadBlock(t *testing.T) {
	for name, want := range codecBlocks() {
		rec := EncodeBlock(nil, want)
		var a, b Block
		if err := DecodeBlock(rec, &a); err != nil {
			t.Fatalf("%s: DecodeBlock: %v", name, err)
		}
		rec[0] ^= 0xff
		if err := DecodeBlock(rec, &b); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("%s: DecodeBlock of a bad checksum: %v, want ErrBadRecord", name, err)
		}
		if err := DecodeReadBlock(rec, &b); err != nil {
			t.Fatalf("%s: DecodeReadBlock: %v", name, err)
		}
		if !equalBlocks(&a, &b) {
			t.Fatalf("%s: DecodeReadBlock gave\n%+v\nDecodeBlock\n%+v", name, b, a)
		}
	}
	for _, rec := range [][]byte{nil, {1, 2, 3, 4}, {1, 2, 3, 4, 99}} {
		var b Block
		if err := DecodeReadBlock(rec, &b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("DecodeReadBlock(%v) = %v, want ErrBadRecord", rec, err)
		}
	}
}
