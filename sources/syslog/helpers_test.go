package syslog

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// got is one entry as the WAL gives it back.
type got struct {
	Time     int64
	Line     string
	Labels   map[string]string
	Metadata map[string]string
}

// fakeEmitter decodes every record like the WAL's reader would and keeps
// the entries. While gate is set (Hold), Emit waits for it: a full WAL.
type fakeEmitter struct {
	mu      sync.Mutex
	entries []got
	blocks  int
	gate    chan struct{}
	waiting chan struct{} // gets a value when an Emit starts waiting on gate
	changed chan struct{}
}

func newFakeEmitter() *fakeEmitter {
	return &fakeEmitter{changed: make(chan struct{}, 1), waiting: make(chan struct{}, 1)}
}

func (e *fakeEmitter) Hold() {
	e.mu.Lock()
	e.gate = make(chan struct{})
	e.mu.Unlock()
}

func (e *fakeEmitter) Release() {
	e.mu.Lock()
	if e.gate != nil {
		close(e.gate)
		e.gate = nil
	}
	e.mu.Unlock()
}

func (e *fakeEmitter) Emit(ctx context.Context, rec sources.Record) error {
	e.mu.Lock()
	gate := e.gate
	e.mu.Unlock()
	if gate != nil {
		select {
		case e.waiting <- struct{}{}:
		default:
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var b wal.Block
	if err := wal.DecodeBlock(rec.Data, &b); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if b.Source != rec.Source || len(b.Entries) != rec.Entries || b.Size() != rec.Bytes {
		return fmt.Errorf("record %+v does not match its block (%d entries)", rec, len(b.Entries))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.blocks++
	for _, en := range b.Entries {
		g := got{Time: en.Time, Line: string(en.Line), Labels: map[string]string{}}
		ls := en.Labels
		if ls == nil {
			ls = b.Labels
		}
		for _, l := range ls {
			g.Labels[l.Name] = l.Value
		}
		if en.Metadata != nil {
			g.Metadata = map[string]string{}
			for _, l := range en.Metadata {
				g.Metadata[l.Name] = l.Value
			}
		}
		e.entries = append(e.entries, g)
	}
	select {
	case e.changed <- struct{}{}:
	default:
	}
	return nil
}

func (e *fakeEmitter) Entries() []got {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.entries)
}

func (e *fakeEmitter) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.entries)
}

// waitEntries waits until at least n entries arrived.
func (e *fakeEmitter) waitEntries(t testing.TB, n int, timeout time.Duration) []got {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for e.Len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries arrived in %s, want %d", e.Len(), timeout, n)
		}
		select {
		case <-e.changed:
		case <-time.After(20 * time.Millisecond):
		}
	}
	return e.Entries()
}

// startSource opens and starts a source on 127.0.0.1:0 (or cfg's
// address) with the fake emitter; Close runs at cleanup.
func startSource(t testing.TB, cfg Config, labels map[string]string) (*Source, *fakeEmitter) {
	t.Helper()
	return startSourceNow(t, cfg, labels, nil)
}

func startSourceNow(t testing.TB, cfg Config, labels map[string]string, now func() time.Time) (*Source, *fakeEmitter) {
	t.Helper()
	if cfg.ListenAddress == "" {
		cfg.ListenAddress = "127.0.0.1:0"
	}
	em := newFakeEmitter()
	s, err := New(nil, nil, Options{Name: "net", Labels: labels, Config: cfg, Emitter: em, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Release(); s.Close() })
	return s, em
}

func dial(t testing.TB, s *Source) net.Conn {
	t.Helper()
	c, err := net.Dial(s.Addr().Network(), s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t testing.TB, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// octet frames msg with an octet count.
func octet(msg string) string { return fmt.Sprintf("%d %s", len(msg), msg) }

func errorsOf(s *Source, reason string) float64 {
	return testutil.ToFloat64(s.m.errors.WithLabelValues(reason))
}

func droppedOf(s *Source, reason string) float64 {
	return testutil.ToFloat64(s.m.dropped.WithLabelValues(reason))
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedByPeer waits until the server closed c: a read returns EOF or a
// reset.
func closedByPeer(t testing.TB, c net.Conn, timeout time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 16)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection still open after %s", timeout)
		}
		return
	}
}

func configDuration(d time.Duration) config.Duration { return config.Duration(d) }
