package sources

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
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

// refusingEmitter refuses every record until open is set, then hands them
// to rec.
type refusingEmitter struct {
	open atomic.Bool
	rec  *recorder
}

func (e *refusingEmitter) Emit(ctx context.Context, rec Record) error {
	if !e.open.Load() {
		return errors.New("refused by the test")
	}
	return e.rec.Emit(ctx, rec)
}

// TestSourceLagBytes: logcapturer_source_lag_bytes is what the files hold
// past their offsets (the status's LAG BYTES): all of them while the WAL
// takes nothing, 0 once read.
func TestSourceLagBytes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendFile(t, a, "one\ntwo\n")
	appendFile(t, b, "x\n")
	em := &refusingEmitter{rec: &recorder{t: t}}
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, Emitter: em})
	h.start(t)
	lag := func() float64 { return testutil.ToFloat64(h.f.metrics.lagBytes) }
	waitFor(t, func() bool { return lag() == 10 && h.errors(reasonEmit) > 0 }, 5*time.Second, "lag of both files, unread")
	var sum int64
	for _, f := range h.f.Files() {
		sum += f.LagBytes
	}
	if sum != 10 {
		t.Fatalf("status LagBytes sum %d, want 10 as the metric", sum)
	}
	em.open.Store(true)
	em.rec.waitLines(t, idOf(t, a), "one", "two")
	waitFor(t, func() bool { return lag() == 0 }, 5*time.Second, "no lag once read")
	appendFile(t, a, "three\n")
	em.rec.waitLines(t, idOf(t, a), "one", "two", "three")
	waitFor(t, func() bool { return lag() == 0 }, 5*time.Second, "no lag once read again")
}
