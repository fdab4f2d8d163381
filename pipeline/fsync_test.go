package pipeline

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/logcapturer/logcapturer/wal/waltest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// durableOracle knows, from the fsyncs that succeeded, the highest WAL
// index a power cut could not take back: for each file (by inode) it
// reads the whole, good records its last successful fsync covered, parsing
// the record layout wal/doc.go states (group records, and single-block
// records of older releases) itself, and takes the index of their last
// block. It trusts nothing the pipeline or the WAL says.
type durableOracle struct {
	mu     sync.Mutex
	files  map[uint64]*oracleFile // by inode
	max    uint64
	failed int
}

type oracleFile struct {
	r      *os.File // held open, so the inode is not reused by a new file
	first  uint64   // index of the file's first record (from its name)
	synced int64    // size at its last successful fsync
	off    int64    // records read up to here
	count  uint64   // records read
	last   uint64   // index of the last block of the records read; 0: none
}

func inode(info os.FileInfo) uint64 { return info.Sys().(*syscall.Stat_t).Ino }

// segmentFirst parses the first index from a segment file name (the name of
// a rewrite's temporary file starts with it too).
func segmentFirst(path string) (uint64, bool) {
	name := filepath.Base(path)
	if len(name) < 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(name[:20], 10, 64)
	return n, err == nil && n > 0
}

// synced records a successful fsync of path, which had size info.Size()
// when the fsync began.
func (o *durableOracle) synced(path string, info os.FileInfo) {
	if info.IsDir() {
		// tidwall fsyncs a finished segment (not through the seam)
		// before it creates the next: when the WAL's directory is
		// fsynced, every segment but the newest is whole.
		o.mu.Lock()
		defer o.mu.Unlock()
		o.finished(path, o.newest(path))
		return
	}
	first, ok := segmentFirst(path)
	if !ok || !info.Mode().IsRegular() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.wholeTo(path, info, first)
	if filepath.Base(path) != segmentName(first) {
		return // a rewrite's temporary file
	}
	// tidwall fsyncs a finished segment (not through the seam) before it
	// creates the next: every segment named below this one is whole.
	o.finished(filepath.Dir(path), first)
}

// newest returns the first record index of the newest segment in dir.
func (o *durableOracle) newest(dir string) uint64 {
	entries, _ := os.ReadDir(dir)
	var newest uint64
	for _, e := range entries {
		if rec, ok := segmentFirst(e.Name()); ok && e.Name() == segmentName(rec) {
			newest = max(newest, rec)
		}
	}
	return newest
}

// finished reads the records of the segments in dir named below first,
// which tidwall fsynced whole. Called with mu held.
func (o *durableOracle) finished(dir string, first uint64) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rec, ok := segmentFirst(e.Name())
		if !ok || rec >= first || e.Name() != segmentName(rec) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if info, err := os.Stat(p); err == nil {
			o.wholeTo(p, info, rec)
		}
	}
}

// wholeTo records that path, whose first record index is first, is
// durable up to info.Size(), and reads its records. A file renamed
// over meanwhile is skipped. Called with mu held.
func (o *durableOracle) wholeTo(path string, info os.FileInfo, first uint64) {
	f := o.files[inode(info)]
	if f == nil {
		r, err := os.Open(path)
		if err != nil {
			return
		}
		if ri, err := r.Stat(); err != nil || !os.SameFile(ri, info) {
			r.Close() // renamed over meanwhile
			return
		}
		f = &oracleFile{r: r, first: first}
		o.files[inode(info)] = f
	}
	f.synced = info.Size()
	readRecords(f)
	o.max = max(o.max, f.last)
}

// segmentName is a segment file's name: its first record index as 20
// digits.
func segmentName(rec uint64) string { return fmt.Sprintf("%020d", rec) }

// close closes the files it holds.
func (o *durableOracle) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range o.files {
		f.r.Close()
	}
}

// readRecords reads f's good records between f.off and f.synced and
// advances f.off, f.count and f.last.
func readRecords(f *oracleFile) {
	var hdr [binary.MaxVarintLen64]byte
	for f.off < f.synced {
		n, _ := f.r.ReadAt(hdr[:], f.off)
		size, k := binary.Uvarint(hdr[:n])
		if k <= 0 || size == 0 || f.off+int64(k)+int64(size) > f.synced {
			return
		}
		rec := make([]byte, size)
		if _, err := f.r.ReadAt(rec, f.off+int64(k)); err != nil {
			return
		}
		last, ok := recordLast(rec, f.first+f.count)
		if !ok {
			return
		}
		f.off += int64(k) + int64(size)
		f.count++
		if last > 0 {
			f.last = last
		}
	}
}

