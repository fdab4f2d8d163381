package sources

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/wal"
)

func TestFileTailsAppendedLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "first\n")
	now := time.Date(2024, 3, 1, 12, 0, 0, 5, time.FixedZone("CEST", 2*3600))
	h := newHarness(t, FileOptions{
		Paths:  []string{filepath.Join(dir, "*.log")},
		Labels: map[string]string{"zz": "last", "app": "web"},
		Now:    func() time.Time { return now },
	})
	h.start(t)
	id := idOf(t, path)

	h.rec.waitLines(t, id, "first")
	appendFile(t, path, "a\x00b\n\xff\xfe\nc\r\n\n\tü\n")
	h.rec.waitLines(t, id, "first", "a\x00b", "\xff\xfe", "c\r", "", "\tü")

	// A partial line is read with the complete one before it, but only the
	// complete one is emitted and the position stays at the partial's start.
	appendFile(t, path, "done\npart")
	h.rec.waitLines(t, id, "first", "a\x00b", "\xff\xfe", "c\r", "", "\tü", "done")
	pos, _ := h.rec.last(id)
	if want := fileSize(t, path) - int64(len("part")); pos.Offset != want {
		t.Fatalf("offset after partial line = %d, want %d", pos.Offset, want)
	}
	appendFile(t, path, "ial\n")
	want := []string{"first", "a\x00b", "\xff\xfe", "c\r", "", "\tü", "done", "partial"}
	h.rec.waitLines(t, id, want...)

	// Every block's position is just past its last line.
	var off int64
	next := now.UnixNano()
	wantLabels := []wal.Label{{Name: "app", Value: "web"}, {Name: "filename", Value: path}, {Name: "zz", Value: "last"}}
	for _, b := range h.rec.all() {
		for _, l := range b.lines {
			off += int64(len(l)) + 1
		}
		if p := b.rec.Position; !sameFile(p.FileID, id) || p.Path != path || p.Offset != off {
			t.Errorf("position %+v, want offset %d in %s (%s)", b.rec.Position, off, path, id)
		}
		if !slices.Equal(b.labels, wantLabels) {
			t.Errorf("labels %v, want %v", b.labels, wantLabels)
		}
		// The read time (the clock stands still here), each entry 1 ns
		// after the one before: Loki keeps one of two entries of a
		// stream with the same time and line.
		for _, ts := range b.times {
			if ts != next {
				t.Errorf("entry time %d, want %d (UTC ns)", ts, next)
			}
			next++
		}
	}
	if off != fileSize(t, path) {
		t.Errorf("final offset %d, file size %d", off, fileSize(t, path))
	}
}

func TestFileWakesOnWriteAndCreate(t *testing.T) {
	// With an hour-long rescan, only fsnotify can wake the source.
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "")
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, PollInterval: time.Hour})
	h.start(t)
	h.waitStarted(t)

	appendFile(t, path, "one\n")
	start := time.Now()
	h.rec.waitLines(t, idOf(t, path), "one")
	t.Logf("append to emit: %v", time.Since(start))

	other := filepath.Join(dir, "new.log")
	appendFile(t, other, "two\n")
	h.rec.waitLines(t, idOf(t, other), "two")
}

func TestFileRestartResumesAtStoredPosition(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "a\nb\n")
	id := idOf(t, path)

	h1 := newHarness(t, FileOptions{Paths: []string{path}})
	h1.start(t)
	h1.rec.waitLines(t, id, "a", "b")
	h1.f.Close()
	pos, _ := h1.rec.last(id)

	// Written while nothing runs, including a partial line.
	appendFile(t, path, "c\nd\ne")

	// A stored position beats StartAt "end".
	h2 := newHarness(t, FileOptions{Paths: []string{path}, StartAt: StartAtEnd,
		Positions: map[string]int64{pos.FileID: pos.Offset}})
	h2.start(t)
	h2.rec.waitLines(t, id, "c", "d")
	appendFile(t, path, "\n")
	h2.rec.waitLines(t, id, "c", "d", "e")
}

