package sources

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/wal"
)

// gate is an Emitter that passes records to next while open and blocks
// them while closed, like a WAL that is behind because sinks are down.
type gate struct {
	next    Emitter
	mu      sync.Mutex
	open    chan struct{} // closed while the gate is open
	waiting atomic.Int64  // Emits blocked right now
}

func newGate(next Emitter) *gate {
	g := &gate{next: next, open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) Emit(ctx context.Context, rec Record) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	select {
	case <-open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.next.Emit(ctx, rec)
}

func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// seqLine is the n-th line the rotation writers write.
func seqLine(n int) string {
	return fmt.Sprintf("%09d lorem ipsum dolor sit amet, consectetur adipiscing elit", n)
}

// rotatingWriter writes seqLines to dir/app.log at a steady rate and
// rotates it logrotate-style (rename, create) every rotateBytes: the
// generations are shifted (app.log.1 -> app.log.2 ...) and the oldest
// beyond keep is deleted. The writer keeps writing to the renamed file for
// a few lines before it reopens, as an application does until it gets its
// SIGHUP.
//
// Before it rotates, the writer waits until the source has completed a
// scan that started after the current app.log was created (scans counts
// the source's scans): a generation must be visible as app.log to some
// scan for a glob without the rotated names to find it, as with every
// tailer. Real generations live minutes; here they live about 100 ms,
// which a source slowed by the race detector on a loaded machine can
// spend in one read round.
type rotatingWriter struct {
	dir       string
	scans     func() int64
	written   int
	rotations int
}

func (w *rotatingWriter) run(t *testing.T, rotations, rotateBytes, bytesPerSec, keep int) {
	t.Helper()
	path := filepath.Join(w.dir, "app.log")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := open()
	created := w.scans()
	const tick = 5 * time.Millisecond
	perTick := max(1, bytesPerSec/int(time.Second/tick)/(len(seqLine(0))+1))
	var buf []byte
	size, lateLines := 0, -1
	next := time.Now()
	for w.rotations < rotations {
		next = next.Add(tick)
		time.Sleep(time.Until(next))
		buf = buf[:0]
		for range perTick {
			buf = append(append(buf, seqLine(w.written)...), '\n')
			w.written++
			if lateLines > 0 {
				lateLines--
				if lateLines == 0 { // SIGHUP: reopen app.log
					if _, err := f.Write(buf); err != nil {
						t.Fatal(err)
					}
					buf = buf[:0]
					f.Close()
					f = open()
					created = w.scans()
				}
			}
		}
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
		size += len(buf)
		if size >= rotateBytes && lateLines <= 0 {
			waitFor(t, func() bool { return w.scans() >= created+2 }, 10*time.Second, "a scan of the current app.log")
			os.Remove(filepath.Join(w.dir, fmt.Sprintf("app.log.%d", keep)))
			for g := keep - 1; g >= 1; g-- {
				os.Rename(filepath.Join(w.dir, fmt.Sprintf("app.log.%d", g)), filepath.Join(w.dir, fmt.Sprintf("app.log.%d", g+1)))
			}
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			w.rotations++
			size, lateLines = 0, 1+w.rotations%7
		}
	}
	f.Close()
}

// seqCounter is an Emitter that counts, per sequence number, the seqLines
// it receives (a recorder would keep hundreds of MB of lines).
type seqCounter struct {
	t      testing.TB
	mu     sync.Mutex
	counts map[int]int
	bad    int
	total  atomic.Int64
}

func (c *seqCounter) Emit(ctx context.Context, rec Record) error {
	var b wal.Block
	if err := wal.DecodeBlock(rec.Data, &b); err != nil {
		c.t.Errorf("decode record: %v", err)
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range b.Entries {
		i, err := strconv.Atoi(strings.SplitN(string(e.Line), " ", 2)[0])
		if err != nil || string(e.Line) != seqLine(i) {
			if c.bad < 5 {
				c.t.Errorf("unexpected line %q", e.Line)
			}
			c.bad++
			continue
		}
		c.counts[i]++
	}
	c.total.Add(int64(len(b.Entries)))
	return nil
}

// check checks that seqLine(0..n-1) each arrived exactly once, and
// reports the missing and repeated lines as ranges (a whole file lost or
// read twice is one range).
func (c *seqCounter) check(t *testing.T, n int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	missing, dups, ranges := 0, 0, 0
	for i := 0; i < n; {
		k := c.counts[i]
		j := i + 1
		for j < n && (c.counts[j] == 0) == (k == 0) && (c.counts[j] > 1) == (k > 1) {
			j++
		}
		switch {
		case k == 0:
			missing += j - i
		case k > 1:
			for l := i; l < j; l++ {
				dups += c.counts[l] - 1
			}
		}
		if k != 1 && ranges < 5 {
			ranges++
			what := "missing"
			if k > 1 {
				what = fmt.Sprintf("read %d times", k)
			}
			t.Errorf("lines %d..%d (%d) %s", i, j-1, j-i, what)
		}
		i = j
	}
	if missing > 0 || dups > 0 || c.bad > 0 {
		t.Errorf("%d lines written: %d missing, %d duplicates, %d unexpected", n, missing, dups, c.bad)
	}
}

// TestFileRotationUnderLoad writes at a steady rate while rotating every
// 2 MiB, at least 50 times, with the sinks going down now and then (the
// Emitter blocks), and checks every line is read exactly once. With the
// rotated names outside the glob, the renamed file is read to its end
// through the handle already open; with them inside (app.log*), it is
// recognised and not read again, also when a scan lists the directory in
// the middle of a rotation and misses it (see TestFileGoneFileFoundAgain).
// LOGCAPTURER_ROTATIONS raises the number of rotations.
//
// A generation must be visible as app.log to some scan for a glob without
// the rotated names to find it, as with every tailer: outages are shorter
// than a generation's life, and the writer does not rotate before a scan
// saw the current app.log (see rotatingWriter).
func TestFileRotationUnderLoad(t *testing.T) {
	rotations := 50
	if v := os.Getenv("LOGCAPTURER_ROTATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		rotations = n
	}
	for _, glob := range []string{"app.log", "app.log*"} {
		t.Run(glob, func(t *testing.T) {
			dir := t.TempDir()
			cnt := &seqCounter{t: t, counts: make(map[int]int)}
			g := newGate(cnt)
			h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, glob)}, Emitter: g})
			h.start(t)
			h.waitStarted(t)

			// Sinks go down for 20-40 ms every 150 ms.
			stop := make(chan struct{})
			var outages sync.WaitGroup
			outages.Add(1)
			go func() {
				defer outages.Done()
				defer g.release()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(150 * time.Millisecond):
					}
					g.shut()
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(20+i%3*10) * time.Millisecond):
					}
					g.release()
				}
			}()

			w := &rotatingWriter{dir: dir, scans: h.f.scans.Load}
			rotateBytes, rate := 2<<20, 24<<20
			if raceEnabled {
				rotateBytes, rate = 512<<10, 4<<20
			}
			w.run(t, rotations, rotateBytes, rate, 4)
			close(stop)
			outages.Wait()
			if !eventually(func() bool { return cnt.total.Load() >= int64(w.written) }, 20*time.Second) {
				t.Errorf("timed out after 20s waiting for every line") // check says which are missing
			} else {
				h.waitScans(t, 3)
			}
			cnt.check(t, w.written)
			waitFor(t, func() bool { return testutilValue(h.f.metrics.filesDeletedOpen) == 0 }, 5*time.Second,
				"rotated files to be closed")
			t.Logf("%d rotations, %d lines, files open %v", w.rotations, w.written, h.filesOpen())
		})
	}
}

