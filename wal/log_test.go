package wal

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/logcapturer/logcapturer/wal/waltest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestOpenNewLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "wal")
	l := openLog(t, dir, nil)
	defer l.Close()
	if l.FirstIndex() != 1 || l.LastIndex() != 0 {
		t.Fatalf("new log: first %d last %d, want 1 0", l.FirstIndex(), l.LastIndex())
	}
	if got := l.Segments(); !equalSegments(got, []SegmentInfo{{FirstIndex: 1}}) {
		t.Fatalf("Segments() = %v", got)
	}
	if l.Size() != 0 {
		t.Fatalf("Size() = %d", l.Size())
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o750 {
		t.Fatalf("dir mode %v, want 0750", fi.Mode().Perm())
	}
	if _, err := l.Read(nil, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read(1) of an empty log: %v, want ErrNotFound", err)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync of an empty log: %v", err)
	}
}

func TestAppendReadSyncReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, nil)
	appendRange(t, l, 10, 3, twoLines)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	appendRange(t, l, 5, 5, twoLines)
	checkReads(t, l, 1, 15)
	for _, i := range []uint64{0, 16, 1 << 40} {
		if _, err := l.Read(nil, i); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Read(%d): %v, want ErrNotFound", i, err)
		}
	}
	// Read appends to dst[:0] and does not alias the log.
	buf := make([]byte, 3, 1<<16)
	got, err := l.Read(buf, 7)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &buf[:1][0] {
		t.Fatal("Read did not reuse dst")
	}
	got[10] ^= 0xff
	checkReads(t, l, 7, 7)

	// An empty batch writes nothing.
	if first, last, err := l.Append(nil); err != nil || first != 16 || last != 15 {
		t.Fatalf("Append(nil) = %d, %d, %v; want 16, 15, nil", first, last, err)
	}
	checkSegments(t, l, dir)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, dir, nil)
	defer l.Close()
	if l.FirstIndex() != 1 || l.LastIndex() != 15 {
		t.Fatalf("reopened: first %d last %d, want 1 15", l.FirstIndex(), l.LastIndex())
	}
	checkReads(t, l, 1, 15)
	checkSegments(t, l, dir)
	appendRange(t, l, 3, 3, twoLines)
	checkReads(t, l, 1, 18)
	if got := brokenFiles(t, dir); len(got) != 0 {
		t.Fatalf("clean reopen left %v", got)
	}
}

func TestAppendRejectsBadRecords(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, nil)
	defer l.Close()
	appendRange(t, l, 2, 2, twoLines)
	good := testRecord(3, 1, 10)
	flipped := testRecord(3, 1, 10)
	flipped[len(flipped)-1] ^= 1
	for name, bad := range map[string][]byte{
		"nil":        nil,
		"empty":      {},
		"too short":  {1, 2, 3, 4},
		"bit flip":   flipped,
		"no framing": []byte("plain text line"),
	} {
		_, _, err := l.Append([][]byte{good, bad})
		if !errors.Is(err, ErrBadRecord) {
			t.Errorf("Append with a %s record: %v, want ErrBadRecord", name, err)
		}
	}
	if l.LastIndex() != 2 {
		t.Fatalf("LastIndex() = %d after rejected appends, want 2", l.LastIndex())
	}
	checkSegments(t, l, dir)
	appendRange(t, l, 1, 1, twoLines)
	checkReads(t, l, 1, 3)
}

// TestSegmentsTrackTidwall appends records of random sizes, some larger than
// a segment, in batches of random lengths, and checks after every batch that
// our model of tidwall's segment cycling matches the files it wrote.
func TestSegmentsTrackTidwall(t *testing.T) {
	dir := t.TempDir()
	const segSize = 4096
	l := openLog(t, dir, &Options{SegmentSize: segSize, SegmentCacheSize: 2})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		before := len(l.Segments())
		appendRange(t, l, 1+rng.IntN(6), 6, func(uint64) int {
			if rng.IntN(20) == 0 {
				return 40 // about 6 KiB, bigger than a segment
			}
			return rng.IntN(8)
		})
		checkSegments(t, l, dir)
		l.mu.Lock()
		dirty := l.dirDirty
		l.mu.Unlock()
		if created := len(l.Segments()) > before; created && !dirty {
			t.Fatal("a segment was created but no directory fsync is pending")
		}
		if i%3 == 0 {
			checkSyncFile(t, l)
		}
	}
	segs := l.Segments()
	if len(segs) < 20 {
		t.Fatalf("only %d segments; the test wants many cycles", len(segs))
	}
	for i, s := range segs[:len(segs)-1] {
		if s.Size < segSize {
			t.Fatalf("segment %d (%v) closed below SegmentSize", i, s)
		}
	}
	last := l.LastIndex()
	checkReads(t, l, 1, last)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, &Options{SegmentSize: segSize})
	defer l.Close()
	if !equalSegments(l.Segments(), segs) {
		t.Fatalf("after reopen Segments() = %v, want %v", l.Segments(), segs)
	}
	checkReads(t, l, 1, last)
	appendRange(t, l, 30, 4, twoLines)
	checkSegments(t, l, dir)
}