func TestFileStartAt(t *testing.T) {
	for _, tc := range []struct {
		startAt string
		want    []string
	}{
		{StartAtBeginning, []string{"old", "new"}},
		{StartAtEnd, []string{"new"}},
		{"", []string{"old", "new"}},
	} {
		t.Run(tc.startAt, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			appendFile(t, path, "old\n")
			h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, StartAt: tc.startAt})
			h.start(t)
			h.waitStarted(t)
			appendFile(t, path, "new\n")
			h.rec.waitLines(t, idOf(t, path), tc.want...)

			// A file created after start is read from its beginning,
			// whatever StartAt says.
			later := filepath.Join(dir, "later.log")
			appendFile(t, later, "l1\nl2\n")
			h.rec.waitLines(t, idOf(t, later), "l1", "l2")
		})
	}
}

func TestFileStoredPositionPastEnd(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "x\ny\n")
	id := idOf(t, path)
	h := newHarness(t, FileOptions{Paths: []string{path}, Positions: map[string]int64{id: 1000}})
	h.start(t)
	h.rec.waitLines(t, id, "x", "y")
	if got := h.errors(reasonPosition); got != 1 {
		t.Errorf("position errors = %v, want 1", got)
	}
	if h.log.count("stored position does not match") != 1 {
		t.Errorf("want one log about the stored position, log:\n%s", h.log)
	}
}

func TestFileGlobDiscovery(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(sub, "*.log")}, StartAt: StartAtEnd})
	h.start(t)
	h.waitScans(t, 3)
	if n := h.log.count("glob matches no file yet"); n != 1 {
		t.Fatalf("%d warnings about the empty glob, want 1", n)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "a.log")
	appendFile(t, path, "hello\n")
	h.rec.waitLines(t, idOf(t, path), "hello")
	// Once the directory exists it is watched: a new file there is found.
	path2 := filepath.Join(sub, "b.log")
	appendFile(t, path2, "world\n")
	h.rec.waitLines(t, idOf(t, path2), "world")
}

func TestFileWildcardDirectory(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*", "*.log")}})
	h.start(t)
	h.waitStarted(t)
	pod := filepath.Join(dir, "pod1")
	if err := os.Mkdir(pod, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(pod, "c.log")
	appendFile(t, path, "1\n")
	h.rec.waitLines(t, idOf(t, path), "1")
	appendFile(t, path, "2\n")
	h.rec.waitLines(t, idOf(t, path), "1", "2")
}

func TestFileExclude(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "a.log")
	byBase := filepath.Join(dir, "skip-me.log")
	byPath := filepath.Join(dir, "b.log")
	for _, p := range []string{keep, byBase, byPath} {
		appendFile(t, p, filepath.Base(p)+"\n")
	}
	h := newHarness(t, FileOptions{
		Paths:   []string{filepath.Join(dir, "*.log")},
		Exclude: []string{"skip-*", byPath},
	})
	h.start(t)
	h.rec.waitLines(t, "", "a.log")
	appendFile(t, byBase, "more\n")
	appendFile(t, byPath, "more\n")
	appendFile(t, keep, "sentinel\n")
	h.rec.waitLines(t, "", "a.log", "sentinel")
	h.waitScans(t, 2)
	if got := h.rec.lines(""); len(got) != 2 {
		t.Fatalf("lines %q, want only a.log's", got)
	}
	if got := h.filesOpen(); got != 1 {
		t.Errorf("files open = %v, want 1", got)
	}
}

func TestFileSkipsDirectoriesAndFIFOs(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "f.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "r.log")
	appendFile(t, path, "regular\n")
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}})
	h.start(t)
	h.rec.waitLines(t, idOf(t, path), "regular")
	h.waitScans(t, 3)
	if n := h.log.count("not a regular file"); n != 2 {
		t.Errorf("%d warnings about irregular files, want 2 (one per path); log:\n%s", n, h.log)
	}
	if got := h.filesOpen(); got != 1 {
		t.Errorf("files open = %v, want 1", got)
	}
}