// recordLast parses a record by wal/doc.go's layout and returns the index
// of its last block (0 for a marker, which holds none). A record of one
// block (version 1 or 2 after its checksum) is index rec, its own record
// index; a group record (version 3) holds crc32c(head) | head | blocks,
// head = 3 | uvarint first | uvarint n | n × uint32 length.
func recordLast(data []byte, rec uint64) (uint64, bool) {
	if len(data) < 5 {
		return 0, false
	}
	if data[4] != 3 {
		return rec, wal.CheckRecord(data) == nil
	}
	first, k1 := binary.Uvarint(data[5:])
	if k1 <= 0 {
		return 0, false
	}
	n, k2 := binary.Uvarint(data[5+k1:])
	if k2 <= 0 || n > 1<<20 {
		return 0, false
	}
	headEnd := 5 + k1 + k2 + 4*int(n)
	if headEnd > len(data) || crc32.Checksum(data[4:headEnd], crc32.MakeTable(crc32.Castagnoli)) != binary.LittleEndian.Uint32(data) {
		return 0, false
	}
	off := headEnd
	for i := range int(n) {
		size := int(binary.LittleEndian.Uint32(data[5+k1+k2+4*i:]))
		if size > len(data)-off || wal.CheckRecord(data[off:off+size]) != nil {
			return 0, false
		}
		off += size
	}
	if off != len(data) || n == 0 {
		return 0, off == len(data)
	}
	return first + n - 1, true
}

// durable returns the highest index covered by a successful fsync.
func (o *durableOracle) durable() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.max
}

// dropPages models a kernel that dropped the dirty pages of path when its
// writeback failed: what reads back after its last successful fsync is
// zeros (the disk never had it).
func (o *durableOracle) dropPages(path string) {
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() {
		return
	}
	o.mu.Lock()
	var synced int64
	if f := o.files[inode(info)]; f != nil {
		synced = f.synced
	}
	o.failed++
	o.mu.Unlock()
	if info.Size() > synced {
		if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			_, _ = f.WriteAt(make([]byte, info.Size()-synced), synced)
			f.Close()
		}
	}
}

