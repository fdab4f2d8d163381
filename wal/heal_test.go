package wal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/logcapturer/logcapturer/wal/waltest"
)

// failIf returns a fault that fails the fsync of paths for which match is
// true with EIO, as a disk does when writeback fails.
func failIf(match func(path string) bool) func(string) error {
	return func(path string) error {
		if match(path) {
			return &os.PathError{Op: "sync", Path: path, Err: syscall.EIO}
		}
		return nil
	}
}

func isSegment(path string) bool {
	_, kind, ok := parseSegmentName(filepath.Base(path))
	return ok && kind == plainSegment
}

// TestSyncFailureCutsBackToDurable: after a failed fsync the log refuses
// appends and syncs without fsyncing that file again; Reopen cuts every
// record after the durable index off into a new file (and, while it cannot,
// leaves the log failed but reopenable); the log then goes on from there.
func TestSyncFailureCutsBackToDurable(t *testing.T) {
	for _, tc := range []struct {
		name        string
		segmentSize int64
		durable     int // records synced before the fault
		more        int // records appended after, lost to the fault
		fault       func(path string) bool
	}{
		{"not durable records in the tail", 1 << 20, 10, 5, isSegment},
		{"not durable records span new segments", 4096, 30, 40, isSegment},
		{"directory fsync fails", 4096, 30, 40, func(path string) bool { return !isSegment(path) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := &waltest.Fsync{}
			defer fs.Close()
			opts := &Options{SegmentSize: tc.segmentSize, Fsync: fs.Sync}
			l := openLog(t, dir, opts)
			defer l.Close()
			appendRange(t, l, tc.durable, 3, twoLines)
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			appendRange(t, l, tc.more, 3, twoLines)
			d := uint64(tc.durable)
			if l.DurableIndex() != d {
				t.Fatalf("DurableIndex = %d, want %d", l.DurableIndex(), d)
			}
			segsBefore := l.segments()
			tailBefore, err := os.Stat(l.segmentPath(segsBefore[len(segsBefore)-1].rec))
			if err != nil {
				t.Fatal(err)
			}

			fs.Fail(failIf(tc.fault))
			if err := l.Sync(); !errors.Is(err, syscall.EIO) {
				t.Fatalf("Sync with a failing fsync: %v, want EIO", err)
			}
			if l.Err() == nil {
				t.Fatal("Err() = nil after a failed fsync")
			}
			calls := len(fs.Calls())
			if err := l.Sync(); err == nil {
				t.Fatal("a second Sync after a failed fsync succeeded")
			}
			if _, _, err := l.Append([][]byte{testRecord(99, 1, 10)}); err == nil || errors.Is(err, ErrClosed) {
				t.Fatalf("Append after a failed fsync: %v, want a failure that is not ErrClosed", err)
			}
			if n := len(fs.Calls()); n != calls {
				t.Fatalf("the failed log fsynced again (%d more calls)", n-calls)
			}
			if l.DurableIndex() != d {
				t.Fatalf("DurableIndex moved to %d after a failed fsync, want %d", l.DurableIndex(), d)
			}

			// While every fsync fails, Reopen fails and leaves the log
			// failed, not closed; it can be retried.
			fs.Fail(failIf(func(string) bool { return true }))
			if err := l.Reopen(); err == nil || errors.Is(err, ErrClosed) {
				t.Fatalf("Reopen while fsync fails: %v, want a failure that is not ErrClosed", err)
			}
			if l.Err() == nil {
				t.Fatal("Err() = nil after a failed Reopen")
			}
			fs.Fail(nil)
			if len(l.Segments()) > 1 {
				// Retention may delete whole segments of a failed log
				// (needing no space, unlike tidwall's truncation).
				if err := l.TruncateFront(l.Segments()[1].FirstIndex); err != nil {
					t.Fatalf("TruncateFront at a segment boundary of a failed log: %v", err)
				}
				if l.Err() == nil {
					t.Fatal("TruncateFront healed the log")
				}
			}
			first := l.FirstIndex()
			if err := l.Reopen(); err != nil {
				t.Fatalf("Reopen once fsync works: %v", err)
			}
			if l.Err() != nil {
				t.Fatalf("Err() = %v after Reopen", l.Err())
			}
			if l.FirstIndex() != first || l.LastIndex() != d || l.DurableIndex() != d {
				t.Fatalf("after Reopen: indexes %d..%d durable %d, want %d..%d durable %d",
					l.FirstIndex(), l.LastIndex(), l.DurableIndex(), first, d, d)
			}
			checkReads(t, l, first, d)
			checkSegments(t, l, dir)
			segs := l.segments()
			tailAfter, err := os.Stat(l.segmentPath(segs[len(segs)-1].rec))
			if err != nil {
				t.Fatal(err)
			}
			if os.SameFile(tailBefore, tailAfter) {
				t.Fatal("the tail whose fsync failed is still the tail file; want a new file")
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*"+tempSuffix)); len(m) != 0 {
				t.Fatalf("temporary files left: %v", m)
			}

			// The records are appended again under the same indexes.
			appendRange(t, l, tc.more, 3, twoLines)
			checkSyncFile(t, l)
			if l.DurableIndex() != d+uint64(tc.more) {
				t.Fatalf("DurableIndex = %d, want %d", l.DurableIndex(), d+uint64(tc.more))
			}
			if c := fs.RefsyncedAfterFailure(); c != nil {
				t.Fatalf("%s was fsynced again after its fsync failed", c.Path)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, opts)
			checkReads(t, l, first, d+uint64(tc.more))
			if got := brokenFiles(t, dir); len(got) != 0 {
				t.Fatalf("repair found damage after healing: %v", got)
			}
		})
	}
}

