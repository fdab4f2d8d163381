package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// lineBatch is a batch of one block holding lines, one entry each.
func lineBatch(lines ...string) *Batch {
	b := &Batch{From: 1, To: 1, Blocks: []wal.Block{{}}}
	for _, l := range lines {
		b.Blocks[0].Entries = append(b.Blocks[0].Entries, wal.Entry{Line: []byte(l)})
	}
	return b
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// syncedDirs records the directories a File fsyncs, failing while fail is
// set.
type syncedDirs struct {
	mu   sync.Mutex
	dirs []string
	fail error
}

func (d *syncedDirs) sync(dir string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	d.dirs = append(d.dirs, dir)
	return nil
}

func (d *syncedDirs) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.dirs
	d.dirs = nil
	return out
}

// TestFileFollowsRenameAndRemove: after the output file is renamed (mv,
// logrotate's default) or removed (rm) between two batches, the next batch
// lands in a new file at the path, not in the renamed or deleted one; the
// new file's directory is fsynced before the batch is acknowledged (and a
// failed directory fsync fails the batch and is tried again); each reopen
// logs one line and is counted.
func TestFileFollowsRenameAndRemove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "raw.log")
	var logBuf bytes.Buffer
	reg := prometheus.NewRegistry()
	s, err := NewFile(slog.New(slog.NewTextHandler(&logBuf, nil)), reg, FileOptions{Name: "f", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	synced := &syncedDirs{}
	s.syncDirFn = synced.sync
	ctx := context.Background()
	send := func(lines ...string) {
		t.Helper()
		if err := s.Send(ctx, lineBatch(lines...)); err != nil {
			t.Fatal(err)
		}
	}

	send("one")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	send("two")
	if got := readFile(t, path+".1"); got != "one\n" {
		t.Errorf("the renamed file holds %q, want only the batch before the rename", got)
	}
	if got := readFile(t, path); got != "two\n" {
		t.Errorf("the new file at the path holds %q, want the batch after the rename", got)
	}
	if got := synced.take(); len(got) != 1 || got[0] != dir {
		t.Errorf("directories fsynced for the new file: %q, want [%s]", got, dir)
	}
	send("three") // same file: no reopen, no directory fsync
	if got := synced.take(); len(got) != 0 {
		t.Errorf("directories fsynced without a new file: %q", got)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	synced.fail = errors.New("injected directory fsync failure")
	err = s.Send(ctx, lineBatch("four"))
	if c, _ := Classify(err); err == nil || c != ClassRetryable || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("a batch whose new file's directory was not fsynced: err %v, want a retryable error", err)
	}
	synced.fail = nil
	send("four") // the retry: the directory is fsynced now
	if got := synced.take(); len(got) != 1 || got[0] != dir {
		t.Errorf("directories fsynced on the retry: %q, want [%s]", got, dir)
	}
	if got := readFile(t, path); got != "four\n" {
		t.Errorf("the file created after rm holds %q, want the batch after the rm", got)
	}

	if n := testutil.ToFloat64(s.reopens); n != 2 {
		t.Errorf("reopens counted: %v, want 2", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP logcapturer_sink_file_reopens_total Times the file sink opened its path again: the file was renamed or removed, or a reload (SIGHUP, POST /-/reload) asked for it.
# TYPE logcapturer_sink_file_reopens_total counter
logcapturer_sink_file_reopens_total{sink="f"} 2
`), "logcapturer_sink_file_reopens_total"); err != nil {
		t.Error(err)
	}
	if n := strings.Count(logBuf.String(), "file sink reopened its output"); n != 2 {
		t.Errorf("%d reopen log lines, want 2:\n%s", n, logBuf.String())
	}
}

// TestFileFollowsReplacedFile: when the path names another file than the
// open one (logrotate's create: rename, then a new empty file), the next
// batch is appended to that file. A truncation in place (copytruncate)
// keeps the file, and a failed write after it is cut back to the right
// size.
func TestFileFollowsReplacedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.log")
	s, err := NewFile(nil, nil, FileOptions{Name: "f", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Send(ctx, lineBatch("one")); err != nil {
		t.Fatal(err)
	}
	os.Rename(path, path+".1")
	if err := os.WriteFile(path, []byte("header\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, lineBatch("two")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "header\ntwo\n" {
		t.Errorf("the replacing file holds %q", got)
	}
	if got := readFile(t, path+".1"); got != "one\n" {
		t.Errorf("the renamed file holds %q", got)
	}

	if err := os.Truncate(path, 0); err != nil { // copytruncate
		t.Fatal(err)
	}
	if err := s.Send(ctx, lineBatch("three")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "three\n" {
		t.Errorf("after a truncation the file holds %q", got)
	}
	os.Truncate(path, 0)
	s.mu(func() { s.follow(context.Background()); s.cutBack() }) // what a failed write does
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("a cut back after a truncation left %d bytes (stale size)", fi.Size())
	}
}

// mu runs fn with the sink's lock held.
func (s *File) mu(fn func()) {
	s.sem <- struct{}{}
	defer s.unlock()
	fn()
}

// TestFileReopen: Reopen opens the path again at once, without waiting for
// a batch: a renamed file is released and a new one created (with its
// directory); an unchanged path keeps being appended to. It waits for a
// write in progress and gives up when its context is done; after Close it
// does nothing.
func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "raw.log")
	s, err := NewFile(nil, nil, FileOptions{Name: "f", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Send(ctx, lineBatch("one"))
	if err := s.Reopen(ctx); err != nil {
		t.Fatal(err)
	}
	s.Send(ctx, lineBatch("two"))
	if got := readFile(t, path); got != "one\ntwo\n" {
		t.Errorf("after a reopen of the same file it holds %q", got)
	}

	os.Rename(path, path+".1")
	if err := s.Reopen(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("Reopen after a rename: the path is %v, %v; want a new empty file", fi, err)
	}
	var st1 = statOrFail(t, path+".1")
	open, _ := s.f.Stat()
	if os.SameFile(open, st1) {
		t.Error("Reopen kept the renamed file open")
	}

	// A write in progress holds the lock: Reopen waits, and gives up
	// with its context.
	s.sem <- struct{}{}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err = s.Reopen(tctx)
	cancel()
	s.unlock()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Reopen while a write is in progress: %v, want it to give up with its context", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if err := s.Reopen(ctx); err != nil {
		t.Errorf("Reopen after Close: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Reopen after Close created the file: %v", err)
	}
}

func statOrFail(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestFileCreatesDirectoryDurably: a removed output directory is created
// again, and the parent of each directory created is fsynced, as is the
// new file's directory.
func TestFileCreatesDirectoryDurably(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "raw.log")
	s, err := NewFile(nil, nil, FileOptions{Name: "f", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	synced := &syncedDirs{}
	s.syncDirFn = synced.sync
	if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), lineBatch("one")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "one\n" {
		t.Errorf("file holds %q", got)
	}
	want := []string{root, filepath.Join(root, "a"), filepath.Join(root, "a", "b")}
	if got := synced.take(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("directories fsynced: %q, want %q", got, want)
	}
}

// TestFileCutsTornLastLine: a write cut short by a crash leaves the output
// without its final newline; at the next start the sink cuts that torn
// line (its batch is sent again) instead of appending to it, which would
// merge it with the next line. A whole file without a newline is torn as
// a whole; a file that ends with one is left alone.
func TestFileCutsTornLastLine(t *testing.T) {
	for _, tc := range []struct{ before, after string }{
		{"a\nb\npar", "a\nb\nc\n"},
		{"partial", "c\n"},
		{"a\n", "a\nc\n"},
		{"", "c\n"},
		{strings.Repeat("x", 200<<10) + "\n" + strings.Repeat("y", 150<<10), strings.Repeat("x", 200<<10) + "\nc\n"}, // over one read chunk
	} {
		path := filepath.Join(t.TempDir(), "out.log")
		if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := NewFile(nil, nil, FileOptions{Name: "f", Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), lineBatch("c")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.after {
			t.Errorf("%.20q...: got %.30q..., want %.30q...", tc.before, got, tc.after)
		}
	}
}

// TestFileAwaitsRotatorsCreate: between a rotator's rename and its
// create (logrotate's create mode opens the new file with O_EXCL), a batch
// waits for the new file instead of creating the path itself: logrotate
// would move such a file aside to <path>-<YYYYMMDDHH>.backup (measured
// with Debian's logrotate 3.21 and a writer recreating the path: 18 of 30
// rotations did that, 7 failed with "File exists"). When nothing
// reappears (nocreate, mv), the path is created after the wait.
func TestFileAwaitsRotatorsCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "raw.log")
	s, err := NewFile(nil, nil, FileOptions{Name: "f", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Send(ctx, lineBatch("before")); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{}, 1)
	s.awaiting = func() { waiting <- struct{}{} }
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, lineBatch("after")) }() // waited for below
	select {
	case <-waiting:
	case err := <-done:
		t.Fatalf("the batch was written (err %v) before the rotator created the path: it created the path itself", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the batch neither waited nor returned")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640) // logrotate's createOutputFile
	if err != nil {
		t.Fatalf("the rotator's create: %v", err)
	}
	f.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path+".1"); got != "before\n" {
		t.Errorf("rotated file: %q", got)
	}
	if got := readFile(t, path); got != "after\n" {
		t.Errorf("new file: %q", got)
	}

	// mv without a new file: created after the wait.
	s.awaiting = nil
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, lineBatch("created")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "created\n" {
		t.Errorf("created file: %q", got)
	}
}
