package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/logcapturer/logcapturer/wal/waltest"
)

// doneLog records the completions of push records: how often each fired,
// with what, and how many WAL fsyncs had returned at that moment.
type doneLog struct {
	mu     sync.Mutex
	calls  map[string][]error
	synced map[string]int64
	fired  chan string
}

func newDoneLog() *doneLog {
	return &doneLog{calls: map[string][]error{}, synced: map[string]int64{}, fired: make(chan string, 100)}
}

func (d *doneLog) done(name string, fsyncs *atomic.Int64) func(error) {
	return func(err error) {
		d.mu.Lock()
		d.calls[name] = append(d.calls[name], err)
		if fsyncs != nil {
			d.synced[name] = fsyncs.Load()
		}
		d.mu.Unlock()
		d.fired <- name
	}
}

func (d *doneLog) get(name string) []error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]error(nil), d.calls[name]...)
}

// wait waits for name's completion.
func (d *doneLog) wait(t *testing.T, name string) error {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if c := d.get(name); len(c) > 0 {
			return c[0]
		}
		select {
		case <-d.fired:
		case <-deadline:
			t.Fatalf("completion of %s never fired", name)
		}
	}
}

// pushRecord is a record with no position, as a push receiver makes.
func pushRecord(src string, done func(error), lines ...string) sources.Record {
	blk := wal.Block{Source: src, Labels: []wal.Label{{Name: "job", Value: src}}}
	n := 0
	for _, l := range lines {
		blk.Entries = append(blk.Entries, wal.Entry{Time: time.Now().UnixNano(), Line: []byte(l)})
		n += len(l)
	}
	return sources.Record{Source: src, Entries: len(lines), Bytes: n, Data: wal.EncodeBlock(nil, &blk), Done: done}
}

