package sources

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/logcapturer/logcapturer/wal"
)

// waitFor polls cond every 5 ms until it holds or timeout passes.
func waitFor(t testing.TB, cond func() bool, timeout time.Duration, what string) {
	t.Helper()
	if !eventually(cond, timeout) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// eventually polls cond every 5 ms until it holds (true) or timeout passes
// (false).
func eventually(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// block is one decoded record.
type block struct {
	rec    Record
	labels []wal.Label
	lines  []string
	times  []int64
	// entryLabels and metadata are each entry's labels and metadata as
	// "a=1,b=2" ("" when none).
	entryLabels, metadata []string
}

// recorder is an Emitter that decodes every record with wal.DecodeBlock,
// checks it against the Record's fields and keeps copies of its lines. A
// block may hold no entries: it records a position only (a copy resumed at
// its original's offset).
type recorder struct {
	t      testing.TB
	mu     sync.Mutex
	blocks []block
}

func (r *recorder) Emit(ctx context.Context, rec Record) error {
	var b wal.Block
	if err := wal.DecodeBlock(rec.Data, &b); err != nil {
		r.t.Errorf("decode record: %v", err)
		return err
	}
	if b.Source != rec.Source || b.Position != rec.Position || len(b.Entries) != rec.Entries || b.Size() != rec.Bytes {
		r.t.Errorf("record %+v does not match its block: source %q position %+v entries %d bytes %d",
			rec.Position, b.Source, b.Position, len(b.Entries), b.Size())
	}
	got := block{rec: rec, labels: slices.Clone(b.Labels)}
	for _, e := range b.Entries {
		got.lines = append(got.lines, string(e.Line))
		got.times = append(got.times, e.Time)
		got.entryLabels = append(got.entryLabels, labelString(e.Labels))
		got.metadata = append(got.metadata, labelString(e.Metadata))
	}
	r.mu.Lock()
	r.blocks = append(r.blocks, got)
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []block {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.blocks)
}

// lines returns the lines read from the file with identity id, or from every
// file when id is "".
func (r *recorder) lines(id string) []string {
	var out []string
	for _, b := range r.all() {
		if id == "" || sameFile(b.rec.Position.FileID, id) {
			out = append(out, b.lines...)
		}
	}
	return out
}

// last returns the last position reached in file id.
func (r *recorder) last(id string) (wal.Position, bool) {
	bs := r.all()
	for i := len(bs) - 1; i >= 0; i-- {
		if sameFile(bs[i].rec.Position.FileID, id) {
			return bs[i].rec.Position, true
		}
	}
	return wal.Position{}, false
}

// waitLines waits until file id (or all files for "") yielded len(want)
// lines, then checks they are want.
func (r *recorder) waitLines(t testing.TB, id string, want ...string) {
	t.Helper()
	waitFor(t, func() bool { return len(r.lines(id)) >= len(want) }, 5*time.Second,
		"lines "+strings.Join(want, "|"))
	if got := r.lines(id); !slices.Equal(got, want) {
		t.Fatalf("lines of %q:\n got %q\nwant %q", id, got, want)
	}
}

// logBuffer collects a source's log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// harness is a File source under test with its recorder, logs and registry.
type harness struct {
	f   *File
	rec *recorder
	log *logBuffer
	reg *prometheus.Registry
}

// newHarness builds a File source for opts; zero fields get test defaults
// (name "test", a 20 ms rescan, a recorder). It is closed at cleanup.
func newHarness(t testing.TB, opts FileOptions) *harness {
	t.Helper()
	h := &harness{rec: &recorder{t: t}, log: &logBuffer{}, reg: prometheus.NewRegistry()}
	if opts.Name == "" {
		opts.Name = "test"
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	if opts.Emitter == nil {
		opts.Emitter = h.rec
	}
	logger := slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f, err := NewFile(logger, h.reg, opts)
	if err != nil {
		t.Fatalf("NewFile: %v", err)
	}
	h.f = f
	t.Cleanup(func() {
		f.Close()
		if t.Failed() {
			t.Logf("source log:\n%s", h.log)
		}
	})
	return h
}

func (h *harness) start(t testing.TB) {
	t.Helper()
	if err := h.f.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// waitStarted waits until the startup scan has completed.
func (h *harness) waitStarted(t testing.TB) {
	t.Helper()
	waitFor(t, func() bool { return h.f.scans.Load() >= 1 }, 5*time.Second, "the startup scan")
}

// waitScans waits until n more scans than now have completed.
func (h *harness) waitScans(t testing.TB, n int64) {
	t.Helper()
	target := h.f.scans.Load() + n
	waitFor(t, func() bool { return h.f.scans.Load() >= target }, 5*time.Second, "rescans")
}

func (h *harness) errors(reason string) float64 {
	return testutil.ToFloat64(h.f.metrics.errors.WithLabelValues(reason))
}

func (h *harness) filesOpen() float64 { return testutil.ToFloat64(h.f.metrics.filesOpen) }

// idOf returns the device and inode of the file at path, "dev-ino": the
// prefix of every FileID of its positions (see sameFile).
func idOf(t testing.TB, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := keyOf(fi)
	if !ok {
		t.Fatalf("%s has no identity", path)
	}
	return k.String()
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func testutilValue(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// sameFile reports whether the position FileID fid is of the file whose
// idOf is id.
func sameFile(fid, id string) bool { return fid == id || strings.HasPrefix(fid, id+"-") }

// labelString renders labels as "a=1,b=2".
func labelString(ls []wal.Label) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.Name+"="+l.Value)
	}
	return strings.Join(s, ",")
}