// TestCloseAfterSyncFailure: a log closed while a failed fsync is not
// healed cuts the records of unknown state off, so the next Open does not
// take them for durable.
func TestCloseAfterSyncFailure(t *testing.T) {
	dir := t.TempDir()
	fs := &waltest.Fsync{}
	defer fs.Close()
	l := openLog(t, dir, &Options{Fsync: fs.Sync})
	appendRange(t, l, 10, 5, twoLines)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	appendRange(t, l, 5, 5, twoLines)
	fs.Fail(failIf(isSegment))
	if err := l.Sync(); err == nil {
		t.Fatal("Sync succeeded with a failing fsync")
	}
	fs.Fail(nil)
	if err := l.Close(); err == nil || !strings.Contains(err.Error(), "not repaired") {
		t.Fatalf("Close of a failed log: %v, want an error saying so", err)
	}
	if c := fs.RefsyncedAfterFailure(); c != nil {
		t.Fatalf("%s was fsynced again after its fsync failed", c.Path)
	}
	l = openLog(t, dir, nil)
	defer l.Close()
	if l.LastIndex() != 10 {
		t.Fatalf("reopened: LastIndex %d, want the durable 10", l.LastIndex())
	}
	checkReads(t, l, 1, 10)
}

// TestOpenFsyncsTail (item 5 of the fault issue): a tail written by a
// process that was killed before its fsync exists only in the page cache.
// Open must fsync it (and the directory) before reporting it durable, so
// a power cut right after cannot take back what it reported.
func TestOpenFsyncsTail(t *testing.T) {
	dir := t.TempDir()
	// The first process: its fsyncs reach nothing, then kill -9 (the Log
	// is never closed; tidwall's own Close would fsync).
	lost := &waltest.Fsync{}
	lost.Drop(true)
	l1 := openLog(t, dir, &Options{Fsync: lost.Sync})
	appendRange(t, l1, 20, 4, twoLines)
	if err := l1.Sync(); err != nil {
		t.Fatal(err)
	}

	// The restarted process reports what it found as durable.
	fs := &waltest.Fsync{}
	defer fs.Close()
	l2 := openLog(t, dir, &Options{Fsync: fs.Sync})
	durable := l2.DurableIndex()
	if durable != 20 || l2.LastIndex() != 20 {
		t.Fatalf("reopened: durable %d last %d, want 20 20", durable, l2.LastIndex())
	}
	// Power cut now: each segment keeps what an fsync covered.
	for _, s := range segmentFiles(t, dir) {
		path := filepath.Join(dir, segmentName(s.FirstIndex))
		size, _ := fs.Synced(path)
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
	if !hasDirSync(fs, dir) {
		t.Error("Open did not fsync the directory")
	}
	// l2 dies with the power: never closed.

	l3 := openLog(t, dir, nil)
	defer l3.Close()
	if l3.LastIndex() < durable {
		t.Fatalf("after the power cut the log ends at %d; the restarted Log had reported %d durable", l3.LastIndex(), durable)
	}
	checkReads(t, l3, 1, durable)
	l1.closeSyncFile()
	l2.closeSyncFile()
}

func hasDirSync(fs *waltest.Fsync, dir string) bool {
	for _, c := range fs.Calls() {
		if c.Err == nil && c.Info != nil && c.Info.IsDir() && c.Path == dir {
			return true
		}
	}
	return false
}

// TestReopenOnFullDisk (item 1): an append that fails on a full disk is
// healed by Reopen without writing anything (no .broken copy): Reopen works
// as often as needed while the disk stays full, the log is never left
// closed, and appends go on once there is space.
func TestReopenOnFullDisk(t *testing.T) {
	mnt := waltest.MountTmpfs(t, "1m")
	dir := filepath.Join(mnt, "wal")
	l := openLog(t, dir, &Options{SegmentSize: 256 << 10})
	defer l.Close()
	appendRange(t, l, 20, 5, twoLines)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	filler, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()

	// Append until the disk refuses; half a record may be on disk.
	next := l.LastIndex() + 1
	var appendErr error
	for range 10000 {
		if _, _, appendErr = l.Append([][]byte{testRecord(next, 8, 150)}); appendErr != nil {
			break
		}
		next++
	}
	if !errors.Is(appendErr, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want ENOSPC", appendErr)
	}
	for attempt := range 3 {
		if err := l.Reopen(); err != nil {
			t.Fatalf("Reopen %d on a full disk: %v", attempt, err)
		}
		if l.LastIndex() != next-1 {
			t.Fatalf("after Reopen: LastIndex %d, want %d (every whole record kept)", l.LastIndex(), next-1)
		}
		if _, _, err := l.Append([][]byte{testRecord(next, 8, 150)}); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("append %d on a still full disk: %v, want ENOSPC", attempt, err)
		}
	}
	if got := brokenFiles(t, dir); len(got) != 0 {
		t.Fatalf("healing a failed append wrote %v", got)
	}
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	appendRange(t, l, 5, 5, twoLines)
	checkSyncFile(t, l)
	last := l.LastIndex()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, nil)
	if l.LastIndex() != last {
		t.Fatalf("reopened: LastIndex %d, want %d", l.LastIndex(), last)
	}
	checkReads(t, l, 1, last)
	if got := brokenFiles(t, dir); len(got) != 0 {
		t.Fatalf("clean reopen repaired: %v", got)
	}
}
