package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jsonLines decodes the JSON log lines whose msg contains msg.
func jsonLines(t *testing.T, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if s, _ := m["msg"].(string); strings.Contains(s, msg) {
			out = append(out, m)
		}
	}
	return out
}

// TestReloadLogs: a refused reload logs its problems one field each
// (problem.1, problem.2, ...), none holding a newline; a reload does not
// log "shutting down", a process stop does, once.
func TestReloadLogs(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte("one\n"), 0o644)
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	cfgPath := filepath.Join(dir, "c.yaml")
	write := func(body string) {
		if err := os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good := `sources: [{name: app, type: file, paths: ["` + logs + `/*.log"]}]
admin: {listen: ""}
sinks:
  - {name: a, type: file, path: ` + a + `, batch: {max_wait: 10ms}}
`
	write(good)
	srv := serveConfig(t, cfgPath, true)
	logBuf, reloads := &srv.logs, srv.reloads
	waitFile(t, a, func(s string) bool { return s == "one\n" })

	// Three problems of different kinds.
	write(`wal: {segmnet_size: 1MiB}
sources: [{name: app, type: file, paths: ["` + logs + `/*.log"], sinks: [nowhere]}]
admin: {listen: ""}
sinks:
  - {name: a, type: file, path: ` + a + `, batch: {max_wait: soon}}
`)
	reloads <- struct{}{}
	waitFor(t, func() bool { return strings.Contains(logBuf.String(), "config reload refused") })
	refused := jsonLines(t, logBuf.String(), "config reload refused")
	if len(refused) != 1 {
		t.Fatalf("%d refusal lines, want 1:\n%s", len(refused), logBuf.String())
	}
	n, _ := refused[0]["problems"].(float64)
	ps, _ := refused[0]["problem"].(map[string]any)
	if n != 3 || len(ps) != 3 {
		t.Fatalf("refusal line: problems=%v, problem=%v; want 3 of each:\n%s", refused[0]["problems"], refused[0]["problem"], logBuf.String())
	}
	for _, want := range []struct{ key, text string }{{"1", "c.yaml:2: wal: unknown key"}, {"2", "c.yaml:3: sources[0].sinks"},
		{"3", "c.yaml:6: sinks[0].batch.max_wait"}} {
		if s, _ := ps[want.key].(string); !strings.Contains(s, want.text) {
			t.Errorf("problem.%s = %q, want it to hold %q", want.key, s, want.text)
		}
	}
	for k, v := range refused[0] {
		if s, ok := v.(string); ok && strings.Contains(s, "\n") {
			t.Errorf("field %s holds a newline: %q", k, s)
		}
	}
	for k, v := range ps {
		if strings.Contains(v.(string), "\n") {
			t.Errorf("problem.%s holds a newline: %q", k, v)
		}
	}

	// A reload that changes something: no "shutting down".
	write(good + "  - {name: b, type: file, path: " + b + ", batch: {max_wait: 10ms}}\n")
	reloads <- struct{}{}
	waitFile(t, b, func(s string) bool { return s == "one\n" })
	waitFor(t, func() bool { return strings.Contains(logBuf.String(), `"msg":"config reloaded"`) })
	if got := jsonLines(t, logBuf.String(), "shutting down"); len(got) != 0 {
		t.Fatalf("a reload logged %d 'shutting down' lines:\n%s", len(got), logBuf.String())
	}

	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if got := jsonLines(t, logBuf.String(), "shutting down"); len(got) != 1 {
		t.Fatalf("the process stop logged %d 'shutting down' lines, want 1:\n%s", len(got), logBuf.String())
	}
}
