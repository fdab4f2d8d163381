package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReportsEveryProblem: one check run reports every problem of a
// file, of every kind, each at its file:line and sorted by line: a glob
// the config refuses, a multiline regex that does not compile and a
// timestamp regex without a ts group (the file source type's own rules),
// keys a sink does not have, a password file and a TLS file that cannot be
// read (the loki sink type's file checks) and an admin token file that is
// missing; exit code 1.
func TestCheckReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte(strings.ReplaceAll(`data_dir: $DIR/data
sources:
  - name: app
    type: file
    paths: ["/var/log/**.log"]
    multiline:
      start: '^[0-9'
    timestamp:
      regex: '^(\S+)'
sinks:
  - name: loki
    type: loki
    url: http://127.0.0.1:3100/loki/api/v1/push
    basic_auth:
      username: edge
      password_file: $DIR/secrets/loki.pass
    tls:
      ca_file: $DIR/secrets/ca.pem
    batch:
      max_entrie: 100
  - name: archive
    type: file
    path: $DIR/out/archive.log
    brokers: ["h:9092"]
admin:
  listen: 127.0.0.1:8401
  token_file: $DIR/secrets/admin.token
`, "$DIR", dir)), 0o644)
	var out, errb bytes.Buffer
	if code := runMain([]string{"check", "--config", cfgPath}, &out, &errb); code != 1 || out.Len() != 0 {
		t.Errorf("check: exit %d, stdout %q; want 1 and nothing", code, out.String())
	}
	// The temp dir is $DIR in the golden file.
	golden(t, "check_problems.golden", bytes.ReplaceAll(errb.Bytes(), []byte(dir), []byte("$DIR")))
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("check created data_dir")
	}
}

// TestCheckPrintsWarnings: a warning (an otlp mapping that names no
// label) is printed at its file:line and check still exits 0.
func TestCheckPrintsWarnings(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte(strings.ReplaceAll(`data_dir: $DIR/data
sources:
  - name: app
    type: file
    paths: ["/var/log/app.log"]
sinks:
  - name: otel
    type: otlp
    url: http://127.0.0.1:4318/v1/logs
    attributes:
      pod: ""
`, "$DIR", dir)), 0o644)
	var out, errb bytes.Buffer
	if code := runMain([]string{"check", "--config", cfgPath}, &out, &errb); code != 0 {
		t.Fatalf("check: exit %d, stderr %q", code, errb.String())
	}
	want := "warning: " + cfgPath + ":11: sinks[0].attributes.pod: names no label: the attribute is never set\n"
	if !strings.HasPrefix(out.String(), want) || !strings.Contains(out.String(), ": ok (") {
		t.Fatalf("check printed %q, want it to start with %q and say ok", out.String(), want)
	}
}
