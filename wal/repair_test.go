package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fixture is a closed log of blocks 1…last in several small segments,
// three blocks per record, as the damage functions find it.
type fixture struct {
	dir   string
	files []SegmentInfo // named by record index
	segs  []SegmentInfo // by block index, as Segments reports them
	last  uint64
}

const fixtureRecords = 40

func fixtureOpts() *Options { return &Options{SegmentSize: 4096} }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, dir, fixtureOpts())
	appendRange(t, l, fixtureRecords, 3, twoLines)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, files: segmentFiles(t, dir), segs: diskSegments(t, dir), last: fixtureRecords}
	if len(f.segs) < 3 {
		t.Fatalf("fixture has segments %v, want at least 3", f.segs)
	}
	if starts, _ := frames(f.read(t, len(f.segs)-1)); len(starts) < 2 {
		t.Fatalf("fixture tail holds %d records, want at least 2", len(starts))
	}
	return f
}

func (f *fixture) path(seg int) string {
	return filepath.Join(f.dir, segmentName(f.files[seg].FirstIndex))
}

// heads returns the heads of segment seg's records and where each starts.
func (f *fixture) heads(t *testing.T, seg int) ([]recHead, []int) {
	t.Helper()
	b := f.read(t, seg)
	starts, _ := frames(b)
	heads := make([]recHead, len(starts))
	for i, off := range starts {
		n, k := binary.Uvarint(b[off:])
		if err := checkWholeRecord(b[off+k:off+k+int(n)], f.files[seg].FirstIndex+uint64(i), &heads[i]); err != nil {
			t.Fatalf("fixture segment %d record %d: %v", seg, i, err)
		}
	}
	return heads, starts
}

// blockStart returns the offset in segment seg's file of block i (from 0)
// of the record starting at start with head h.
func blockStart(b []byte, start int, h recHead, i int) int {
	_, k := binary.Uvarint(b[start:])
	off, _ := h.block(h.first + uint64(i))
	return start + k + off
}

// indexes returns from, from+1, …, to-1.
func indexes(from, to uint64) []uint64 {
	var c []uint64
	for i := from; i < to; i++ {
		c = append(c, i)
	}
	return c
}

func (f *fixture) tail() int { return len(f.segs) - 1 }