// TestFileGoneFileFoundAgain: a file no scan found (it was closed as gone,
// read to its end) while it was still linked under a name outside the
// glob shows up again under a matching name: it resumes at its offset and
// is not read again. That is what a scan that lists the directory in the
// middle of a rotation (after app.log.1 -> app.log.2, before app.log ->
// app.log.1) does to the file renamed last, seen by
// TestFileRotationUnderLoad/app.log* as one rotated file read twice.
func TestFileGoneFileFoundAgain(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, PollInterval: 200 * time.Millisecond})
	a, away, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "a.away"), filepath.Join(dir, "b.log")
	appendFile(t, a, "one\ntwo\n")
	h.start(t)
	h.rec.waitLines(t, "", "one", "two")
	if err := os.Rename(a, away); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return h.filesOpen() == 0 }, 5*time.Second, "the gone file to be closed")
	if err := os.Rename(away, b); err != nil {
		t.Fatal(err)
	}
	appendFile(t, b, "three\n")
	h.rec.waitLines(t, "", "one", "two", "three")
	h.waitScans(t, 3)
	h.rec.waitLines(t, "", "one", "two", "three")
}

// TestFileRotatedOutReadBeforeClose: a file rotated out of the glob is read
// once more before it is closed, even when the application wrote its last
// line to it after the source's last read of it and the file's grace period
// (a PollInterval after the rotation was seen) ended while the source was
// reading another file: the lines the application wrote to it before it
// reopened the new file are not lost.
//
// The order is made by the Emitter, not by the clock: the new file's first
// block waits in Emit (the gate is shut), and the source, one goroutine,
// can neither scan, read nor close a file while it waits. Meanwhile the
// application writes a2 to the old file and the grace period passes. When
// Emit returns, the round goes on and ends with a sweep: the first look at
// the old file since a2, past the grace period, with no rescan before it.
// The new file is written before it is renamed into place, so the scan that
// opens it finds b0 there and the round that blocks is that scan's full
// round, which read the old file (first in the read order) before the
// block.
func TestFileRotatedOutReadBeforeClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	const poll = time.Second
	rec := &recorder{t: t}
	g := newGate(rec)
	h := newHarness(t, FileOptions{Paths: []string{path}, Emitter: g, PollInterval: poll})
	h.rec = rec
	old, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.WriteString("a1\n"); err != nil {
		t.Fatal(err)
	}
	oldID := idOf(t, path)
	h.start(t)
	rec.waitLines(t, oldID, "a1")

	g.shut()
	next := filepath.Join(dir, "app.log.new")
	appendFile(t, next, "b0\n")
	newID := idOf(t, next)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return g.waiting.Load() == 1 }, 5*time.Second, "the new file's first block to wait in Emit")
	seen := time.Now() // no earlier than the scan that found the old file gone
	if n := testutilValue(h.f.metrics.filesDeletedOpen); n != 1 {
		// Only a source stalled for a PollInterval within one round
		// could have closed it already.
		t.Fatalf("%v gone files open while the new file's block waits, want the old one", n)
	}
	if _, err := old.WriteString("a2\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return time.Since(seen) > poll }, 5*poll, "the old file's grace period to pass")
	g.release()

	waitFor(t, func() bool { return testutilValue(h.f.metrics.filesDeletedOpen) == 0 }, 10*poll, "the old file to be closed")
	if got := rec.lines(oldID); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Fatalf("lines of the rotated file %q, want a1 a2", got)
	}
	rec.waitLines(t, newID, "b0")
}