func TestTruncateFront(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 4096}
	l := openLog(t, dir, opts)
	appendRange(t, l, 60, 4, twoLines)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	segs := l.Segments()
	if len(segs) < 4 {
		t.Fatalf("want at least 4 segments, have %v", segs)
	}

	// No-ops and errors first.
	for _, i := range []uint64{0, 1} {
		if err := l.TruncateFront(i); err != nil {
			t.Fatalf("TruncateFront(%d): %v", i, err)
		}
	}
	if err := l.TruncateFront(62); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TruncateFront(62) of 1..60: %v, want ErrNotFound", err)
	}
	if !equalSegments(l.Segments(), segs) {
		t.Fatal("a no-op TruncateFront changed the segments")
	}

	// At a segment boundary.
	cut := segs[2].FirstIndex
	if err := l.TruncateFront(cut); err != nil {
		t.Fatal(err)
	}
	if l.FirstIndex() != cut || l.LastIndex() != 60 {
		t.Fatalf("after TruncateFront(%d): first %d last %d", cut, l.FirstIndex(), l.LastIndex())
	}
	if !equalSegments(l.Segments(), segs[2:]) {
		t.Fatalf("Segments() = %v, want %v", l.Segments(), segs[2:])
	}
	checkSegments(t, l, dir)
	if _, err := l.Read(nil, cut-1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read(%d) below first: %v, want ErrNotFound", cut-1, err)
	}
	checkReads(t, l, cut, 60)
	appendRange(t, l, 5, 5, twoLines)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, dir, opts)
	if l.FirstIndex() != cut || l.LastIndex() != 65 {
		t.Fatalf("reopened: first %d last %d, want %d 65", l.FirstIndex(), l.LastIndex(), cut)
	}
	checkSegments(t, l, dir)
	checkReads(t, l, cut, 65)

	// At the tail's first index: the tail file is rewritten, and Sync must
	// follow the new file.
	checkSyncFile(t, l) // Sync holds a handle on the tail now
	tail := l.Segments()[len(l.Segments())-1].FirstIndex
	if err := l.TruncateFront(tail); err != nil {
		t.Fatal(err)
	}
	checkSegments(t, l, dir)
	appendRange(t, l, 3, 3, twoLines)
	checkSyncFile(t, l)
	checkReads(t, l, tail, 68)

	// Inside a segment (not what callers do, but allowed).
	mid := l.FirstIndex() + 1
	if err := l.TruncateFront(mid); err != nil {
		t.Fatal(err)
	}
	checkSegments(t, l, dir)
	checkReads(t, l, mid, 68)

	// Everything: the log is empty and goes on at the next index. It
	// keeps only a marker record (a few bytes) that holds that index, also
	// across a reopen.
	if err := l.TruncateFront(69); err != nil {
		t.Fatal(err)
	}
	if l.FirstIndex() != 69 || l.LastIndex() != 68 || l.Size() == 0 || l.Size() > 16 {
		t.Fatalf("emptied: first %d last %d size %d", l.FirstIndex(), l.LastIndex(), l.Size())
	}
	checkSegments(t, l, dir)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, opts)
	defer l.Close()
	if l.FirstIndex() != 69 || l.LastIndex() != 68 {
		t.Fatalf("emptied and reopened: first %d last %d", l.FirstIndex(), l.LastIndex())
	}
	appendRange(t, l, 2, 2, twoLines)
	checkReads(t, l, 69, 70)
	checkSegments(t, l, dir)
}

