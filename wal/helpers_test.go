package wal

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// testRecord returns the framed record stored at index i in these tests: a
// block whose Position.Offset is i, with lines entries of lineSize bytes.
func testRecord(i uint64, lines, lineSize int) []byte {
	b := &Block{
		Source:   "test",
		Labels:   []Label{{Name: "job", Value: "waltest"}},
		Position: Position{FileID: "1:2", Path: "/var/log/test.log", Offset: int64(i)},
	}
	for j := range lines {
		line := bytes.Repeat([]byte{byte('a' + (int(i)+j)%26)}, lineSize)
		b.Entries = append(b.Entries, Entry{Time: int64(i)*1e9 + int64(j), Line: line})
	}
	return EncodeBlock(nil, b)
}

// recordIndex decodes rec and returns the index it was built for.
func recordIndex(t testing.TB, rec []byte) uint64 {
	t.Helper()
	var b Block
	if err := DecodeBlock(rec, &b); err != nil {
		t.Fatalf("decode record: %v", err)
	}
	return uint64(b.Position.Offset)
}

func openLog(t testing.TB, dir string, opts *Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// appendRange appends the records for indexes l.LastIndex()+1 … +n, in
// batches of batch records, each record built with size(i) lines of 150
// bytes.
func appendRange(t testing.TB, l *Log, n, batch int, lines func(i uint64) int) {
	t.Helper()
	next := l.LastIndex() + 1
	for n > 0 {
		k := min(batch, n)
		recs := make([][]byte, k)
		for j := range recs {
			recs[j] = testRecord(next+uint64(j), lines(next+uint64(j)), 150)
		}
		first, last, err := l.Append(recs)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if first != next || last != next+uint64(k)-1 {
			t.Fatalf("Append returned %d..%d, want %d..%d", first, last, next, next+uint64(k)-1)
		}
		next += uint64(k)
		n -= k
	}
}

func twoLines(uint64) int { return 2 }

// checkReads reads every index in [from, to] and checks that it holds the
// record built for it.
func checkReads(t testing.TB, l *Log, from, to uint64) {
	t.Helper()
	var buf []byte
	for i := from; i <= to; i++ {
		var err error
		buf, err = l.Read(buf, i)
		if err != nil {
			t.Fatalf("Read(%d): %v", i, err)
		}
		if got := recordIndex(t, buf); got != i {
			t.Fatalf("Read(%d) returned the record of %d", i, got)
		}
	}
}

// segmentFiles lists the plain segment files in dir with their sizes.
func segmentFiles(t testing.TB, dir string) []SegmentInfo {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var segs []SegmentInfo
	for _, e := range entries {
		index, kind, ok := parseSegmentName(e.Name())
		if !ok || kind != plainSegment {
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, SegmentInfo{FirstIndex: index, Size: info.Size()})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].FirstIndex < segs[j].FirstIndex })
	return segs
}

// diskSegments lists the segments in dir as Segments does: by the index
// of each one's first block, read from the record heads in the files (an
// empty file starts after the blocks of the one before it).
func diskSegments(t testing.TB, dir string) []SegmentInfo {
	t.Helper()
	files := segmentFiles(t, dir)
	var next uint64
	var h recHead
	for i, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, segmentName(f.FirstIndex)))
		if err != nil {
			t.Fatal(err)
		}
		starts, _ := frames(data)
		first := next
		if i == 0 {
			first = f.FirstIndex
		}
		for j, off := range starts {
			n, k := binary.Uvarint(data[off:])
			if _, err := parseHead(data[off+k:off+k+int(n)], int(n), f.FirstIndex+uint64(j), &h); err != nil {
				break // damage: the blocks go on from what was read
			}
			if j == 0 {
				first = h.first
			}
			next = h.first + uint64(h.n)
		}
		files[i].FirstIndex = first
	}
	return files
}

// checkSegments compares Segments and Size with the files on disk.
func checkSegments(t testing.TB, l *Log, dir string) {
	t.Helper()
	got, want := l.Segments(), diskSegments(t, dir)
	if !equalSegments(got, want) {
		t.Fatalf("Segments() = %v, files on disk %v", got, want)
	}
	var size int64
	for _, s := range want {
		size += s.Size
	}
	if l.Size() != size {
		t.Fatalf("Size() = %d, files hold %d", l.Size(), size)
	}
}

func equalSegments(a, b []SegmentInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// frames returns the start offsets of the tidwall entries in a segment's
// bytes, and the offset where parsing stopped.
func frames(data []byte) (starts []int, end int) {
	off := 0
	for off < len(data) {
		n, k := binary.Uvarint(data[off:])
		if k <= 0 || n > uint64(len(data)-off-k) {
			break
		}
		starts = append(starts, off)
		off += k + int(n)
	}
	return starts, off
}

func brokenFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+brokenSuffix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkSyncFile syncs l and checks that Sync went through a handle on the
// current tail file (not one that TruncateFront replaced), and that no
// directory fsync is pending.
func checkSyncFile(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	segs := l.segments()
	want, err := os.Stat(l.segmentPath(segs[len(segs)-1].rec))
	if err != nil {
		t.Fatal(err)
	}
	l.syncMu.Lock()
	f := l.syncFile
	var got os.FileInfo
	if f != nil {
		got, err = f.Stat()
	}
	l.syncMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if f == nil && segs[len(segs)-1].size != 0 {
		t.Fatal("Sync did not fsync a tail that holds records")
	}
	if f != nil && !os.SameFile(got, want) {
		t.Fatal("Sync used a handle on a file that is no longer the tail")
	}
	l.mu.Lock()
	dirty := l.dirDirty
	l.mu.Unlock()
	if dirty {
		t.Fatal("a directory fsync is still pending after Sync")
	}
}
