package journald

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// recorder is an Emitter that keeps what it gets, decoded; hold makes
// Emit block until released (or ctx is done).
type recorder struct {
	mu      sync.Mutex
	blocks  []wal.Block
	records []sources.Record
	hold    chan struct{} // non-nil: Emit waits for a receive... or close
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) Emit(ctx context.Context, rec sources.Record) error {
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var b wal.Block
	if err := wal.DecodeBlock(rec.Data, &b); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	for i := range b.Entries {
		b.Entries[i].Line = bytes.Clone(b.Entries[i].Line)
	}
	r.mu.Lock()
	r.blocks = append(r.blocks, b)
	r.records = append(r.records, rec)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.blocks {
		for _, e := range b.Entries {
			out = append(out, string(e.Line))
		}
	}
	return out
}

func (r *recorder) lastRecord() (sources.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.records) == 0 {
		return sources.Record{}, false
	}
	return r.records[len(r.records)-1], true
}

// waitLines waits until at least n lines arrived.
func (r *recorder) waitLines(t *testing.T, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := r.lines()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			if len(got) > 20 {
				got = got[len(got)-20:]
			}
			t.Fatalf("got %d lines within %s, want %d; the last: %.200q", len(r.lines()), within, n, got)
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// conds records conditions as they are set.
type conds struct {
	mu     sync.Mutex
	events []string // "on reason: detail" / "off reason"
	on     map[string]string
}

func (c *conds) SetSourceCondition(source, reason string, on bool, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on == nil {
		c.on = map[string]string{}
	}
	if on {
		c.events = append(c.events, "on "+reason+": "+detail)
		c.on[reason] = detail
	} else {
		c.events = append(c.events, "off "+reason)
		delete(c.on, reason)
	}
}

func (c *conds) get(reason string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.on[reason]
	return d, ok
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuf is a log destination safe for concurrent use.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness runs one source.
type harness struct {
	src  *Source
	rec  *recorder
	cond *conds
	reg  *prometheus.Registry
	logs *syncBuf
}

func startSource(t *testing.T, opts Options, p Params) *harness {
	t.Helper()
	h := &harness{rec: newRecorder(), cond: &conds{}, reg: prometheus.NewRegistry(), logs: &syncBuf{}}
	if p.Name == "" {
		p.Name = "journal"
	}
	if p.Emitter == nil {
		p.Emitter = h.rec
	}
	p.Conditions = h.cond
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, err := New(logger, h.reg, opts, p)
	if err != nil {
		t.Fatal(err)
	}
	h.src = src
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		src.Close()
		if t.Failed() {
			t.Logf("source log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) restarts() float64 { return testutil.ToFloat64(h.src.metrics.restarts) }

func (h *harness) errors(reason string) float64 {
	return testutil.ToFloat64(h.src.metrics.errors.WithLabelValues(reason))
}

func (h *harness) skipped(reason string) float64 {
	return testutil.ToFloat64(h.src.metrics.skipped.WithLabelValues(reason))
}

// fakeJournalctl writes an executable shell script standing in for
// journalctl: it appends its arguments (one line per run) to args.log in
// dir and runs body.
func fakeJournalctl(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "journalctl")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + shellQuote(filepath.Join(dir, "args.log")) + "\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// runs returns the argument lines of the fake's runs so far.
func runs(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "args.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func fixture(entries ...[]exportField) []byte {
	var b []byte
	for _, e := range entries {
		b = appendExport(b, e...)
	}
	return b
}

func testOptions(journalctl string) Options {
	o := *NewOptions()
	o.JournalctlPath = journalctl
	o.Since = SinceBeginning
	return o
}

// fast are Params whose timings suit tests.
func fast() Params {
	return Params{MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, HealthyAfter: 300 * time.Millisecond}
}