func TestClosed(t *testing.T) {
	l := openLog(t, t.TempDir(), nil)
	appendRange(t, l, 3, 3, twoLines)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := l.Append([][]byte{testRecord(4, 1, 1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append: %v", err)
	}
	if _, err := l.Read(nil, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Read: %v", err)
	}
	if err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync: %v", err)
	}
	if err := l.TruncateFront(2); !errors.Is(err, ErrClosed) {
		t.Errorf("TruncateFront: %v", err)
	}
	if l.FirstIndex() != 1 || l.LastIndex() != 3 || len(l.Segments()) != 1 || l.Size() == 0 {
		t.Errorf("closed log lost its final state")
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file, nil); err == nil {
		t.Fatal("Open of a regular file succeeded")
	}
	if _, err := Open(filepath.Join(file, "sub"), nil); err == nil {
		t.Fatal("Open below a regular file succeeded")
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	l := openLog(t, dir, &Options{Registerer: reg, SegmentSize: 4096})
	appendRange(t, l, 20, 4, twoLines)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(l.m.appendedRecords); got != 20 {
		t.Errorf("appended_records_total = %v", got)
	}
	for name, want := range map[string]float64{
		"logcapturer_wal_bytes":       float64(l.Size()),
		"logcapturer_wal_segments":    float64(len(l.Segments())),
		"logcapturer_wal_first_index": 1,
		"logcapturer_wal_last_index":  20,
	} {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, mf := range mfs {
			if mf.GetName() == name {
				found = true
				if got := mf.GetMetric()[0].GetGauge().GetValue(); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
		}
		if !found {
			t.Errorf("%s not registered", name)
		}
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Errorf("%d metrics registered, want 10", n)
	}
	if got := testutil.ToFloat64(l.m.appendedBytes); got <= 0 {
		t.Errorf("appended_bytes_total = %v", got)
	}
	if testutil.CollectAndCount(l.m.fsyncDuration) != 1 {
		t.Error("fsync histogram missing")
	}

	// A second log on the same registry conflicts, and leaves the first
	// one's metrics in place.
	if _, err := Open(t.TempDir(), &Options{Registerer: reg}); err == nil {
		t.Fatal("second Open on the same registry succeeded")
	}
	if n, _ := testutil.GatherAndCount(reg); n != 10 {
		t.Fatalf("%d metrics registered after the failed Open, want 10", n)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := testutil.GatherAndCount(reg); n != 0 {
		t.Fatalf("%d metrics registered after Close", n)
	}
	l = openLog(t, dir, &Options{Registerer: reg})
	defer l.Close()
	if n, _ := testutil.GatherAndCount(reg); n != 10 {
		t.Fatalf("%d metrics registered after reopen, want 10", n)
	}
}

// TestConcurrentUse runs an appender, a syncer, readers and a truncator at
// once; run it with -race.
func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, &Options{SegmentSize: 8 << 10})
	var stop = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}

	wg.Add(1)
	go func() { // syncer
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := l.Sync(); err != nil {
				fail(err)
				return
			}
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() { // reader
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			var buf []byte
			for {
				select {
				case <-stop:
					return
				default:
				}
				first, last := l.FirstIndex(), l.LastIndex()
				if last < first {
					continue
				}
				i := first + rng.Uint64N(last-first+1)
				var err error
				buf, err = l.Read(buf, i)
				if errors.Is(err, ErrNotFound) && i < l.FirstIndex() {
					continue // truncated meanwhile
				}
				if err != nil {
					fail(err)
					return
				}
				var b Block
				if err := DecodeBlock(buf, &b); err != nil || uint64(b.Position.Offset) != i {
					fail(errors.New("read returned the wrong record"))
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // truncator
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if segs := l.Segments(); len(segs) > 5 {
				if err := l.TruncateFront(segs[len(segs)-3].FirstIndex); err != nil {
					fail(err)
					return
				}
			}
			_ = l.Size()
		}
	}()

	// The appender is this goroutine.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 400 {
		next := l.LastIndex() + 1
		recs := make([][]byte, 1+rng.IntN(4))
		for j := range recs {
			recs[j] = testRecord(next+uint64(j), 1+rng.IntN(6), 150)
		}
		if _, _, err := l.Append(recs); err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkSegments(t, l, dir)
	checkSyncFile(t, l)
	last := l.LastIndex()
	first := l.FirstIndex()
	if first == 1 {
		t.Error("the truncator never ran")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, nil)
	defer l.Close()
	if l.FirstIndex() != first || l.LastIndex() != last {
		t.Fatalf("reopened: %d..%d, want %d..%d", l.FirstIndex(), l.LastIndex(), first, last)
	}
	checkReads(t, l, first, last)
}

// TestSyncOfFullSegments: after groups that each fill a segment (the
// usual case under load), Sync fsyncs only the directory: tidwall fsynced
// each finished segment before it started the next, and the new tail holds
// nothing. A tail holding records is fsynced as before.
func TestSyncOfFullSegments(t *testing.T) {
	dir := t.TempDir()
	fs := &waltest.Fsync{}
	defer fs.Close()
	l := openLog(t, dir, &Options{SegmentSize: 4096, Fsync: fs.Sync})
	defer l.Close()
	segmentCalls := func() (n int) {
		for _, c := range fs.Calls() {
			if isSegment(c.Path) {
				n++
			}
		}
		return n
	}
	for i := uint64(1); i <= 3; i++ {
		if _, _, err := l.Append([][]byte{testRecord(i, 1, 5000)}); err != nil {
			t.Fatal(err)
		}
		before, calls := segmentCalls(), len(fs.Calls())
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		if segmentCalls() != before || len(fs.Calls()) != calls+1 {
			t.Fatalf("Sync after a group that filled its segment: %d fsyncs, %d of segments; want the directory's alone",
				len(fs.Calls())-calls, segmentCalls()-before)
		}
		if l.DurableIndex() != i {
			t.Fatalf("DurableIndex = %d, want %d", l.DurableIndex(), i)
		}
	}
	if _, _, err := l.Append([][]byte{testRecord(4, 1, 10)}); err != nil {
		t.Fatal(err)
	}
	before := segmentCalls()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if segmentCalls() != before+1 {
		t.Fatal("Sync did not fsync a tail holding a record")
	}
	l.Close()
	l2 := openLog(t, dir, nil)
	defer l2.Close()
	checkReads(t, l2, 1, 4)
}
