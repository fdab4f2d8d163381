package pipeline

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/logcapturer/logcapturer/sources"
)

// TestSourceUnreadableReadiness: a file source whose only file cannot be
// opened (permission denied, injected: the tests run as root) makes the
// pipeline not ready with source_unreadable on source/NAME, shows the
// file unreadable in the status, and recovers, the line delivered, once
// the file opens.
func TestSourceUnreadableReadiness(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	secret := filepath.Join(logs, "secret.log")
	os.WriteFile(secret, []byte("hidden\n"), 0o644)
	reg := prometheus.NewPedanticRegistry()
	sink := &memSink{name: "a"}
	p := openTest(t, filepath.Join(dir, "data"), reg, Options{}, sink)
	defer p.Close()
	var denied atomic.Bool
	denied.Store(true)
	src, err := sources.NewFile(nil, reg, sources.FileOptions{Name: "app", Paths: []string{filepath.Join(logs, "*.log")},
		PollInterval: 20 * time.Millisecond, Emitter: p, Conditions: p,
		Open: func(path string) (*os.File, error) {
			if denied.Load() {
				return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.EACCES}
			}
			return os.Open(path)
		}})
	if err != nil {
		t.Fatal(err)
	}
	p.ReportSources(src)
	gauge := func() float64 {
		return testutil.ToFloat64(p.m.degraded.WithLabelValues("source/app", ReasonSourceUnreadable))
	}
	if v := gauge(); v != 0 {
		t.Fatalf("declared gauge = %v, want 0", v)
	}
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	waitFor(t, "source_unreadable", func() bool { return p.health.has("source/app", ReasonSourceUnreadable) })
	ready, conds := p.Readiness()
	if ready || len(conds) != 1 || conds[0].Component != "source/app" || conds[0].Reason != ReasonSourceUnreadable ||
		!strings.Contains(conds[0].Detail, "permission denied") {
		t.Fatalf("readiness = %v %+v, want not ready with source_unreadable", ready, conds)
	}
	if v := gauge(); v != 1 {
		t.Fatalf("gauge = %v, want 1", v)
	}
	st := p.Status()
	if len(st.Sources) != 1 || len(st.Sources[0].Files) != 1 || st.Sources[0].Files[0].State != sources.FileUnreadable {
		t.Fatalf("status sources = %+v", st.Sources)
	}

	denied.Store(false)
	waitFor(t, "the line delivered", func() bool { return len(sink.lines()) == 1 })
	waitFor(t, "ready again", func() bool { ok, _ := p.Readiness(); return ok })
	if v := gauge(); v != 0 {
		t.Fatalf("gauge = %v after recovery, want 0", v)
	}
}
