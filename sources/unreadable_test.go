package sources

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// condRecorder is a ConditionSetter that keeps every call.
type condRecorder struct {
	mu    sync.Mutex
	calls []condCall
}

type condCall struct {
	source, reason, detail string
	on                     bool
}

func (c *condRecorder) SetSourceCondition(source, reason string, on bool, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, condCall{source, reason, detail, on})
}

func (c *condRecorder) all() []condCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]condCall(nil), c.calls...)
}

// last returns the last call and whether there was one.
func (c *condRecorder) last() (condCall, bool) {
	all := c.all()
	if len(all) == 0 {
		return condCall{}, false
	}
	return all[len(all)-1], true
}

// denyOpen is a FileOptions.Open that refuses the paths in denied as a
// permission error would (running as root, permission bits do not).
type denyOpen struct {
	mu     sync.Mutex
	denied map[string]bool
}

func (d *denyOpen) open(p string) (*os.File, error) {
	d.mu.Lock()
	deny := d.denied[p]
	d.mu.Unlock()
	if deny {
		return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
	}
	return openRegular(p)
}

func (d *denyOpen) allow(p string) {
	d.mu.Lock()
	delete(d.denied, p)
	d.mu.Unlock()
}

// fileStatus returns the status of path, if Files lists it.
func fileStatus(f *File, path string) (FileStatus, bool) {
	for _, fs := range f.Files() {
		if fs.Path == path {
			return fs, true
		}
	}
	return FileStatus{}, false
}

// TestFileUnreadableStatus: a matched file that cannot be opened shows in
// Files as unreadable with its error and since when; while it is the only
// file, the source reports ConditionUnreadable; a readable file appearing
// clears the condition (the unreadable file still shows); once the file
// opens, its state clears, its line is read, and that is logged once.
func TestFileUnreadableStatus(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.log")
	appendFile(t, secret, "hidden\n")
	deny := &denyOpen{denied: map[string]bool{secret: true}}
	conds := &condRecorder{}
	began := time.Now()
	h := newHarness(t, FileOptions{Name: "app", Paths: []string{filepath.Join(dir, "*.log")}, Open: deny.open, Conditions: conds})
	h.start(t)

	waitFor(t, func() bool { c, ok := conds.last(); return ok && c.on }, 5*time.Second, "source_unreadable raised")
	st, ok := fileStatus(h.f, secret)
	if !ok || st.State != FileUnreadable || !strings.Contains(st.Error, "permission denied") || st.Since == nil ||
		st.Since.Before(began.Add(-time.Second)) || st.Since.After(time.Now()) || st.FileID != "" || st.Size != 7 {
		t.Fatalf("status of %s = %+v (listed %v), want unreadable with the error and since when", secret, st, ok)
	}
	c, _ := conds.last()
	if c.source != "app" || c.reason != ConditionUnreadable || !strings.Contains(c.detail, "1 matched file(s), none readable") ||
		!strings.Contains(c.detail, secret) {
		t.Fatalf("condition = %+v", c)
	}
	h.waitScans(t, 5)
	if n := len(conds.all()); n != 1 {
		t.Fatalf("%d condition calls after 5 rescans, want 1 (no call per retry): %+v", n, conds.all())
	}
	if n := h.log.count("permission denied; retrying"); n != 1 {
		t.Fatalf("%d permission warnings, want 1", n)
	}

	// A readable file: the source reads something, so it is not
	// unreadable as a whole; the secret still shows.
	other := filepath.Join(dir, "other.log")
	appendFile(t, other, "visible\n")
	h.rec.waitLines(t, idOf(t, other), "visible")
	waitFor(t, func() bool { c, _ := conds.last(); return !c.on }, 5*time.Second, "source_unreadable cleared")
	if st, ok := fileStatus(h.f, secret); !ok || st.State != FileUnreadable {
		t.Fatalf("status of %s = %+v (listed %v), want still unreadable", secret, st, ok)
	}
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { c, _ := conds.last(); return c.on }, 5*time.Second, "source_unreadable raised again once the readable file is gone")

	// Readable again (chmod): the state and the condition clear, the line
	// is read.
	deny.allow(secret)
	h.rec.waitLines(t, idOf(t, secret), "hidden")
	waitFor(t, func() bool { st, ok := fileStatus(h.f, secret); return ok && st.State == FileOpen }, 5*time.Second, "secret open")
	st, _ = fileStatus(h.f, secret)
	if st.Error != "" || st.Since != nil {
		t.Fatalf("status of %s = %+v: error and since not cleared", secret, st)
	}
	waitFor(t, func() bool { c, _ := conds.last(); return !c.on }, 5*time.Second, "source_unreadable cleared")
	if n := h.log.count("file is readable again"); n != 1 {
		t.Fatalf("%d 'readable again' lines, want 1", n)
	}
}