func TestFilePermissionDenied(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.log")
	appendFile(t, path, "hidden\n")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	if fh, err := os.Open(path); err == nil {
		fh.Close()
		t.Skip("chmod 0 does not stop reads here (running as root with CAP_DAC_OVERRIDE); " +
			"TestFilePermissionDeniedInjected covers this path")
	}
	h := newHarness(t, FileOptions{Paths: []string{path}})
	h.start(t)
	testPermissionDenied(t, h, path, func() {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFilePermissionDeniedInjected(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.log")
	appendFile(t, path, "hidden\n")
	h := newHarness(t, FileOptions{Paths: []string{path}})
	var denied atomic.Bool
	denied.Store(true)
	h.f.open = func(p string) (*os.File, error) {
		if denied.Load() {
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return openRegular(p)
	}
	h.start(t)
	testPermissionDenied(t, h, path, func() { denied.Store(false) })
}

func testPermissionDenied(t *testing.T, h *harness, path string, allow func()) {
	t.Helper()
	h.waitScans(t, 5)
	if n := h.log.count("permission denied; retrying"); n != 1 {
		t.Fatalf("%d permission warnings, want 1; log:\n%s", n, h.log)
	}
	if !strings.Contains(h.log.String(), path) {
		t.Errorf("the warning does not name %s", path)
	}
	if got := h.errors(reasonPermission); got != 1 {
		t.Errorf("permission errors = %v, want 1", got)
	}
	allow()
	h.rec.waitLines(t, idOf(t, path), "hidden")
}

func TestFileMaxLineBytes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	h := newHarness(t, FileOptions{Paths: []string{path}, MaxLineBytes: 16})
	appendFile(t, path, "")
	h.start(t)
	id := idOf(t, path)
	x, y := strings.Repeat("x", 16), strings.Repeat("y", 16)

	// A terminated long line, and a line of exactly the maximum.
	appendFile(t, path, x+x+"xxxxxxxx\n"+y+"\n")
	want := []string{x, x, "xxxxxxxx", y}
	h.rec.waitLines(t, id, want...)

	// An unterminated long line is cut as soon as it is known to be too
	// long; its rest waits for the newline.
	appendFile(t, path, x+x+"xxxxxxxx")
	want = append(want, x, x)
	h.rec.waitLines(t, id, want...)
	appendFile(t, path, "zz\n")
	want = append(want, "xxxxxxxxzz")
	h.rec.waitLines(t, id, want...)

	// Exactly the maximum, unterminated: not known to be too long yet.
	appendFile(t, path, y)
	appendFile(t, path, "\nend\n")
	want = append(want, y, "end")
	h.rec.waitLines(t, id, want...)

	if got := testutilValue(h.f.metrics.linesSplit); got != 4 {
		t.Errorf("lines split = %v, want 4", got)
	}
	pos, _ := h.rec.last(id)
	if pos.Offset != fileSize(t, path) {
		t.Errorf("final offset %d, size %d", pos.Offset, fileSize(t, path))
	}
}

func TestFileBlockBytes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	var want []string
	var content strings.Builder
	for i := range 50 {
		l := strings.Repeat(string(rune('a'+i%26)), 10)
		want = append(want, l)
		content.WriteString(l + "\n")
	}
	long := strings.Repeat("L", 100) // longer than a block, shorter than a line's maximum
	want = append(want, long)
	content.WriteString(long + "\n")
	appendFile(t, path, content.String())
	h := newHarness(t, FileOptions{Paths: []string{path}, BlockBytes: 64, MaxLineBytes: 1000})
	h.start(t)
	h.rec.waitLines(t, idOf(t, path), want...)
	for _, b := range h.rec.all() {
		if b.rec.Bytes > 64 && len(b.lines) > 1 {
			t.Errorf("block of %d line bytes in %d lines, want at most 64", b.rec.Bytes, len(b.lines))
		}
	}
}

func TestFileRotationRenameCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	oldID := idOf(t, path)
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, StartAt: StartAtEnd})
	h.start(t)
	h.waitStarted(t)

	w.WriteString("old1\nold2\n")
	h.rec.waitLines(t, oldID, "old1", "old2")

	// Rotate: the writer still writes its last lines to the renamed file,
	// including an unterminated one, before it reopens.
	if err := os.Rename(path, filepath.Join(dir, "app.log.1")); err != nil {
		t.Fatal(err)
	}
	w.WriteString("old3\nold4-unterminated")
	appendFile(t, path, "new1\n")
	newID := idOf(t, path)
	if newID == oldID {
		t.Fatal("the new file has the old identity")
	}

	h.rec.waitLines(t, newID, "new1") // from 0 although StartAt is "end"
	h.rec.waitLines(t, oldID, "old1", "old2", "old3", "old4-unterminated")
	waitFor(t, func() bool { return h.filesOpen() == 1 }, 5*time.Second, "the rotated file to be closed")
	pos, _ := h.rec.last(oldID)
	if pos.Path != path || pos.Offset != fileSize(t, filepath.Join(dir, "app.log.1")) {
		t.Errorf("old file's last position %+v", pos)
	}
	appendFile(t, path, "new2\n")
	h.rec.waitLines(t, newID, "new1", "new2")
}

