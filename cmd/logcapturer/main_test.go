package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "logcapturer ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := runMain(nil, &out, &errb); code != 2 {
		t.Fatalf("no command: exit %d", code)
	}
	if code := runMain([]string{"run"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--config FILE is required") {
		t.Fatalf("run without config: exit %d %q", code, errb.String())
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["/var/log/*.log"]}]
sinks: [{name: out, type: stdout}]
`), 0o644)
	var out, errb bytes.Buffer
	if code := runMain([]string{"check", "--config", good}, &out, &errb); code != 0 || !strings.Contains(out.String(), "ok") {
		t.Fatalf("good config: exit %d, %q %q", code, out.String(), errb.String())
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("data_dir: "+filepath.Join(dir, "data")+`
wal: {segmnet_size: 1MiB}
sources:
  - {name: app, type: file, paths: ["/var/log/*.log"], sinks: [nowhere]}
  - {name: app, type: file, paths: ["/x/*.log"]}
sinks: [{name: out, type: stdout, batch: {max_wait: soon}}]
`), 0o644)
	out.Reset()
	errb.Reset()
	code := runMain([]string{"check", "--config", bad}, &out, &errb)
	msg := errb.String()
	if code != 1 {
		t.Fatalf("bad config: exit %d", code)
	}
	for _, want := range []string{
		"bad.yaml:2: wal: unknown key \"segmnet_size\"",
		"bad.yaml:4: sources[0].sinks",
		"bad.yaml:5: sources[1].name: duplicate source name",
		"bad.yaml:6: sinks[0].batch.max_wait",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("check output lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
		t.Errorf("stack trace in output:\n%s", msg)
	}

	// Loki sinks: a URL without scheme, a bad port, and a rule only the
	// sink knows (two kinds of auth at once).
	lk := filepath.Join(dir, "loki.yaml")
	os.WriteFile(lk, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["/var/log/*.log"]}]
sinks:
  - {name: l1, type: loki, url: "localhost:3100/loki/api/v1/push"}
  - {name: l2, type: loki, url: "http://localhost:99999/loki/api/v1/push"}
`), 0o644)
	errb.Reset()
	if code := runMain([]string{"check", "--config", lk}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "loki.yaml:4: sinks[0].url") || !strings.Contains(errb.String(), "loki.yaml:5: sinks[1].url: has a bad port") {
		t.Fatalf("loki urls: exit %d\n%s", code, errb.String())
	}
	os.WriteFile(lk, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["/var/log/*.log"]}]
sinks:
  - name: l1
    type: loki
    url: http://127.0.0.1:3100/loki/api/v1/push
    bearer_token: abc
    basic_auth: {username: u, password: p}
`), 0o644)
	errb.Reset()
	// The sink's own rule, at the line of its key.
	if code := runMain([]string{"check", "--config", lk}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "loki.yaml:8: sinks[0].basic_auth: basic_auth and bearer_token/bearer_token_file are mutually exclusive") {
		t.Fatalf("loki auth: exit %d\n%s", code, errb.String())
	}

	// Source options only the tailer checks in depth, at their lines.
	src := filepath.Join(dir, "src.yaml")
	os.WriteFile(src, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources:
  - {name: app, type: file, paths: ["/var/log/*.log"], multiline: {start: "(", max_lines: 10}}
  - {name: d, type: docker}
  - {name: c, type: cri, timestamp: {layout: x}}
sinks: [{name: out, type: stdout}]
`), 0o644)
	errb.Reset()
	if code := runMain([]string{"check", "--config", src}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "src.yaml:3: sources[0].multiline.start: does not compile") || strings.Contains(errb.String(), "sources[1]") ||
		!strings.Contains(errb.String(), "src.yaml:5: sources[2].timestamp: regex or json_field is required") {
		t.Fatalf("source options: exit %d\n%s", code, errb.String())
	}

	// A data_dir that cannot be created: exit 1 naming the path.
	ro := filepath.Join(dir, "ro.yaml")
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	os.WriteFile(ro, []byte("data_dir: "+filepath.Join(blocker, "data")+`
sources: [{name: app, type: file, paths: ["/var/log/*.log"]}]
sinks: [{name: out, type: stdout}]
`), 0o644)
	errb.Reset()
	if code := runMain([]string{"run", "--config", ro}, &out, &errb); code != 1 || !strings.Contains(errb.String(), filepath.Join(blocker, "data")) {
		t.Fatalf("unwritable data_dir: exit %d %q", code, errb.String())
	}
}

// TestRunShutsDownCleanly runs the whole program in-process: lines reach the
// file sink, and cancelling stops every goroutine (goleak checks at exit).
func TestRunShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "a.log"), []byte("one\ntwo\n"), 0o644)
	out := filepath.Join(dir, "out", "archive.log")
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"]}]
sinks: [{name: archive, type: file, path: `+out+`, batch: {max_wait: 10ms}}]
admin: {listen: "127.0.0.1:0"}
`), 0o644)
	if b := runUntil(t, cfgPath, out, func(b []byte) bool { return string(b) == "one\ntwo\n" }); string(b) != "one\ntwo\n" {
		t.Fatalf("sink holds %q", b)
	}
}

// TestRunDockerSource wires a docker source end to end: the record's time
// and the container labels reach the sink.
func TestRunDockerSource(t *testing.T) {
	dir := t.TempDir()
	id := strings.Repeat("ab", 32)
	cdir := filepath.Join(dir, "containers", id)
	os.MkdirAll(cdir, 0o755)
	os.WriteFile(filepath.Join(cdir, id+"-json.log"), []byte(
		`{"log":"hello from docker\n","stream":"stdout","time":"2026-11-24T06:00:00.123456789Z"}`+"\n"), 0o644)
	out := filepath.Join(dir, "out.json")
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: docker, type: docker, paths: ["`+dir+`/containers/*/*-json.log"]}]
sinks: [{name: archive, type: file, path: `+out+`, format: json, batch: {max_wait: 10ms}}]
admin: {listen: ""}
`), 0o644)
	b := runUntil(t, cfgPath, out, func(b []byte) bool { return len(b) > 0 })
	for _, want := range []string{`"ts":"2026-11-24T06:00:00.123456789Z"`, `"container_id":"` + id + `"`, `"stream":"stdout"`, `"line":"hello from docker"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("sink output lacks %s: %s", want, b)
		}
	}
}

// runUntil runs the program in-process on the config at cfgPath until the
// file out satisfies cond (or 10 s pass), stops it, checks that it shut down
// cleanly, and returns out's content.
func runUntil(t *testing.T, cfgPath, out string, cond func([]byte) bool) []byte {
	t.Helper()
	cfg, err := config.Load(cfgPath, parseOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, slog.New(slog.DiscardHandler), cfg) }()
	deadline := time.Now().Add(10 * time.Second)
	var b []byte
	for {
		b, _ = os.ReadFile(out)
		if cond(b) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return b
}
