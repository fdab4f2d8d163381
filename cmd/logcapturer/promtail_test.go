package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
)

// syncBuffer is a log destination safe for the program's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns n numbered lines "name-i".
func lines(name string, from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%s-%02d\n", name, i)
	}
	return b.String()
}

// promtailRun runs a Promtail config as logcapturer run --config-format
// promtail does, until stop is called.
type promtailRun struct {
	cancel context.CancelFunc
	done   chan error
	log    *syncBuffer
}

func startPromtail(t *testing.T, cfgPath, dataDir string) *promtailRun {
	t.Helper()
	cf := configFile{path: cfgPath, format: formatPromtail, dataDir: dataDir}
	cfg, _, _, err := cf.load(parseOptions())
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	r := &promtailRun{cancel: cancel, done: make(chan error, 1), log: log}
	go func() { r.done <- serveFile(ctx, slog.New(slog.NewTextHandler(log, nil)), cf, cfg, nil) }()
	return r
}

// refusedPromtail runs a Promtail config that must fail to start, and
// returns its error.
func refusedPromtail(t *testing.T, cfgPath, dataDir string) error {
	t.Helper()
	r := startPromtail(t, cfgPath, dataDir)
	defer r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("the start was not refused")
		return nil
	}
}

func (r *promtailRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Error(err)
	}
}

// received returns the lines the receiver got for each filename label,
// in order, and checks every stream's labels are want plus filename.
func received(t *testing.T, rcv *lokitest.Receiver, want string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, e := range rcv.Entries() {
		ls, err := lokitest.ParseLabels(e.Labels)
		if err != nil {
			t.Fatal(err)
		}
		var file string
		var rest []lokitest.Label
		for _, l := range ls {
			if l.Name == "filename" {
				file = filepath.Base(l.Value)
			} else {
				rest = append(rest, l)
			}
		}
		if got := lokitest.Labels(rest...); got != want {
			t.Errorf("stream %s: labels besides filename %s, want %s", e.Labels, got, want)
		}
		out[file] = append(out[file], e.Line)
	}
	return out
}