func (f *fixture) read(t *testing.T, seg int) []byte {
	t.Helper()
	b, err := os.ReadFile(f.path(seg))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) write(t *testing.T, seg int, b []byte) {
	t.Helper()
	if err := os.WriteFile(f.path(seg), b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// want is what Open must make of a damaged log.
type want struct {
	last    uint64   // LastIndex after Open; FirstIndex stays 1
	broken  []byte   // the bytes cut off the tail, nil if none
	corrupt []uint64 // indexes whose Read returns *CorruptionError
}

func TestRepair(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, f *fixture) want
	}{
		{"torn last record", func(t *testing.T, f *fixture) want {
			b := f.read(t, f.tail())
			starts, _ := frames(b)
			start := starts[len(starts)-1]
			cut := start + (len(b)-start)/2
			heads, _ := f.heads(t, f.tail())
			f.write(t, f.tail(), b[:cut])
			return want{last: heads[len(heads)-1].first - 1, broken: b[start:cut]}
		}},
		{"cut inside the length prefix", func(t *testing.T, f *fixture) want {
			b := f.read(t, f.tail())
			starts, _ := frames(b)
			start := starts[len(starts)-1]
			if b[start]&0x80 == 0 {
				t.Fatal("the last record's length takes one byte; the test needs a longer record")
			}
			heads, _ := f.heads(t, f.tail())
			f.write(t, f.tail(), b[:start+1])
			return want{last: heads[len(heads)-1].first - 1, broken: b[start : start+1]}
		}},
		{"zero-filled tail", func(t *testing.T, f *fixture) want {
			zeros := make([]byte, 4096)
			f.write(t, f.tail(), append(f.read(t, f.tail()), zeros...))
			return want{last: f.last, broken: zeros}
		}},
		{"garbage tail", func(t *testing.T, f *fixture) want {
			garbage := make([]byte, 1000)
			rng := rand.New(rand.NewPCG(5, 6))
			for i := range garbage {
				garbage[i] = byte(rng.Uint32())
			}
			f.write(t, f.tail(), append(f.read(t, f.tail()), garbage...))
			return want{last: f.last, broken: garbage}
		}},
		{"bad checksum in the tail's first record", func(t *testing.T, f *fixture) want {
			// Everything from the first bad record on is cut, which here
			// empties the tail segment.
			b := f.read(t, f.tail())
			starts, _ := frames(b)
			at := starts[0] + 40 // inside the first record's payload
			b[at] ^= 0x10
			f.write(t, f.tail(), b)
			return want{last: f.segs[f.tail()].FirstIndex - 1, broken: b}
		}},
		{"torn inside the second block of a group record", func(t *testing.T, f *fixture) want {
			// The record and everything after it are cut: a record is
			// kept whole or not at all.
			b := f.read(t, f.tail())
			heads, starts := f.heads(t, f.tail())
			r := len(heads) - 2
			if heads[r].n < 2 {
				t.Fatalf("the tail's second-last record holds %d blocks, want several", heads[r].n)
			}
			cut := blockStart(b, starts[r], heads[r], 1) + 10
			f.write(t, f.tail(), b[:cut])
			return want{last: heads[r].first - 1, broken: b[starts[r]:cut]}
		}},
		{"bad checksum in the second block of the tail's first record", func(t *testing.T, f *fixture) want {
			b := f.read(t, f.tail())
			heads, starts := f.heads(t, f.tail())
			b[blockStart(b, starts[0], heads[0], 1)+30] ^= 0x10
			f.write(t, f.tail(), b)
			return want{last: f.segs[f.tail()].FirstIndex - 1, broken: b}
		}},
		{"bit flip in an old record", func(t *testing.T, f *fixture) want {
			b := f.read(t, 0)
			heads, starts := f.heads(t, 0)
			b[blockStart(b, starts[2], heads[2], 0)+30] ^= 0x04 // inside record 3's first block
			f.write(t, 0, b)
			return want{last: f.last, corrupt: []uint64{heads[2].first}}
		}},
		{"bit flip in the second block of an old record", func(t *testing.T, f *fixture) want {
			b := f.read(t, 0)
			heads, starts := f.heads(t, 0)
			b[blockStart(b, starts[1], heads[1], 1)+30] ^= 0x04
			f.write(t, 0, b)
			return want{last: f.last, corrupt: []uint64{heads[1].first + 1}}
		}},
		{"damaged head of an old record", func(t *testing.T, f *fixture) want {
			// Its blocks are lost; the records after it are found by
			// their own heads.
			b := f.read(t, 1)
			heads, starts := f.heads(t, 1)
			_, k := binary.Uvarint(b[starts[1]:])
			b[starts[1]+k+crcSize+1] ^= 0x01 // its first index
			f.write(t, 1, b)
			return want{last: f.last, corrupt: indexes(heads[1].first, heads[2].first)}
		}},
		{"length prefix damaged in an old segment", func(t *testing.T, f *fixture) want {
			// The segment no longer parses: every record in it is lost,
			// the other segments read fine.
			b := f.read(t, 1)
			b[1] = 0x7f // second byte of the first record's length
			f.write(t, 1, b)
			return want{last: f.last, corrupt: indexes(f.segs[1].FirstIndex, f.segs[2].FirstIndex)}
		}},
		{"old segment lost its last record", func(t *testing.T, f *fixture) want {
			// tidwall then holds fewer entries for the segment than the
			// next segment's name implies, and would panic on the lost one.
			b := f.read(t, 0)
			heads, starts := f.heads(t, 0)
			f.write(t, 0, b[:starts[len(starts)-1]])
			return want{last: f.last, corrupt: indexes(heads[len(heads)-1].first, f.segs[1].FirstIndex)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			w := tc.damage(t, f)

			reg := prometheus.NewRegistry()
			opts := fixtureOpts()
			opts.Registerer = reg
			l, err := Open(f.dir, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()
			if l.FirstIndex() != 1 || l.LastIndex() != w.last {
				t.Fatalf("Open: indexes %d..%d, want 1..%d", l.FirstIndex(), l.LastIndex(), w.last)
			}
			checkSegments(t, l, f.dir)

			corrupt := map[uint64]bool{}
			for _, i := range w.corrupt {
				corrupt[i] = true
			}
			var buf []byte
			for i := uint64(1); i <= w.last; i++ {
				buf, err = l.Read(buf, i)
				if corrupt[i] {
					var ce *CorruptionError
					if !errors.As(err, &ce) || ce.Index != i || !errors.Is(err, ErrBadRecord) {
						t.Fatalf("Read(%d) = %v, want *CorruptionError", i, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Read(%d): %v", i, err)
				}
				if got := recordIndex(t, buf); got != i {
					t.Fatalf("Read(%d) returned the record of %d", i, got)
				}
			}
			if _, err := l.Read(nil, w.last+1); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Read(%d): %v, want ErrNotFound", w.last+1, err)
			}
			if got := testutil.ToFloat64(l.m.corruptReads); got != float64(len(w.corrupt)) {
				t.Errorf("corrupt_reads_total = %v, want %d", got, len(w.corrupt))
			}

			brokenPath := filepath.Join(f.dir, segmentName(f.files[f.tail()].FirstIndex)+brokenSuffix)
			if w.broken == nil {
				if got := brokenFiles(t, f.dir); len(got) != 0 {
					t.Fatalf("no repair expected, found %v", got)
				}
			} else {
				got, err := os.ReadFile(brokenPath)
				if err != nil {
					t.Fatalf("broken file: %v", err)
				}
				if !bytes.Equal(got, w.broken) {
					t.Fatalf("broken file holds %d bytes, want the %d cut bytes", len(got), len(w.broken))
				}
			}
			repairs, repaired := 0.0, 0.0
			if w.broken != nil {
				repairs, repaired = 1, float64(len(w.broken))
			}
			if got := testutil.ToFloat64(l.m.repairs); got != repairs {
				t.Errorf("repairs_total = %v, want %v", got, repairs)
			}
			if got := testutil.ToFloat64(l.m.repairedBytes); got != repaired {
				t.Errorf("repaired_bytes_total = %v, want %v", got, repaired)
			}

			// The log goes on with contiguous indexes, and reopens clean.
			appendRange(t, l, 5, 5, twoLines)
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			brokenBefore := brokenFiles(t, f.dir)
			l = openLog(t, f.dir, opts)
			defer l.Close()
			if l.FirstIndex() != 1 || l.LastIndex() != w.last+5 {
				t.Fatalf("reopened: %d..%d, want 1..%d", l.FirstIndex(), l.LastIndex(), w.last+5)
			}
			checkReads(t, l, w.last+1, w.last+5)
			if got := brokenFiles(t, f.dir); len(got) != len(brokenBefore) {
				t.Fatalf("clean reopen repaired again: %v", got)
			}
			if got := testutil.ToFloat64(l.m.repairs); got != 0 {
				t.Fatalf("clean reopen counted %v repairs", got)
			}
		})
	}
}

// TestRepairNumbersBrokenFiles damages the tail twice: the second cut goes
// to .broken.1 and the first .broken is kept.
func TestRepairNumbersBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, nil)
	appendRange(t, l, 3, 3, twoLines)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, segmentName(1))
	for n, junk := range []string{"first junk", "second junk"} {
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(seg, append(b, junk...), 0o640); err != nil {
			t.Fatal(err)
		}
		l := openLog(t, dir, nil)
		if l.LastIndex() != uint64(3+n) {
			t.Fatalf("after damage %d: LastIndex %d", n, l.LastIndex())
		}
		appendRange(t, l, 1, 1, twoLines)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{
		segmentName(1) + ".broken":   "first junk",
		segmentName(1) + ".broken.1": "second junk",
	} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}

// TestRepairStartLeftover simulates a crash inside tidwall's TruncateFront
// at the tail's first index, after it wrote NAME.START and before it removed
// the old files, with a torn write at the end of the START file. The repair
// must scan the file tidwall will keep as the tail (the START file), and
// tidwall then finishes the truncation.
func TestRepairStartLeftover(t *testing.T) {
	f := newFixture(t)
	tail := f.segs[f.tail()].FirstIndex
	tailRec := f.files[f.tail()].FirstIndex
	b := f.read(t, f.tail())
	torn := append(bytes.Clone(b), 0x85, 0x03, 'x') // a 389-byte record, 1 byte of it
	start := f.path(f.tail()) + startSuffix
	if err := os.WriteFile(start, torn, 0o640); err != nil {
		t.Fatal(err)
	}

	l := openLog(t, f.dir, fixtureOpts())
	defer l.Close()
	if l.FirstIndex() != tail || l.LastIndex() != f.last {
		t.Fatalf("indexes %d..%d, want %d..%d", l.FirstIndex(), l.LastIndex(), tail, f.last)
	}
	checkReads(t, l, tail, f.last)
	checkSegments(t, l, f.dir)
	if got := l.Segments(); len(got) != 1 {
		t.Fatalf("Segments() = %v, want only the tail", got)
	}
	got, err := os.ReadFile(filepath.Join(f.dir, segmentName(tailRec)+brokenSuffix))
	if err != nil || !bytes.Equal(got, []byte{0x85, 0x03, 'x'}) {
		t.Fatalf("broken file = %x, %v", got, err)
	}
	if _, err := os.Stat(start); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("START leftover still there: %v", err)
	}
}

