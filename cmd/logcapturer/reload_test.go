package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitFile waits until the file at path satisfies cond.
func waitFile(t *testing.T, path string, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if cond(string(b)) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; it holds %q", path, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReload: a reload with a sink added starts it (from what the WAL
// holds) and keeps the other's cursor (nothing sent twice); a bad config is
// refused and the running one stays; removing a sink stops it, and adding
// it back resumes from its cursor.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	app := filepath.Join(logs, "app.log")
	os.WriteFile(app, []byte("one\n"), 0o644)
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	cfgPath := filepath.Join(dir, "c.yaml")
	addr := freePort(t)
	write := func(sinks string) {
		os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"]}]
sinks:
`+sinks+`
admin: {listen: "`+addr+`"}
`), 0o644)
	}
	sinkA := "  - {name: a, type: file, path: " + a + ", batch: {max_wait: 10ms}}\n"
	sinkB := "  - {name: b, type: file, path: " + b + ", batch: {max_wait: 10ms}}\n"
	write(sinkA)
	srv := serveConfig(t, cfgPath, false)
	logBuf, reloads := &srv.logs, srv.reloads
	waitFile(t, a, func(s string) bool { return s == "one\n" })
	appendLine := func(l string) {
		f, _ := os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(l + "\n")
		f.Close()
	}

	write(sinkA + sinkB)
	reloads <- struct{}{}
	waitFile(t, b, func(s string) bool { return s == "one\n" }) // the new sink delivers what the WAL holds
	appendLine("two")
	waitFile(t, b, func(s string) bool { return s == "one\ntwo\n" })
	waitFile(t, a, func(s string) bool { return s == "one\ntwo\n" }) // kept cursor: nothing twice
	if !strings.Contains(logBuf.String(), "sinks added b") {
		t.Errorf("the log does not say what changed:\n%s", logBuf.String())
	}

	// A config with a mistake is refused; the running one goes on.
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+"\nsources: []\nsinks: [{name: a, type: nope}]\n"), 0o644)
	reloads <- struct{}{}
	waitFor(t, func() bool { return strings.Contains(logBuf.String(), "config reload refused") })
	appendLine("three")
	waitFile(t, b, func(s string) bool { return s == "one\ntwo\nthree\n" })
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`logcapturer_config_reloads_total{result="failure"} 1`, `logcapturer_config_reloads_total{result="success"} 1`,
		"logcapturer_config_last_reload_successful 0", "logcapturer_build_info{"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Remove b, write while it is gone, add it back: it resumes.
	write(sinkA)
	reloads <- struct{}{}
	waitFor(t, func() bool { return strings.Contains(logBuf.String(), "sinks removed b") })
	appendLine("four")
	waitFile(t, a, func(s string) bool { return s == "one\ntwo\nthree\nfour\n" })
	write(sinkA + sinkB)
	reloads <- struct{}{}
	waitFile(t, b, func(s string) bool { return s == "one\ntwo\nthree\nfour\n" })
}

// TestSIGHUPReloads: the real binary reloads on SIGHUP instead of dying
// (exit 129), and exits 0 on SIGTERM.
func TestSIGHUPReloads(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte("one\n"), 0o644)
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	cfgPath := filepath.Join(dir, "c.yaml")
	write := func(extra string) {
		os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"]}]
sinks:
  - {name: a, type: file, path: `+a+`, batch: {max_wait: 10ms}}
`+extra+`admin: {listen: ""}
`), 0o644)
	}
	write("")
	var stderr syncWriter
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFile(t, a, func(s string) bool { return s == "one\n" })
	write("  - {name: b, type: file, path: " + b + ", batch: {max_wait: 10ms}}\n")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFile(t, b, func(s string) bool { return s == "one\n" })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "config reloaded") {
		t.Errorf("no reload in the log:\n%s", stderr.String())
	}
}