// TestFileGoneTailFlushedBeforeClose: a deleted file's unterminated last
// line is emitted before the file is closed, even when the read round
// that last read it went on past its grace period (another file's Emit
// blocked): the close is decided on the clock of the file's last read, the
// one that decides to flush the tail.
func TestFileGoneTailFlushedBeforeClose(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	w, err := os.Create(a)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	appendFile(t, b, "b1\n")
	rec := &recorder{t: t}
	g := newGate(rec)
	const poll = 300 * time.Millisecond
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, Emitter: g, PollInterval: poll})
	h.rec = rec
	h.start(t)
	aID := idOf(t, a)
	if _, err := w.WriteString("a1\n"); err != nil {
		t.Fatal(err)
	}
	rec.waitLines(t, aID, "a1")
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString("a2\ntail"); err != nil {
		t.Fatal(err)
	}
	rec.waitLines(t, aID, "a1", "a2")
	waitFor(t, func() bool { return testutilValue(h.f.metrics.filesDeletedOpen) == 1 }, 5*time.Second, "a.log gone")
	gone := time.Now() // no earlier than the scan that found it gone

	// A round reads b.log and blocks in Emit past a.log's grace period.
	g.shut()
	appendFile(t, b, "b2\n")
	waitFor(t, func() bool { return g.waiting.Load() == 1 }, 5*time.Second, "a block of b.log waiting")
	waitFor(t, func() bool { return time.Since(gone) > poll+poll/2 }, 5*time.Second, "a.log's grace period to pass")
	g.release()

	rec.waitLines(t, aID, "a1", "a2", "tail")
	waitFor(t, func() bool { return h.filesOpen() == 1 }, 5*time.Second, "a.log to be closed")
}