// TestDamagedLengthPrefixBoundedMemory (item 8 of the fault issue): a
// length prefix damaged to claim gigabytes must not make Open or a read
// allocate them; every allocation driven by bytes read from disk is
// bounded by what the file still holds.
func TestDamagedLengthPrefixBoundedMemory(t *testing.T) {
	// claim overwrites the length prefix of a record of segment seg and
	// returns the range a read loses: the record and the rest of the
	// segment (the headers after it are unreadable).
	type damage struct{ lostFrom, segEnd uint64 }
	claim := func(t *testing.T, f *fixture, seg, record int, size uint64) damage {
		t.Helper()
		b := f.read(t, seg)
		heads, starts := f.heads(t, seg)
		copy(b[starts[record]:], binary.AppendUvarint(nil, size))
		f.write(t, seg, b)
		d := damage{lostFrom: heads[record].first, segEnd: f.last + 1}
		if seg+1 < len(f.segs) {
			d.segEnd = f.segs[seg+1].FirstIndex
		}
		return d
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, f *fixture) damage
	}{
		{"old segment's first record claims 1 GiB", func(t *testing.T, f *fixture) damage {
			return claim(t, f, 1, 0, 1<<30)
		}},
		{"old segment's second record claims 2 GiB-1", func(t *testing.T, f *fixture) damage {
			return claim(t, f, 0, 1, maxRecordSize-1)
		}},
		{"old segment's record claims one byte past the file's end", func(t *testing.T, f *fixture) damage {
			b := f.read(t, 1)
			starts, _ := frames(b)
			_, k := binary.Uvarint(b[starts[1]:])
			left := uint64(len(b) - starts[1] - k)
			if len(binary.AppendUvarint(nil, left+1)) != k {
				t.Fatalf("the claimed size %d does not fit the record's %d-byte prefix", left+1, k)
			}
			return claim(t, f, 1, 1, left+1)
		}},
		{"tail record claims 1 GiB", func(t *testing.T, f *fixture) damage {
			claim(t, f, f.tail(), 1, 1<<30)
			return damage{} // repair cuts it on Open
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			d := tc.damage(t, f)

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			l := openLog(t, f.dir, fixtureOpts())
			defer l.Close()
			r := l.NewReader()
			defer r.Close()
			var buf []byte
			var err error
			var ce *CorruptionError
			for i := l.FirstIndex(); i <= l.LastIndex(); i++ {
				buf, err = r.Read(buf, i)
				lost := i >= d.lostFrom && i < d.segEnd
				switch {
				case lost && !errors.As(err, &ce):
					t.Fatalf("Reader.Read(%d) after the damage: %v, want *CorruptionError", i, err)
				case !lost && err != nil:
					t.Fatalf("Reader.Read(%d): %v", i, err)
				case !lost && recordIndex(t, buf) != i:
					t.Fatalf("Reader.Read(%d) returned the record of %d", i, recordIndex(t, buf))
				}
				buf, err = l.Read(buf, i)
				switch {
				case lost && err != nil && !errors.As(err, &ce):
					t.Fatalf("Log.Read(%d) in the damaged segment: %v, want *CorruptionError", i, err)
				case !lost && err != nil:
					t.Fatalf("Log.Read(%d): %v", i, err)
				case err == nil && recordIndex(t, buf) != i:
					t.Fatalf("Log.Read(%d) returned the record of %d", i, recordIndex(t, buf))
				}
			}
			runtime.ReadMemStats(&after)
			// The fixture's files hold about 20 KiB: reading them costs
			// far less than 16 MiB.
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Fatalf("Open and reads allocated %d MiB", got>>20)
			}
		})
	}
}