func TestFileRenamedToMatchingName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, "1\n")
	id := idOf(t, path)
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*")}})
	h.start(t)
	h.rec.waitLines(t, id, "1")
	moved := filepath.Join(dir, "a.log.1")
	if err := os.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	h.waitScans(t, 2)
	appendFile(t, moved, "2\n")
	h.rec.waitLines(t, id, "1", "2")
	pos, _ := h.rec.last(id)
	if pos.Path != moved {
		t.Errorf("path %q, want %q", pos.Path, moved)
	}
}

func TestFileHardLinkReadOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, "once\n")
	if err := os.Link(path, filepath.Join(dir, "b.log")); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}})
	h.start(t)
	h.rec.waitLines(t, "", "once")
	h.waitScans(t, 3)
	if got := h.rec.lines(""); len(got) != 1 {
		t.Errorf("lines %q, want one", got)
	}
}

func TestFileTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "aaaa\nbbbb\n")
	id := idOf(t, path)
	h := newHarness(t, FileOptions{Paths: []string{path}})
	h.start(t)
	h.rec.waitLines(t, id, "aaaa", "bbbb")
	if err := os.WriteFile(path, []byte("c\n"), 0o644); err != nil { // O_TRUNC
		t.Fatal(err)
	}
	h.rec.waitLines(t, id, "aaaa", "bbbb", "c")
	if got := h.errors(reasonTruncated); got != 1 {
		t.Errorf("truncations = %v, want 1", got)
	}
	pos, _ := h.rec.last(id)
	if pos.Offset != 2 {
		t.Errorf("offset %d after truncation, want 2", pos.Offset)
	}
}

func TestFileDeletedIsReadToEndThenClosed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	id := idOf(t, path)
	h := newHarness(t, FileOptions{Paths: []string{path}})
	h.start(t)
	w.WriteString("a\n")
	h.rec.waitLines(t, id, "a")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	w.WriteString("b\ntail")
	h.rec.waitLines(t, id, "a", "b", "tail")
	waitFor(t, func() bool { return h.filesOpen() == 0 }, 5*time.Second, "the deleted file to be closed")
}

// blockingEmitter blocks every Emit until ctx is done.
type blockingEmitter struct{ entered chan struct{} }

func (e *blockingEmitter) Emit(ctx context.Context, rec Record) error {
	select {
	case e.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestFileCloseWithBlockedEmitter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "stuck\n")
	em := &blockingEmitter{entered: make(chan struct{}, 1)}
	h := newHarness(t, FileOptions{Paths: []string{path}, Emitter: em})
	h.start(t)
	select {
	case <-em.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("Emit was never called")
	}
	done := make(chan struct{})
	go func() {
		h.f.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with Emit blocked")
	}
}

// failingEmitter refuses the first n records.
type failingEmitter struct {
	n    atomic.Int64
	next Emitter
}

func (e *failingEmitter) Emit(ctx context.Context, rec Record) error {
	if e.n.Add(-1) >= 0 {
		return errors.New("ingest unavailable")
	}
	return e.next.Emit(ctx, rec)
}

func TestFileEmitErrorRetries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "x\ny\n")
	rec := &recorder{t: t}
	em := &failingEmitter{next: rec}
	em.n.Store(3)
	h := newHarness(t, FileOptions{Paths: []string{path}, Emitter: em})
	h.start(t)
	rec.waitLines(t, idOf(t, path), "x", "y")
	if got := h.errors(reasonEmit); got != 3 {
		t.Errorf("emit errors = %v, want 3", got)
	}
	if n := h.log.count("emitter refused"); n != 1 {
		t.Errorf("%d emit warnings, want 1", n)
	}
}