// TestCompletionAfterFsync: a push record's completion fires once the
// fsync covering it has returned, never before (the fsync is held and the
// completion does not come), exactly once (Close fires nothing more), and
// the record creates no position.
func TestCompletionAfterFsync(t *testing.T) {
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	var (
		armed    atomic.Bool
		entered  = make(chan struct{}, 1)
		release  = make(chan struct{})
		returned atomic.Int64 // WAL fsyncs returned since armed
	)
	seam := func(f *os.File) error {
		if !armed.Load() || filepath.Dir(f.Name()) != walDir {
			return f.Sync()
		}
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		err := f.Sync()
		returned.Add(1)
		return err
	}
	s := &memSink{name: "s"}
	p := openTest(t, dir, nil, Options{Fsync: seam}, s)
	dl := newDoneLog()
	armed.Store(true)
	if err := p.Emit(context.Background(), pushRecord("push", dl.done("a", &returned), "a1", "a2")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the WAL was never fsynced")
	}
	// The record is appended and its fsync is in progress: no completion.
	if c := dl.get("a"); len(c) != 0 {
		t.Fatalf("completion fired before its fsync returned: %v", c)
	}
	close(release)
	if err := dl.wait(t, "a"); err != nil {
		t.Fatalf("completion failed: %v", err)
	}
	dl.mu.Lock()
	seen := dl.synced["a"]
	dl.mu.Unlock()
	if seen < 1 {
		t.Fatalf("completion fired with %d fsyncs returned", seen)
	}
	waitFor(t, "lines at the sink", func() bool { return len(s.lines()) == 2 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if c := dl.get("a"); len(c) != 1 {
		t.Fatalf("completion fired %d times: %v", len(c), c)
	}
	p2, err := Open(nil, nil, Options{DataDir: dir, Sinks: []SinkOptions{{Sink: &memSink{name: "s"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if got := p2.SourcePositions("push"); len(got) != 0 {
		t.Fatalf("a push source has positions after a restart: %v", got)
	}
}

// TestCompletionFailsOnFsyncFailure: when the fsync covering a push
// record fails, its completion fails at once with ErrNotDurable and the
// cause, and the healed WAL does not hold it (its client sends it again);
// a file record of the same moment is appended again by the heal and
// delivered once; a push record after the fault completes with nil.
func TestCompletionFailsOnFsyncFailure(t *testing.T) {
	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	fs := &waltest.Fsync{}
	defer fs.Close()
	var faultOn atomic.Bool
	eio := &os.PathError{Op: "sync", Path: "segment", Err: syscall.EIO}
	fs.Fail(func(path string) error {
		if faultOn.Load() && (filepath.Dir(path) == walDir || path == walDir) {
			return eio
		}
		return nil
	})
	s := &memSink{name: "s"}
	p := openTest(t, dir, nil, Options{Fsync: fs.Sync}, s)
	defer p.Close()
	dl := newDoneLog()

	faultOn.Store(true)
	if err := p.Emit(context.Background(), pushRecord("push", dl.done("lost", nil), "lost-1", "lost-2")); err != nil {
		t.Fatal(err)
	}
	emit(t, p, "app", "f1", 6, "file-1")
	err := dl.wait(t, "lost")
	if !errors.Is(err, ErrNotDurable) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("completion error %v, want ErrNotDurable wrapping EIO", err)
	}
	faultOn.Store(false)
	waitFor(t, "the wal healed", func() bool {
		p.faultMu.Lock()
		defer p.faultMu.Unlock()
		return p.healAt == 0
	})
	if err := p.Emit(context.Background(), pushRecord("push", dl.done("kept", nil), "kept-1")); err != nil {
		t.Fatal(err)
	}
	if err := dl.wait(t, "kept"); err != nil {
		t.Fatalf("completion after the fault: %v", err)
	}
	waitFor(t, "file-1 and kept-1 at the sink", func() bool {
		l := s.lines()
		return slices.Contains(l, "file-1") && slices.Contains(l, "kept-1")
	})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	got := s.lines()
	slices.Sort(got)
	if want := []string{"file-1", "kept-1"}; !slices.Equal(got, want) {
		t.Fatalf("sink got %q, want %q: a failed push record must not be appended again", got, want)
	}
	for _, name := range []string{"lost", "kept"} {
		if c := dl.get(name); len(c) != 1 {
			t.Errorf("completion of %s fired %d times: %v", name, len(c), c)
		}
	}
	// The WAL holds what the sink got, at consecutive indexes.
	l, err := wal.Open(walDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var lines []string
	rd := l.NewReader()
	defer rd.Close()
	var buf []byte
	for i := l.FirstIndex(); i <= l.LastIndex(); i++ {
		var blk wal.Block
		if buf, err = rd.Read(buf, i); err != nil {
			t.Fatal(err)
		}
		if err := wal.DecodeBlock(buf, &blk); err != nil {
			t.Fatal(err)
		}
		for _, e := range blk.Entries {
			lines = append(lines, string(e.Line))
		}
	}
	slices.Sort(lines)
	if want := []string{"file-1", "kept-1"}; !slices.Equal(lines, want) {
		t.Fatalf("wal holds %q, want %q", lines, want)
	}
}

// TestCompletionFailsOnClose: a push record still queued when the
// pipeline closes (not started; or behind a writer healing a WAL whose
// fsyncs keep failing) has its completion failed with ErrClosed, once; a
// record emitted after Close is refused and never completed.
func TestCompletionFailsOnClose(t *testing.T) {
	dl := newDoneLog()
	p := openTestUnstarted(t, t.TempDir())
	if err := p.Emit(context.Background(), pushRecord("push", dl.done("queued", nil), "q")); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dl.wait(t, "queued"); !errors.Is(err, ErrClosed) {
		t.Fatalf("queued record's completion: %v, want ErrClosed", err)
	}
	if err := p.Emit(context.Background(), pushRecord("push", dl.done("late", nil), "l")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Emit after Close: %v", err)
	}

	dir := t.TempDir()
	walDir := filepath.Join(dir, "wal")
	var armed atomic.Bool
	var failures atomic.Int64
	seam := func(f *os.File) error {
		if armed.Load() && (filepath.Dir(f.Name()) == walDir || f.Name() == walDir) {
			failures.Add(1)
			return errors.New("fsync keeps failing")
		}
		return f.Sync()
	}
	p = openTest(t, dir, nil, Options{Fsync: seam}, &memSink{name: "s"})
	armed.Store(true)
	emit(t, p, "app", "f1", 3, "abc")
	// The syncer's fsync failed, then at least one of the writer's
	// reopens: the writer is in its heal loop and takes nothing queued.
	waitFor(t, "the writer healing", func() bool { return failures.Load() >= 3 })
	if err := p.Emit(context.Background(), pushRecord("push", dl.done("behind-heal", nil), "h")); err != nil {
		t.Fatal(err)
	}
	_ = p.Close() // the WAL could not be repaired: Close says so
	if err := dl.wait(t, "behind-heal"); !errors.Is(err, ErrClosed) {
		t.Fatalf("completion of a record queued behind the heal: %v, want ErrClosed", err)
	}
	for _, name := range []string{"queued", "behind-heal"} {
		if c := dl.get(name); len(c) != 1 {
			t.Errorf("completion of %s fired %d times: %v", name, len(c), c)
		}
	}
	if c := dl.get("late"); len(c) != 0 {
		t.Errorf("a refused record was completed: %v", c)
	}
}

func openTestUnstarted(t *testing.T, dir string) *Pipeline {
	t.Helper()
	p, err := Open(nil, nil, Options{DataDir: dir, Sinks: []SinkOptions{{Sink: &memSink{name: "s"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCursorPositionSurvivesRestart: a source positioned by cursor
// (journald) gets its last durable cursor back after a restart, from the
// checkpoint after a clean close; a newer cursor replaces an older one;
// pruning never deletes it (it names no file that could be gone).
func TestCursorPositionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := &memSink{name: "s"}
	p := openTest(t, dir, nil, Options{CommitInterval: 5 * time.Millisecond}, s)
	for i, cur := range []string{"s=1;i=a", "s=1;i=b"} {
		blk := wal.Block{Source: "journal", Position: wal.Position{Cursor: cur},
			Entries: []wal.Entry{{Time: time.Now().UnixNano(), Line: []byte(cur)}}}
		rec := sources.Record{Source: "journal", Position: blk.Position, Entries: 1, Bytes: len(cur), Data: wal.EncodeBlock(nil, &blk)}
		if err := p.Emit(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the block at the sink", func() bool { return len(s.lines()) == i+1 })
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := openState(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	// Every block is gone from the WAL: only a file's liveness could keep
	// its position, and a cursor names none.
	if _, err := st.prunePositions(1<<62, func(posKey, posVal) bool { return false }); err != nil {
		t.Fatal(err)
	}
	st.close()

	p2 := openTestUnstarted(t, dir)
	defer p2.Close()
	got := p2.SourcePositions("journal")
	if len(got) != 1 || got[""].Cursor != "s=1;i=b" {
		t.Fatalf("recovered positions %+v, want the cursor s=1;i=b", got)
	}
}

// TestPositionValueEncoding: a value with a cursor round-trips, and one
// written before cursors existed reads as having none.
func TestPositionValueEncoding(t *testing.T) {
	for _, v := range []posVal{
		{Index: 7, Offset: 100, Path: "/var/log/a.log"},
		{Index: 8, Cursor: "s=abc;i=1f"},
		{Index: 9, Offset: 3, Path: "/x", Cursor: "c"},
	} {
		k, b := encodePosition(posKey{Source: "s", FileID: "id"}, v)
		gk, gv, ok := decodePosition(k, b)
		if !ok || gk != (posKey{Source: "s", FileID: "id"}) || gv != v {
			t.Errorf("%+v: decoded %+v %+v %v", v, gk, gv, ok)
		}
	}
}
