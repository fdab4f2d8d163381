package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fileRecords returns the records in the segment file whose first record
// is rec, parsed straight from its bytes.
func fileRecords(t *testing.T, dir string, rec uint64) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, segmentName(rec)))
	if err != nil {
		t.Fatal(err)
	}
	starts, end := frames(data)
	if end != len(data) {
		t.Fatalf("segment %d: %d trailing bytes", rec, len(data)-end)
	}
	var recs [][]byte
	for _, off := range starts {
		n, k := binary.Uvarint(data[off:])
		recs = append(recs, data[off+k:off+k+int(n)])
	}
	return recs
}

// TestGroupRecordLayout: an Append is one record holding its blocks byte
// for byte after a head that names the first index and each block's
// length; a group of SegmentSize bytes or more fills a segment on its own
// (tidwall then never grows that segment), and a larger one is split into
// records of at least SegmentSize.
func TestGroupRecordLayout(t *testing.T) {
	dir := t.TempDir()
	const segSize = 8 << 10
	l := openLog(t, dir, &Options{SegmentSize: segSize})
	defer l.Close()
	blocks := [][]byte{testRecord(1, 2, 100), testRecord(2, 1, 10), testRecord(3, 3, 50)}
	first, last, err := l.Append(blocks)
	if err != nil || first != 1 || last != 3 {
		t.Fatalf("Append = %d, %d, %v", first, last, err)
	}
	recs := fileRecords(t, dir, 1)
	if len(recs) != 1 {
		t.Fatalf("one Append made %d records, want 1", len(recs))
	}
	want := []byte{0, 0, 0, 0, groupVersion, 1, 3}
	for _, b := range blocks {
		want = binary.LittleEndian.AppendUint32(want, uint32(len(b)))
	}
	head := len(want)
	for _, b := range blocks {
		want = append(want, b...)
	}
	if !bytes.Equal(recs[0][crcSize:], want[crcSize:]) {
		t.Fatalf("record:\n got %x\nwant %x", recs[0], want)
	}
	var h recHead
	if err := checkWholeRecord(recs[0], 1, &h); err != nil || h.first != 1 || h.n != 3 || h.start != head {
		t.Fatalf("head %+v, %v", h, err)
	}

	// Groups of at least SegmentSize: each record alone in a segment.
	big := func(from uint64, n int) [][]byte {
		var bs [][]byte
		for i := range n {
			bs = append(bs, testRecord(from+uint64(i), 10, 200)) // about 2 KiB each
		}
		return bs
	}
	if _, _, err := l.Append(big(4, 5)); err != nil { // ~10 KiB: one record
		t.Fatal(err)
	}
	if _, _, err := l.Append(big(9, 13)); err != nil { // ~26 KiB: three records of >= 8 KiB
		t.Fatal(err)
	}
	files := segmentFiles(t, dir)
	var perFile []int
	for _, f := range files {
		recs := fileRecords(t, dir, f.FirstIndex)
		perFile = append(perFile, len(recs))
		for i, r := range recs {
			if err := checkWholeRecord(r, f.FirstIndex+uint64(i), &h); err != nil {
				t.Fatal(err)
			}
			if f.FirstIndex+uint64(i) > 2 && i != len(recs)-1 {
				t.Fatalf("segment %d holds a record after a full one", f.FirstIndex)
			}
		}
	}
	// Segment 1: the small record, then the 10 KiB one that filled it;
	// then the 26 KiB group as records of at least 8 KiB, each alone; an
	// empty tail.
	if len(perFile) < 4 || perFile[0] != 2 || perFile[len(perFile)-1] != 0 {
		t.Fatalf("records per segment file %v", perFile)
	}
	for _, n := range perFile[1 : len(perFile)-1] {
		if n != 1 {
			t.Fatalf("records per segment file %v, want one per full segment", perFile)
		}
	}
	checkSegments(t, l, dir)
	checkReads(t, l, 1, 21)
}

// TestV2FixtureThenGroups: a data directory of the release before group
// records (one block per record) gets group records appended, in its own
// tail segment and in new ones; every block reads back under its index,
// before and after a reopen, and retention cuts across both layouts.
func TestV2FixtureThenGroups(t *testing.T) {
	old := fixtureV2JSON(t)
	dir := copyFixtureV2(t)
	opts := &Options{SegmentSize: 4096}
	l := openLog(t, dir, opts)
	from := l.LastIndex() + 1
	var added []Block
	for g := range 6 {
		var recs [][]byte
		for i := range 4 {
			b := Block{Source: "new", Labels: []Label{{Name: "job", Value: "new"}},
				Position: Position{FileID: "9:9", Path: "/var/log/new.log", Offset: int64(100*g + i)}}
			for j := range 3 {
				b.Entries = append(b.Entries, Entry{Time: int64(g*1000 + i*10 + j), Line: bytes.Repeat([]byte{'a' + byte(j)}, 150)})
			}
			added = append(added, b)
			recs = append(recs, EncodeBlock(nil, &b))
		}
		if _, _, err := l.Append(recs); err != nil {
			t.Fatal(err)
		}
	}
	all := append(append([]Block(nil), old...), added...)
	readBlocks(t, l, fixtureV2Truncate, all, nil)
	checkSegments(t, l, dir)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if recs := fileRecords(t, dir, 11); len(recs) < 3 || recs[0][crcSize] != blockVersion || recs[2][crcSize] != groupVersion {
		t.Fatal("want the old tail segment to hold old records, then group records")
	}

	l = openLog(t, dir, opts)
	defer l.Close()
	if l.FirstIndex() != fixtureV2Truncate || l.LastIndex() != from-1+uint64(len(added)) {
		t.Fatalf("reopened: %d..%d", l.FirstIndex(), l.LastIndex())
	}
	readBlocks(t, l, fixtureV2Truncate, all, nil)
	checkSegments(t, l, dir)
	segs := l.Segments()
	cut := segs[len(segs)-2].FirstIndex
	if cut <= from {
		t.Fatalf("segments %v: want several of group records", segs)
	}
	if err := l.TruncateFront(cut); err != nil {
		t.Fatal(err)
	}
	readBlocks(t, l, cut, all[cut-fixtureV2Truncate:], nil)
	if _, err := l.Read(nil, cut-1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read below the cut: %v", err)
	}
	checkSegments(t, l, dir)
}