func TestFileLifecycle(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*")}})
	if h.f.Name() != "test" {
		t.Errorf("Name() = %q", h.f.Name())
	}
	h.start(t)
	if err := h.f.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	if err := h.f.Close(); err != nil {
		t.Error(err)
	}
	if err := h.f.Close(); err != nil {
		t.Error(err)
	}
	if err := h.f.Start(context.Background()); !errors.Is(err, errClosed) {
		t.Errorf("Start after Close: %v", err)
	}

	// Close before Start.
	h2 := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*")}})
	if err := h2.f.Close(); err != nil {
		t.Error(err)
	}

	// Cancelling Start's context stops the goroutine too; Close still works.
	h3 := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*")}})
	ctx, cancel := context.WithCancel(context.Background())
	if err := h3.f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	h3.f.Close()
}

func TestFileMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := func(name string) FileOptions {
		return FileOptions{Name: name, Paths: []string{"/nonexistent/*"}, Emitter: &recorder{t: t}}
	}
	a, err := NewFile(nil, reg, opts("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewFile(nil, reg, opts("b"))
	if err != nil {
		t.Fatalf("a second source with another name: %v", err)
	}
	if _, err := NewFile(nil, reg, opts("a")); err == nil {
		t.Fatal("two sources named a registered")
	}
	a.Close()
	a2, err := NewFile(nil, reg, opts("a"))
	if err != nil {
		t.Fatalf("register again after Close: %v", err)
	}
	a2.Close()
	b.Close()
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
		t.Errorf("after Close: %d metric families left (%v)", len(mfs), err)
	}
}

func TestNewFileValidation(t *testing.T) {
	em := &recorder{t: t}
	good := FileOptions{Name: "n", Paths: []string{"/var/log/*.log"}, Emitter: em}
	for name, mutate := range map[string]func(*FileOptions){
		"no name":        func(o *FileOptions) { o.Name = "" },
		"no paths":       func(o *FileOptions) { o.Paths = nil },
		"bad glob":       func(o *FileOptions) { o.Paths = []string{"/var/log/[.log"} },
		"bad exclude":    func(o *FileOptions) { o.Exclude = []string{"["} },
		"bad start_at":   func(o *FileOptions) { o.StartAt = "middle" },
		"filename label": func(o *FileOptions) { o.Labels = map[string]string{"filename": "x"} },
		"empty label":    func(o *FileOptions) { o.Labels = map[string]string{"": "x"} },
		"no emitter":     func(o *FileOptions) { o.Emitter = nil },
	} {
		o := good
		mutate(&o)
		if _, err := NewFile(nil, nil, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	f, err := NewFile(nil, nil, good)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestFileRelativeGlob(t *testing.T) {
	// With an hour-long rescan, the write is seen through the watch of ".".
	t.Chdir(t.TempDir())
	appendFile(t, "app.log", "")
	h := newHarness(t, FileOptions{Paths: []string{"./*.log"}, PollInterval: time.Hour})
	h.start(t)
	h.waitStarted(t)
	appendFile(t, "app.log", "rel\n")
	h.rec.waitLines(t, idOf(t, "app.log"), "rel")
	if pos, _ := h.rec.last(idOf(t, "app.log")); pos.Path != "app.log" {
		t.Errorf("path %q, want app.log", pos.Path)
	}
}

// TestRepeatedLinesDistinctTimes: lines of one read take the read time,
// each 1 ns after the one before, on every path (plain, multiline,
// stages): Loki keeps one of two entries of a stream with the same time
// and line, so three equal lines read together would be stored once
// (Promtail stamps each line as it reads it).
func TestRepeatedLinesDistinctTimes(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for name, opts := range map[string]FileOptions{
		"plain":     {},
		"multiline": {Multiline: MultilineOptions{Start: `^s`, MaxWait: 10 * time.Millisecond}},
		"stages":    {Relabel: func(map[string]string) bool { return true }},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			appendFile(t, path, "same\nsame\nsame\n")
			opts.Paths, opts.Now = []string{path}, func() time.Time { return now }
			h := newHarness(t, opts)
			h.start(t)
			h.rec.waitLines(t, "", "same", "same", "same")
			var times []int64
			for _, b := range h.rec.all() {
				times = append(times, b.times...)
			}
			if want := []int64{now.UnixNano(), now.UnixNano() + 1, now.UnixNano() + 2}; !slices.Equal(times, want) {
				t.Errorf("times %v, want %v", times, want)
			}
		})
	}
}