// TestFileReadFailsStatus: an open file whose reads fail shows as
// unreadable with the read error, and, being the only file, makes the
// source unreadable.
func TestFileReadFailsStatus(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "one\n")
	conds := &condRecorder{}
	// A descriptor open for writing only: fstat works, every read fails
	// (EBADF), as a read error of a file system would.
	writeOnly := func(p string) (*os.File, error) { return os.OpenFile(p, os.O_WRONLY, 0) }
	h := newHarness(t, FileOptions{Name: "app", Paths: []string{path}, Open: writeOnly, Conditions: conds})
	h.start(t)
	waitFor(t, func() bool { c, ok := conds.last(); return ok && c.on }, 5*time.Second, "source_unreadable raised")
	st, ok := fileStatus(h.f, path)
	if !ok || st.State != FileUnreadable || !strings.Contains(st.Error, "bad file descriptor") || st.Since == nil || st.FileID == "" {
		t.Fatalf("status = %+v (listed %v), want unreadable with the read error", st, ok)
	}
	if n := h.log.count("cannot read file"); n != 1 {
		t.Fatalf("%d read warnings, want 1", n)
	}
}

// TestFileStartupLogsOneLine: a startup with 2,000 files logs one summary
// line at Info, not one line per file (those are at Debug).
func TestFileStartupLogsOneLine(t *testing.T) {
	dir := t.TempDir()
	const n = 2000
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.log", i)), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, MaxOpenFiles: n + 10, PollInterval: time.Hour})
	h.start(t)
	h.waitStarted(t)
	waitFor(t, func() bool { return len(h.rec.lines("")) == n }, 20*time.Second, "every file read")
	var loud []string
	for _, l := range strings.Split(h.log.String(), "\n") {
		if strings.Contains(l, "level=INFO") || strings.Contains(l, "level=WARN") {
			loud = append(loud, l)
		}
	}
	if len(loud) != 1 || !strings.Contains(loud[0], `msg="tailing files"`) || !strings.Contains(loud[0], " files=2000 ") || !strings.Contains(loud[0], "from_beginning=2000") {
		t.Fatalf("%d lines at Info or above, want one summary with files=2000:\n%s", len(loud), strings.Join(loud[:min(len(loud), 5)], "\n"))
	}
	if got := h.log.count(`level=DEBUG msg="tailing file" `); got != n {
		t.Fatalf("%d per-file lines at Debug, want %d", got, n)
	}
}

// TestFileCopytruncateLogsOnce: a copytruncate rotation (copy inside the
// glob) is normal operation: one line at Info for the truncation, naming
// the copy that resumes, and no warning.
func TestFileCopytruncateLogsOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, seqLines(0, 200))
	h := newHarness(t, FileOptions{Paths: []string{path + "*"}})
	h.start(t)
	waitFor(t, func() bool { return len(h.rec.lines("")) == 200 }, 5*time.Second, "the first lines")
	mark := len(h.log.String())

	copyLike(t, path, path+".1")
	waitFor(t, func() bool { return testutilValue(h.f.metrics.copies) == 1 }, 5*time.Second, "the copy recognised")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, seqLines(300, 310))
	waitSorted(t, h, seqList([2]int{0, 200}, [2]int{300, 310}))

	var loud []string
	for _, l := range strings.Split(h.log.String()[mark:], "\n") {
		if strings.Contains(l, "level=INFO") || strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			loud = append(loud, l)
		}
	}
	if len(loud) != 1 || !strings.Contains(loud[0], "level=INFO") || !strings.Contains(loud[0], "file truncated") ||
		!strings.Contains(loud[0], "copies_resumed="+path+".1") {
		t.Fatalf("the rotation logged %d lines at Info or above, want one Info line naming the copy:\n%s", len(loud), strings.Join(loud, "\n"))
	}
	if got := h.errors(reasonTruncated); got != 1 {
		t.Errorf("truncations counted = %v, want 1", got)
	}
}

// TestFileLongLinesLoggedOncePerFile: lines cut at max_line_bytes are
// each counted, and logged once per file, on the plain path and on the
// assembler's (multiline).
func TestFileLongLinesLoggedOncePerFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		ml   MultilineOptions
	}{{"plain", MultilineOptions{}}, {"multiline", MultilineOptions{Start: `^\S`, MaxWait: 20 * time.Millisecond}}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
			h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, MaxLineBytes: 16, Multiline: tc.ml})
			appendFile(t, a, "")
			appendFile(t, b, "")
			h.start(t)
			long := strings.Repeat("x", 40) + "\n"
			for i := range 3 { // three reads of each file, each with a long line
				before := testutilValue(h.f.metrics.linesSplit)
				n := len(h.rec.lines(""))
				appendFile(t, a, long+"end\n")
				appendFile(t, b, long+"end\n")
				waitFor(t, func() bool { return len(h.rec.lines("")) >= n+6 }, 5*time.Second, fmt.Sprintf("the lines of round %d", i))
				if got := testutilValue(h.f.metrics.linesSplit); got < before+4 {
					t.Fatalf("round %d: cuts counted %v, want at least %v", i, got, before+4)
				}
			}
			if n := h.log.count("line longer than max_line_bytes"); n != 2 {
				t.Fatalf("%d warnings about long lines, want 2 (one per file):\n%s", n, h.log)
			}
			for _, p := range []string{a, b} {
				if !strings.Contains(h.log.String(), "path="+p) {
					t.Errorf("no line names %s", p)
				}
			}
		})
	}
}
