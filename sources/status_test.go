package sources

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFilesStatus: Files reports each file's identity, offset, size and
// state: open while tailed, draining once rotated away (and read to its
// end), idle once closed by close_inactive.
func TestFilesStatus(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendFile(t, a, "one\ntwo\n")
	appendFile(t, b, "x\n")
	// A long rescan: a drained file is closed a PollInterval after it went.
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, CloseInactive: time.Hour, PollInterval: 500 * time.Millisecond})
	h.start(t)
	h.rec.waitLines(t, idOf(t, a), "one", "two")
	h.rec.waitLines(t, idOf(t, b), "x")
	waitFor(t, func() bool { fs := h.f.Files(); return len(fs) == 2 && fs[0].Offset == 8 && fs[1].Offset == 2 }, 5*time.Second, "both files at their ends")
	fs := h.f.Files()
	if fs[0].Path != a || fs[0].State != FileOpen || fs[0].Size != 8 || fs[0].LagBytes != 0 || !sameFile(fs[0].FileID, idOf(t, a)) {
		t.Fatalf("a = %+v", fs[0])
	}
	if h.f.Type() != TypeFile {
		t.Fatalf("type %q", h.f.Type())
	}
	// Rotated away: the old file is drained under its new name.
	if err := os.Rename(a, a+".1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		for _, f := range h.f.Files() {
			if f.State == FileDraining && f.Offset == 8 {
				return true
			}
		}
		return false
	}, 5*time.Second, "a draining")
}

// TestFilesStatusIdle: a file closed by close_inactive shows as idle with
// its offset.
func TestFilesStatusIdle(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	appendFile(t, a, "one\n")
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, CloseInactive: 50 * time.Millisecond})
	h.start(t)
	h.rec.waitLines(t, idOf(t, a), "one")
	waitFor(t, func() bool {
		fs := h.f.Files()
		return len(fs) == 1 && fs[0].State == FileIdle && fs[0].Offset == 4 && fs[0].Size == 4
	}, 5*time.Second, "a idle")
}