// FuzzRecordHead: parseHead, checkWholeRecord and scanRecords never panic
// on any bytes, and a record checkWholeRecord accepts is re-encoded to the
// same bytes from its blocks.
func FuzzRecordHead(f *testing.F) {
	f.Add(appendGroupRecord(nil, 1, [][]byte{testRecord(1, 2, 10), testRecord(2, 1, 0)}), uint64(1))
	f.Add(appendGroupRecord(nil, 7, nil), uint64(3))
	f.Add(testRecord(5, 1, 5), uint64(5))
	f.Add([]byte{0, 0, 0, 0, groupVersion, 0x80}, uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, rec uint64) {
		var h recHead
		for _, n := range []int{0, 1, 8, len(data) / 2, len(data)} {
			if n <= len(data) {
				_, _ = parseHead(data[:n], len(data), rec, &h)
			}
		}
		if err := checkWholeRecord(data, rec, &h); err == nil && len(data) > crcSize && data[crcSize] == groupVersion {
			var blocks [][]byte
			for i := 0; i < h.n; i++ {
				off, size := h.block(h.first + uint64(i))
				blocks = append(blocks, data[off:off+size])
			}
			if again := appendGroupRecord(nil, h.first, blocks); !bytes.Equal(again, data) {
				t.Fatalf("accepted record re-encodes differently:\n%x\n%x", data, again)
			}
		}
		seg := binary.AppendUvarint(nil, uint64(len(data)))
		seg = append(seg, data...)
		_, _, _ = scanRecords(append(seg, seg...), rec, ^uint64(0))
	})
}

// FuzzSegment: any bytes as the tail segment of a log (after a good old
// segment) open, and every index of the log reads or fails cleanly.
func FuzzSegment(f *testing.F) {
	good := func(first uint64, blocks ...[]byte) []byte {
		r := appendGroupRecord(nil, first, blocks)
		return append(binary.AppendUvarint(nil, uint64(len(r))), r...)
	}
	f.Add(good(3, testRecord(3, 1, 10), testRecord(4, 2, 3)))
	f.Add(append(good(3, testRecord(3, 1, 10)), good(4, testRecord(4, 1, 1))...))
	f.Add(append(binary.AppendUvarint(nil, uint64(len(testRecord(3, 1, 1)))), testRecord(3, 1, 1)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), good(1, testRecord(1, 1, 5), testRecord(2, 1, 5)), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, segmentName(2)), tail, 0o640); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, nil)
		if err != nil {
			return // tidwall refused the directory: fine, no panic
		}
		defer l.Close()
		if l.FirstIndex() != 1 || l.LastIndex() < 2 {
			t.Fatalf("indexes %d..%d, want the first segment's 1..2 at least", l.FirstIndex(), l.LastIndex())
		}
		r := l.NewReader()
		defer r.Close()
		var buf []byte
		for i := l.FirstIndex(); i <= l.LastIndex() && i < l.FirstIndex()+10000; i++ {
			if buf, err = r.Read(buf, i); err == nil {
				var b Block
				_ = DecodeBlock(buf, &b)
			}
		}
		if _, _, err := l.Append([][]byte{testRecord(9, 1, 1)}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHugeRecordBuffersNotKept: after a record far larger than a segment
// (a block of one huge line), Append keeps no buffer of its size; after
// usual records it keeps its buffer for the next.
func TestHugeRecordBuffersNotKept(t *testing.T) {
	const segSize = 16 << 10
	l := openLog(t, t.TempDir(), &Options{SegmentSize: segSize})
	defer l.Close()
	if _, _, err := l.Append([][]byte{testRecord(1, 2, 1000)}); err != nil {
		t.Fatal(err)
	}
	if cap(l.recBuf) == 0 {
		t.Fatal("the record buffer of a usual record is not kept")
	}
	if _, _, err := l.Append([][]byte{testRecord(2, 1, 8*segSize)}); err != nil {
		t.Fatal(err)
	}
	if cap(l.recBuf) > keepRecordBuffers*segSize {
		t.Fatalf("kept a record buffer of %d bytes after a huge record", cap(l.recBuf))
	}
	checkReads(t, l, 1, 2)
}