// TestPromtailHandover takes over a Promtail positions file: files
// partly shipped resume at Promtail's offset (0 lost, 0 duplicated), a
// file rotated and a file truncated since are read from their beginning
// and reported, an entry for a file that is gone is reported; Promtail's
// file is never written; a second start does not take over again.
func TestPromtailHandover(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	path := func(name string) string { return filepath.Join(logs, name) }

	// What Promtail read, and its positions file.
	os.WriteFile(path("a.log"), []byte(lines("a", 1, 10)), 0o644)
	aShipped := int64(len(lines("a", 1, 6)))
	os.WriteFile(path("b.log"), []byte(lines("b", 1, 5)), 0o644)
	bShipped := int64(len(lines("b", 1, 5)))
	os.WriteFile(path("rot.log"), []byte(lines("rot", 1, 40)), 0o644)
	rotShipped := int64(len(lines("rot", 1, 40)))
	os.WriteFile(path("trunc.log"), []byte(lines("trunc", 1, 30)), 0o644)
	truncShipped := int64(len(lines("trunc", 1, 30)))
	os.WriteFile(path("mid.log"), []byte(lines("mid", 1, 10)), 0o644)
	posFile := filepath.Join(dir, "positions.yaml")
	positions := fmt.Sprintf("positions:\n  %s: \"%d\"\n  %s: \"%d\"\n  %s: \"%d\"\n  %s: \"%d\"\n  %s: \"%d\"\n  %s: \"120\"\n  journal-system: \"s=abc;i=1\"\n",
		path("a.log"), aShipped, path("b.log"), bShipped, path("rot.log"), rotShipped, path("trunc.log"), truncShipped,
		path("mid.log"), int64(len(lines("mid", 1, 3)))+2, path("gone.log"))
	os.WriteFile(posFile, []byte(positions), 0o644)
	// Promtail's last save: after it read the files, before they changed.
	savedAt := time.Now()
	os.Chtimes(posFile, savedAt, savedAt)

	// After Promtail stopped: a.log grew, rot.log was rotated away (its
	// new file is shorter than Promtail's offset), trunc.log was
	// truncated and written again.
	appendFile(t, path("a.log"), lines("a", 11, 12))
	os.Rename(path("rot.log"), path("rot.log.1"))
	os.WriteFile(path("rot.log"), []byte(lines("rot", 41, 43)), 0o644)
	os.WriteFile(path("trunc.log"), []byte(lines("trunc", 31, 32)), 0o644)

	cfgPath := filepath.Join(dir, "promtail.yaml")
	os.WriteFile(cfgPath, []byte(`server:
  http_listen_port: 0
positions:
  filename: `+posFile+`
clients:
  - url: `+rcv.URL()+`
    batchwait: 10ms
scrape_configs:
  - job_name: system
    static_configs:
      - targets: [localhost]
        labels:
          job: varlogs
          __path__: `+logs+`/*.log
`), 0o644)
	data := filepath.Join(dir, "data")
	run := startPromtail(t, cfgPath, data)
	want := map[string][]string{
		"a.log":     strings.Fields(lines("a", 7, 12)),
		"rot.log":   strings.Fields(lines("rot", 41, 43)),
		"trunc.log": strings.Fields(lines("trunc", 31, 32)),
		"mid.log":   strings.Fields(lines("mid", 1, 10)),
		"b.log":     strings.Fields(lines("b", 6, 6)),
	}
	// b.log was shipped whole: its next line is the first one sent. The
	// marker, appended last, arrives after anything sent twice would have.
	appendFile(t, path("b.log"), lines("b", 6, 6))
	total := 0
	for _, l := range want {
		total += len(l)
	}
	if err := rcv.WaitEntries(total, 15*time.Second); err != nil {
		t.Fatalf("%v; log:\n%s", err, run.log)
	}
	appendFile(t, path("a.log"), "marker\n")
	if err := rcv.WaitEntries(total+1, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	want["a.log"] = append(want["a.log"], "marker")
	got := received(t, rcv, `{job="varlogs"}`)
	for f, w := range want {
		if !slices.Equal(got[f], w) {
			t.Errorf("%s: got %q, want %q", f, got[f], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("files sent: %v", got)
	}
	run.stop(t)
	log := run.log.String()
	for _, w := range []string{
		"rot.log offset=" + fmt.Sprint(rotShipped) + " reason=\"", "trunc.log offset=" + fmt.Sprint(truncShipped),
		"mid.log offset=", "not the end of a line", "gone.log offset=120", "no longer exists",
		"no journald source has promtail_job for this journal cursor", "taken_over=2",
	} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	// Promtail's file was not written.
	if b, _ := os.ReadFile(posFile); string(b) != positions {
		t.Errorf("positions file changed:\n%s", b)
	}
	if fi, _ := os.Stat(posFile); !fi.ModTime().Equal(savedAt) {
		t.Errorf("positions file touched: %v", fi.ModTime())
	}

	// A second start resumes at its own positions: no takeover again.
	before := rcv.Count()
	run = startPromtail(t, cfgPath, data)
	appendFile(t, path("a.log"), "after-restart\n")
	if err := rcv.WaitEntries(before+1, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	run.stop(t)
	if e := rcv.Entries(); len(e) != before+1 || e[len(e)-1].Line != "after-restart" {
		t.Errorf("after a restart got %d entries (want %d), last %q", len(e), before+1, e[len(e)-1].Line)
	}
	if strings.Contains(run.log.String(), "taken over") {
		t.Errorf("the handover ran again:\n%s", run.log)
	}
}

// TestPromtailHandoverRefused: a positions file that cannot be read or is
// not valid stops the start with file:line and what to do, records
// nothing (a later start with it fixed takes over) and leaves the file
// as it was.
func TestPromtailHandoverRefused(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "a.log"), []byte(lines("a", 1, 4)), 0o644)
	posFile := filepath.Join(dir, "positions.yaml")
	os.Mkdir(posFile, 0o755) // unreadable as a file
	cfgPath := filepath.Join(dir, "promtail.yaml")
	os.WriteFile(cfgPath, []byte(`clients:
  - url: `+rcv.URL()+`
    batchwait: 10ms
positions:
  filename: `+posFile+`
scrape_configs:
  - job_name: system
    static_configs:
      - labels:
          __path__: `+logs+`/*.log
`), 0o644)
	data := filepath.Join(dir, "data")
	err := refusedPromtail(t, cfgPath, data)
	if err == nil || !strings.Contains(err.Error(), cfgPath+":5: takeover.promtail_positions") ||
		!strings.Contains(err.Error(), "is a directory") || !strings.Contains(err.Error(), "nothing was taken over") {
		t.Fatalf("got %v", err)
	}

	os.Remove(posFile)
	bad := "positions:\n  - not a mapping\n"
	os.WriteFile(posFile, []byte(bad), 0o644)
	err = refusedPromtail(t, cfgPath, data)
	if err == nil || !strings.Contains(err.Error(), posFile+":2: not a Promtail positions file") {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(posFile); string(b) != bad {
		t.Errorf("positions file changed: %q", b)
	}
	if n := rcv.Count(); n != 0 {
		t.Errorf("%d entries sent by a refused start", n)
	}

	// Fixed: the handover was never recorded, so it happens now.
	os.WriteFile(posFile, []byte(fmt.Sprintf("positions:\n  %s: \"%d\"\n", filepath.Join(logs, "a.log"), len(lines("a", 1, 3)))), 0o644)
	run := startPromtail(t, cfgPath, data)
	if err := rcv.WaitEntries(1, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(logs, "a.log"), "marker\n")
	if err := rcv.WaitEntries(2, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	run.stop(t)
	got := received(t, rcv, `{}`)
	if w := []string{"a-04", "marker"}; !slices.Equal(got["a.log"], w) {
		t.Errorf("got %q, want %q", got["a.log"], w)
	}
}

// TestPromtailConvertCheckRun converts a Promtail config with
// logcapturer convert, checks the result with logcapturer check, runs it
// against a Loki receiver, and compares the streams with what Promtail
// sends for the same input: the static labels, external_labels, filename,
// no __ labels and no job that the labels do not set; relabeling applied;
// the pipeline_stages run (labeldrop removes tmp); the tenant header; a
// __path__ with Promtail's ** and {a,b} globs.
func TestPromtailConvertCheckRun(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	for _, d := range []string{"web", "db", "api/v1", "jobs"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.WriteFile(filepath.Join(dir, d, "x.log"), []byte(lines(strings.Split(d, "/")[0], 1, 3)), 0o644)
	}
	src := filepath.Join(dir, "promtail.yaml")
	os.WriteFile(src, []byte(`server:
  http_listen_port: 0
positions:
  filename: `+filepath.Join(dir, "positions.yaml")+`
clients:
  - url: ${TEST_LOKI_URL}
    tenant_id: team-a
    batchwait: 10ms
    external_labels:
      host: edge-1
scrape_configs:
  - job_name: apps
    relabel_configs:
      - source_labels: [__path__]
        regex: '`+dir+`/(\w+)/.*'
        target_label: app
    static_configs:
      - labels:
          __path__: `+dir+`/web/*.log
          env: prod
      - labels:
          __path__: `+dir+`/db/*.log
          env: prod
          tmp: drop-me
      - labels:
          __path__: `+dir+`/{api,jobs}/**/*.log
          env: prod
    pipeline_stages:
      - labeldrop: [tmp]
`), 0o644)
	t.Setenv("TEST_LOKI_URL", rcv.URL())
	out := filepath.Join(dir, "logcapturer.yaml")
	var stdout, stderr bytes.Buffer
	if code := runMainWith([]string{"convert", "--from", "promtail", src, "-o", out, "--data-dir", filepath.Join(dir, "data")},
		console{}, &stdout, &stderr); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr.String())
	}
	conv, _ := os.ReadFile(out)
	if !strings.Contains(string(conv), "url: ${TEST_LOKI_URL:-}") {
		t.Errorf("convert did not keep the reference:\n%s", conv)
	}
	if code := runMainWith([]string{"check", "--config", out}, console{}, &stdout, &stderr); code != 0 {
		t.Fatalf("check: exit %d: %s", code, stderr.String())
	}
	if code := runMainWith([]string{"check", "--config", src, "--config-format", "promtail", "--data-dir", filepath.Join(dir, "data")},
		console{}, &stdout, &stderr); code != 0 {
		t.Fatalf("check --config-format promtail: exit %d: %s", code, stderr.String())
	}

	cfg, err := checkConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, slog.New(slog.DiscardHandler), out, cfg, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if err := rcv.WaitEntries(12, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	// What Promtail sends for these files: the labeldrop stage removed tmp;
	// relabel_configs see __path__ as the glob, not the file, so the rule
	// that makes app does not match the {api,jobs}/** target.
	want := map[string]string{
		"web":  `{app="web", env="prod", filename="` + filepath.Join(dir, "web", "x.log") + `", host="edge-1"}`,
		"db":   `{app="db", env="prod", filename="` + filepath.Join(dir, "db", "x.log") + `", host="edge-1"}`,
		"api":  `{env="prod", filename="` + filepath.Join(dir, "api", "v1", "x.log") + `", host="edge-1"}`,
		"jobs": `{env="prod", filename="` + filepath.Join(dir, "jobs", "x.log") + `", host="edge-1"}`,
	}
	n := map[string]int{}
	for _, e := range rcv.Entries() {
		app := strings.SplitN(e.Line, "-", 2)[0]
		n[app]++
		ls, _ := lokitest.ParseLabels(e.Labels)
		if got := lokitest.Labels(ls...); got != want[app] {
			t.Errorf("%s: stream %s, want %s", e.Line, got, want[app])
		}
		if e.Tenant != "team-a" {
			t.Errorf("tenant %q", e.Tenant)
		}
	}
	if n["web"] != 3 || n["db"] != 3 || n["api"] != 3 || n["jobs"] != 3 {
		t.Errorf("entries: %v", n)
	}
}

// TestPromtailNoExpandEnv: --no-expand-env reads a Promtail file as
// Promtail does without -config.expand-env: "${HOSTNAME}" is those
// characters in convert's result; check --config-format promtail takes
// it; it goes with a Promtail config only.
func TestPromtailNoExpandEnv(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "promtail.yaml")
	os.WriteFile(src, []byte(`clients:
  - url: http://127.0.0.1:3100/loki/api/v1/push
scrape_configs:
  - job_name: a
    static_configs:
      - labels:
          __path__: /var/log/a.log
          literal: ${HOSTNAME}
`), 0o644)
	t.Setenv("HOSTNAME", "edge-7")
	out := filepath.Join(dir, "out.yaml")
	var stdout, stderr bytes.Buffer
	if code := runMainWith([]string{"convert", "--from", "promtail", src, "-o", out, "--no-expand-env"}, console{}, &stdout, &stderr); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr.String())
	}
	cfg, err := checkConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sources[0].Labels["literal"]; got != "${HOSTNAME}" {
		t.Errorf("converted with --no-expand-env: literal = %q, want ${HOSTNAME}", got)
	}
	if code := runMainWith([]string{"convert", "--from", "promtail", src}, console{}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "literal: ${HOSTNAME:-}") {
		t.Errorf("convert without the flag: exit %d, want the reference kept:\n%s", code, stdout.String())
	}
	if code := runMainWith([]string{"check", "--config", src, "--config-format", "promtail", "--no-expand-env", "--data-dir", dir},
		console{}, &stdout, &stderr); code != 0 {
		t.Errorf("check --config-format promtail --no-expand-env: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := runMainWith([]string{"check", "--config", out, "--no-expand-env"}, console{}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "--no-expand-env go with --config-format promtail") {
		t.Errorf("check of a native config with --no-expand-env: exit %d, %s", code, stderr.String())
	}
}