// TestHTTPReload: POST /-/reload needs the admin token, refuses a bad
// config with its file:line problems (the running one stays), reloads a
// good one after answering 202 with what changes, and says 200
// "unchanged" when nothing does, once it reopened the output files.
func TestHTTPReload(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte("one\n"), 0o644)
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	cfgPath := filepath.Join(dir, "c.yaml")
	addr := freePort(t)
	write := func(extra string) {
		os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"]}]
sinks:
  - {name: a, type: file, path: `+a+`, batch: {max_wait: 10ms}}
`+extra+`admin: {listen: "`+addr+`", token_file: `+tokenFile+`}
`), 0o644)
	}
	write("")
	logBuf := &serveConfig(t, cfgPath, false).logs
	waitFile(t, a, func(s string) bool { return s == "one\n" })

	post := func(token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/-/reload", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("decode the answer: %v", err)
		}
		return resp.StatusCode, body
	}
	if code, _ := post(""); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", code)
	}
	if code, _ := post("wrong"); code != http.StatusForbidden {
		t.Errorf("with a wrong token: %d, want 403", code)
	}
	if code, body := post("s3cret"); code != http.StatusOK || body["result"] != "unchanged" || fmt.Sprint(body["reopened"]) != "[a]" {
		t.Errorf("nothing changed: %d %v, want 200 unchanged, reopened [a]", code, body)
	}
	if !strings.Contains(logBuf.String(), "nothing changed; output files reopened") {
		t.Errorf("the log does not say the output files were reopened:\n%s", logBuf.String())
	}

	write("  - {name: b, type: file, path: " + b + ", batch: {max_wait: 10ms}, retry: {max_attempts: -1}}\n")
	code, body := post("s3cret")
	problems, _ := body["problems"].([]any)
	if code != http.StatusBadRequest || len(problems) != 1 || !strings.Contains(problems[0].(string), "c.yaml:5: sinks[1].retry.max_attempts") {
		t.Errorf("bad config: %d %v, want 400 naming c.yaml:5: sinks[1].retry.max_attempts", code, body)
	}
	appendFile(t, filepath.Join(logs, "app.log"), "two\n")
	waitFile(t, a, func(s string) bool { return s == "one\ntwo\n" }) // the running config stays

	write("  - {name: b, type: file, path: " + b + ", batch: {max_wait: 10ms}}\n")
	code, body = post("s3cret")
	// The source routes to every sink, so it changes too.
	if changes, _ := body["changes"].([]any); code != http.StatusAccepted || body["result"] != "reloading" || !slices.Contains(changes, any("sinks added b")) {
		t.Errorf("good config: %d %v, want 202 reloading with sinks added b", code, body)
	}
	waitFile(t, b, func(s string) bool { return s == "one\ntwo\n" })
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`logcapturer_config_reloads_total{result="failure"} 1`, `logcapturer_config_reloads_total{result="success"} 2`} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// syncWriter collects log output from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitFor waits until cond holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// appendFile appends text to path. Tests append to tailed files: a
// rewrite (os.WriteFile) truncates the file, and the tailer rightly reads
// it again from its beginning.
func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// TestReloadRefusesDataDirChange: the real binary refuses a reload that
// moves data_dir, by SIGHUP (logged, counted) and by POST /-/reload (400
// naming data_dir and saying to restart); the running config stays on the
// old data directory and the new one is never created.
func TestReloadRefusesDataDirChange(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	appendFile(t, filepath.Join(logs, "app.log"), "one\n")
	a := filepath.Join(dir, "a.log")
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	cfgPath := filepath.Join(dir, "c.yaml")
	addr := freePort(t)
	write := func(dataDir string) {
		os.WriteFile(cfgPath, []byte("data_dir: "+dataDir+`
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"]}]
sinks:
  - {name: a, type: file, path: `+a+`, batch: {max_wait: 10ms}}
admin: {listen: "`+addr+`", token_file: `+tokenFile+`}
`), 0o644)
	}
	write(filepath.Join(dir, "data"))
	var stderr syncWriter
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFile(t, a, func(s string) bool { return s == "one\n" })

	moved := filepath.Join(dir, "moved")
	write(moved)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "config reload refused") })
	if !strings.Contains(stderr.String(), "data_dir: changed from") || !strings.Contains(stderr.String(), "restart logcapturer") {
		t.Errorf("the refusal does not name data_dir and the restart:\n%s", stderr.String())
	}

	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/-/reload", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Problems []string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || len(body.Problems) != 1 ||
		!strings.Contains(body.Problems[0], "c.yaml: data_dir: changed from "+filepath.Join(dir, "data")+" to "+moved) {
		t.Errorf("POST /-/reload: %d %v, want 400 naming data_dir", resp.StatusCode, body.Problems)
	}

	appendFile(t, filepath.Join(logs, "app.log"), "two\n")
	waitFile(t, a, func(s string) bool { return s == "one\ntwo\n" }) // the running config stays
	if _, err := os.Stat(moved); !os.IsNotExist(err) {
		t.Errorf("the new data_dir was created: %v", err)
	}
	if m := metricsText(t, addr); !strings.Contains(m, `logcapturer_config_reloads_total{result="failure"} 2`) {
		t.Errorf("two refused reloads not counted:\n%s", m)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
}

// metricsText returns the admin server's /metrics page.
func metricsText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// served is the program run in process (serve) on a config file, its log
// collected, reloaded by a send on reloads.
type served struct {
	logs    syncWriter
	reloads chan struct{}
	cancel  context.CancelFunc
	done    chan error
	err     error
	stopped bool
}

// serveConfig checks cfgPath and serves it in process, logging as JSON
// when json is set, else as text. The test's end stops it and reports an
// error it returned.
func serveConfig(t *testing.T, cfgPath string, json bool) *served {
	t.Helper()
	cfg, err := checkConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := &served{reloads: make(chan struct{}), done: make(chan error, 1)}
	var h slog.Handler = slog.NewTextHandler(&s.logs, nil)
	if json {
		h = slog.NewJSONHandler(&s.logs, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- serve(ctx, slog.New(h), cfgPath, cfg, s.reloads) }()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// stop stops the program and returns what serve returned. Safe to call
// twice.
func (s *served) stop() error {
	if !s.stopped {
		s.stopped = true
		s.cancel()
		s.err = <-s.done
	}
	return s.err
}
