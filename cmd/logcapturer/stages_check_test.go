package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckPipelineStages: the real logcapturer check reports every
// problem of pipeline_stages at its file:line with the stage's position
// (a regex that does not compile, an unknown stage, a key of another
// stage, a geoip database that is not there, a stage nested in match), a
// source that sets the multiline or timestamp option and the same stage,
// and a negative max_streams; exit code 1.
func TestCheckPipelineStages(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte(strings.ReplaceAll(`data_dir: $DIR/data
sources:
  - name: app
    type: file
    paths: ["/var/log/app.log"]
    multiline:
      start: '^\d'
    pipeline_stages:
      - json:
          expressions: {level: level}
      - multiline:
          firstline: '^\d'
      - labels: {level: ""}
      - regex:
          expression: '^(?P<ts>\S+'
      - jsonn: {}
      - geoip: {db: $DIR/GeoLite2-City.mmdb, source: ip, db_type: city}
      - drop:
          firstline: x
  - name: pods
    type: cri
    max_streams: -1
    timestamp:
      json_field: time
      layout: RFC3339
    pipeline_stages:
      - match:
          selector: '{app="a"}'
          stages:
            - timestamp: {source: time, format: RFC3339}
sinks:
  - name: out
    type: stdout
`, "$DIR", dir)), 0o644)
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, "check", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || out.Len() != 0 {
		t.Errorf("check: %v, stdout %q; want exit 1 and nothing", err, out.String())
	}
	golden(t, "check_stages.golden", bytes.ReplaceAll(errb.Bytes(), []byte(dir), []byte("$DIR")))
}