// TestFsyncFailureHeals (item 2 of the fault issue): the WAL's fsyncs fail
// with EIO (once, or for 2 s) while lines arrive at 10k/s, and the kernel
// drops the pages that failed. No block is delivered to a sink, and no
// position checkpointed, past what a successful fsync covered; no file is
// fsynced again after its fsync failed; once fsync works, every line is
// delivered; /readyz shows wal_append_failing while it fails.
func TestFsyncFailureHeals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fails  int           // fsyncs that fail; 0: every one for lasts
		lasts  time.Duration // how long fsyncs fail
		readyz bool          // long enough to watch /readyz
	}{
		{name: "EIO once", fails: 1},
		{name: "EIO for 2s", lasts: 2 * time.Second, readyz: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			walDir := filepath.Join(dir, "wal")
			oracle := &durableOracle{files: map[uint64]*oracleFile{}}
			defer oracle.close()
			fs := &waltest.Fsync{}
			defer fs.Close()
			var s *memSink
			var faultOn atomic.Bool
			var left, stuckAtFail, failedAt atomic.Int64
			left.Store(int64(tc.fails))
			fs.Fail(func(path string) error {
				if !faultOn.Load() || filepath.Dir(path) != walDir && path != walDir {
					return nil
				}
				if tc.fails > 0 && left.Add(-1) < 0 {
					return nil
				}
				oracle.dropPages(path)
				if tc.fails > 0 && left.Load() == 0 {
					// The fault clears as this call returns.
					stuckAtFail.Store(int64(distinctNumbered(s)))
					failedAt.Store(time.Now().UnixNano())
				}
				return &os.PathError{Op: "sync", Path: path, Err: syscall.EIO}
			})
			seam := func(f *os.File) error {
				info, err := f.Stat()
				if err != nil {
					return err
				}
				if err := fs.Sync(f); err != nil {
					return err
				}
				oracle.synced(f.Name(), info)
				return nil
			}

			var violation atomic.Pointer[string]
			s = &memSink{name: "s", fail: func(_ int, b *sinks.Batch) error {
				if d := oracle.durable(); b.To > d {
					msg := fmt.Sprintf("batch %d..%d delivered; fsyncs covered only up to %d", b.From, b.To, d)
					violation.CompareAndSwap(nil, &msg)
				}
				return nil
			}}
			logs := &syncBuffer{}
			p, err := Open(slog.New(slog.NewTextHandler(logs, nil)), nil, Options{
				DataDir: dir, SegmentSize: 1 << 20, CommitInterval: 5 * time.Millisecond, Fsync: seam,
				Sinks: []SinkOptions{{Sink: s, MaxWait: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}}})
			if err != nil {
				t.Fatal(err)
			}
			p.Start(t.Context())
			defer p.Close()
			a := startAdmin(t, p)

			// Positions and the checkpoint in state.db never pass the
			// oracle either.
			stopCheck := make(chan struct{})
			checked := make(chan struct{})
			go func() {
				defer close(checked)
				for {
					select {
					case <-stopCheck:
						return
					case <-time.After(5 * time.Millisecond): // polling period
					}
					// State first: whatever it holds was committed after
					// the fsync the oracle must already have seen.
					_, positions, checkpoint, err := p.st.load()
					if err != nil {
						continue
					}
					d := oracle.durable()
					if checkpoint > d {
						msg := fmt.Sprintf("positions checkpoint %d past the fsynced %d", checkpoint, d)
						violation.CompareAndSwap(nil, &msg)
					}
					for k, v := range positions {
						if v.Index > d {
							msg := fmt.Sprintf("position of %v at index %d past the fsynced %d", k, v.Index, d)
							violation.CompareAndSwap(nil, &msg)
						}
					}
				}
			}()
			defer func() { close(stopCheck); <-checked }()
			delivered := func() int {
				if v := violation.Load(); v != nil {
					t.Fatal(*v)
				}
				return distinctNumbered(s)
			}

			gen := startGenerator(t, p, 10000)
			waitFor(t, "lines flowing", func() bool { return distinctNumbered(s) > 5000 })
			faultOn.Store(true)
			waitFor(t, "an fsync failing", func() bool { return fs.Failures() > 0 })
			if tc.readyz {
				waitReason(t, a, "wal", ReasonWALAppendFailing, true)
				for end := time.Now().Add(tc.lasts); time.Now().Before(end); {
					if code, b := readyz(t, a.Addr()); code != http.StatusServiceUnavailable || !hasReason(b, "wal", ReasonWALAppendFailing) {
						t.Fatalf("/readyz while fsync fails = %d %+v, want 503 with wal_append_failing", code, b)
					}
					time.Sleep(100 * time.Millisecond) // sampling period of /readyz
				}
			}
			stuck := distinctNumbered(s)
			faultOn.Store(false)
			cleared := time.Now()
			if tc.fails > 0 {
				stuck, cleared = int(stuckAtFail.Load()), time.Unix(0, failedAt.Load())
			}
			waitFor(t, "a line delivered after the fault cleared", func() bool { return delivered() > stuck })
			resumed := time.Since(cleared)
			waitFor(t, "a second of new lines delivered", func() bool { return delivered() > stuck+10000 })
			n := gen.finish()
			waitFor(t, "every line delivered", func() bool { return delivered() >= n })
			dups := checkNumbered(t, s, n)
			waitReason(t, a, "wal", ReasonWALAppendFailing, false)
			if v := violation.Load(); v != nil {
				t.Fatal(*v)
			}
			if c := fs.RefsyncedAfterFailure(); c != nil {
				t.Fatalf("%s was fsynced again after its fsync failed", c.Path)
			}
			if got := testutil.ToFloat64(p.m.corruptRecords.WithLabelValues("s")); got != 0 {
				t.Fatalf("the sink skipped %v corrupt blocks", got)
			}
			t.Logf("%d lines, 0 lost, %d duplicates; %d fsyncs failed; first line delivered %v after the fault cleared",
				n, dups, fs.Failures(), resumed.Round(time.Millisecond))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			msgs := logMessages(logs.String())
			for msg, want := range map[string]int{"degraded: " + ReasonWALAppendFailing: 1, "recovered: " + ReasonWALAppendFailing: 1} {
				if got := msgs[msg]; got != want {
					t.Errorf("%q logged %d times, want %d:\n%s", msg, got, want, logs.String())
				}
			}
		})
	}
}
