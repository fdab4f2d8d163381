package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "s3cret-token"

// lineTime is the time written at the start of line k of a test file.
var lineBase = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func lineTime(k int) time.Time { return lineBase.Add(time.Duration(k) * time.Second) }

// recSink records the lines it accepted; lines containing "bad" are
// rejected for good (a permanent error, as a Loki 400) while reject is set.
type recSink struct {
	name   string
	reject atomic.Bool
	down   atomic.Bool // every send fails, retryably
	mu     sync.Mutex
	lines  []string
}

func (s *recSink) Name() string { return s.name }
func (s *recSink) Close() error { return nil }
func (s *recSink) Send(_ context.Context, b *sinks.Batch) error {
	if s.down.Load() {
		return &sinks.Retryable{Err: fmt.Errorf("connection refused")}
	}
	if s.reject.Load() {
		for _, blk := range b.Blocks {
			for _, e := range blk.Entries {
				if bytes.Contains(e.Line, []byte("bad")) {
					return &sinks.Permanent{Reason: "rejected", Err: fmt.Errorf("400 bad line %q", e.Line)}
				}
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, blk := range b.Blocks {
		for _, e := range blk.Entries {
			s.lines = append(s.lines, string(e.Line))
		}
	}
	return nil
}

func (s *recSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// count counts the lines ending in " "+word (line-2, not line-22).
func (s *recSink) count(word string) int {
	n := 0
	for _, l := range s.got() {
		if strings.HasSuffix(l, " "+word) {
			n++
		}
	}
	return n
}

// env is a running pipeline fed by real files through the file tailer,
// with the admin server in front.
type env struct {
	t     testing.TB
	dir   string
	logs  string
	p     *pipeline.Pipeline
	src   *sources.File
	srv   *Server
	reg   *prometheus.Registry
	sinks map[string]*recSink
}

type envOptions struct {
	listen string
	token  string
	sinks  []string // default: good, bad
	extra  []pipeline.SinkOptions
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	if o.sinks == nil {
		o.sinks = []string{"good", "bad"}
	}
	e := &env{t: t, dir: t.TempDir(), reg: prometheus.NewPedanticRegistry(), sinks: map[string]*recSink{}}
	e.logs = filepath.Join(e.dir, "logs")
	if err := os.MkdirAll(e.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	var sos []pipeline.SinkOptions
	for _, n := range o.sinks {
		s := &recSink{name: n}
		e.sinks[n] = s
		sos = append(sos, pipeline.SinkOptions{Sink: s, Type: "test", MaxWait: 5 * time.Millisecond,
			MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	}
	sos = append(sos, o.extra...)
	p, err := pipeline.Open(nil, e.reg, pipeline.Options{DataDir: filepath.Join(e.dir, "data"), CommitInterval: 5 * time.Millisecond, Sinks: sos})
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.src, err = sources.NewFile(nil, e.reg, sources.FileOptions{Name: "app", Paths: []string{filepath.Join(e.logs, "*.log")},
		PollInterval: 20 * time.Millisecond, Emitter: p,
		Timestamp: sources.TimestampOptions{Regex: `^(?P<ts>\S+) `, Layout: time.RFC3339, Location: "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	p.ReportSources(e.src)
	e.srv, err = New(nil, Options{Listen: o.listen, Pipeline: p, Gatherer: e.reg, Token: o.token, Version: "test", Refresh: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	if err := e.src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.srv.Start()
	t.Cleanup(func() {
		e.srv.Close()
		e.src.Close()
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// write appends lines first..first+n-1 to file name: "<time of k> line-k"
// (or "... bad-k" for every k in bad).
func (e *env) write(name string, first, n int, bad ...int) {
	e.t.Helper()
	isBad := map[int]bool{}
	for _, k := range bad {
		isBad[k] = true
	}
	var b strings.Builder
	for k := first; k < first+n; k++ {
		word := "line"
		if isBad[k] {
			word = "bad"
		}
		fmt.Fprintf(&b, "%s %s-%d\n", lineTime(k).Format(time.RFC3339), word, k)
	}
	f, err := os.OpenFile(filepath.Join(e.logs, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		e.t.Fatal(err)
	}
	f.Close()
}

func (e *env) url(path string) string { return "http://" + e.srv.Addr() + path }

// call does one request and returns the status and the body; token ""
// sends no Authorization header.
func (e *env) call(method, path, token, body string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url(path), rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(path, "/api/") && ct != "application/json" {
		e.t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
	}
	return resp.StatusCode, b
}

// get decodes a 200 JSON answer into v.
func (e *env) get(path string, v any) {
	e.t.Helper()
	e.getWith(path, "", v)
}

// getWith is get with a bearer token ("" sends none).
func (e *env) getWith(path, token string, v any) {
	e.t.Helper()
	code, b := e.call(http.MethodGet, path, token, "")
	if code != http.StatusOK {
		e.t.Fatalf("GET %s = %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// wantError checks an error answer: the status, JSON {"error": ...}
// containing want, and no stack trace.
func (e *env) wantError(method, path, token, body string, code int, want string) map[string]any {
	e.t.Helper()
	got, b := e.call(method, path, token, body)
	var eb map[string]any
	if err := json.Unmarshal(b, &eb); err != nil {
		e.t.Fatalf("%s %s: not JSON: %s", method, path, b)
	}
	msg, _ := eb["error"].(string)
	if got != code || !strings.Contains(msg, want) || strings.Contains(msg, "goroutine") {
		e.t.Fatalf("%s %s %s = %d %s, want %d with %q", method, path, body, got, b, code, want)
	}
	return eb
}

// settled waits until every sink's cursor is at the durable index (a
// sink records lines before the pipeline settles their range).
func (e *env) settled() {
	e.t.Helper()
	waitFor(e.t, "every sink settled", func() bool {
		st := e.p.Status()
		for _, s := range st.Sinks {
			if s.Cursor != st.WAL.DurableIndex || s.InFlight > 0 {
				return false
			}
		}
		return true
	})
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
