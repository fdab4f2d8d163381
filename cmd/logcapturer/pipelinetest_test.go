package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pipelineConfig is a config whose source app runs multiline, json,
// labels, timestamp, drop and structured_metadata stages, and whose
// docker source d runs json and labels on the decoded records.
const pipelineConfig = `data_dir: $DIR/data
sources:
  - name: app
    type: file
    paths: ["$DIR/logs/*.log"]
    labels: {job: app}
    pipeline_stages:
      - multiline:
          firstline: '^\{'
      - json:
          expressions:
            level: level
            msg: msg
            ts: ts
            trace_id: trace_id
      - labels:
          level:
      - timestamp:
          source: ts
          format: RFC3339
      - drop:
          source: level
          value: debug
      - structured_metadata:
          trace_id:
  - name: d
    type: docker
    labels: {job: docker}
    pipeline_stages:
      - json: {expressions: {level: level}}
      - labels: {level: }
sinks: [{name: out, type: stdout}]
`

// pipelineSample: a kept line with metadata, a dropped debug line, a
// stack trace joined into the entry before it by multiline (the joined
// block is not JSON any more: the json stage fails on it, as Promtail's
// does), and a last block flushed at the end of the input.
const pipelineSample = `{"level":"info","msg":"started","ts":"2026-12-01T10:00:00Z","trace_id":"abc"}
{"level":"debug","msg":"noise","ts":"2026-12-01T10:00:01Z"}
{"level":"error","msg":"boom","ts":"2026-12-01T10:00:02.5Z"}
  at main.go:12
  at proc.go:3
{"level":"warn","msg":"last","ts":"2026-12-01T10:00:03Z"}
`

// dockerSample: a line Docker split in two pieces (joined by the
// source), a whole stderr line, and a line that is not a record.
const dockerSample = `{"log":"{\"level\":\"warn\",","stream":"stdout","time":"2026-12-01T10:00:00.25Z"}
{"log":"\"msg\":\"split\"}\n","stream":"stdout","time":"2026-12-01T10:00:00.5Z"}
{"log":"{\"level\":\"info\"}\n","stream":"stderr","time":"2026-12-01T10:00:01Z"}
garbage
`

func writePipelineFiles(t *testing.T) (dir, cfgPath string) {
	t.Helper()
	dir = t.TempDir()
	cfgPath = filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(pipelineConfig, "$DIR", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"app.txt": pipelineSample, "docker.txt": dockerSample} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, cfgPath
}

// TestPipelineTestGolden: the trace of every line, word for word: the
// changes of each stage (extracted values, labels, timestamp, line,
// metadata, failures), a drop with its stage and reason, lines joined by
// multiline into the entry they belong to, a block flushed at the end of
// the input; for a docker source its decoding (partial pieces joined,
// a line that is not a record labelled parse_error); and -o json for the
// same lines, from a file and from stdin.
func TestPipelineTestGolden(t *testing.T) {
	dir, cfgPath := writePipelineFiles(t)
	now := "2026-12-01T11:00:00Z"
	golden(t, "pipeline_test.golden", transcript(t, console{}, dir,
		[]string{"pipeline", "test", "--config", cfgPath, "--source", "app", "--now", now, filepath.Join(dir, "app.txt")},
		[]string{"pipeline", "test", "--config", cfgPath, "--source", "d", "--now", now, "--filename", "/var/lib/docker/containers/c0ffee/c0ffee-json.log", filepath.Join(dir, "docker.txt")},
	))
	golden(t, "pipeline_test_json.golden", transcript(t, console{in: strings.NewReader(pipelineSample)}, dir,
		[]string{"pipeline", "test", "--config", cfgPath, "--source", "app", "--now", now, "-o", "json", "-"},
	))
}

// TestPipelineTestBadInput: an unknown source (the sources are listed),
// a config with problems and stages that do not parse (printed as check
// prints them), a sample file that cannot be read: exit 1 with the
// reason; missing flags and a bad -o or --now: exit 2.
func TestPipelineTestBadInput(t *testing.T) {
	dir, cfgPath := writePipelineFiles(t)
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte(strings.ReplaceAll(`data_dir: $DIR/data
sources:
  - name: app
    type: file
    paths: ["$DIR/logs/*.log"]
sinks: [{name: out, type: stdout, bogus: 1}]
`, "$DIR", dir)), 0o644)
	badStages := filepath.Join(dir, "stages.yaml")
	os.WriteFile(badStages, []byte(strings.ReplaceAll(`data_dir: $DIR/data
sources:
  - name: app
    type: file
    paths: ["$DIR/logs/*.log"]
    pipeline_stages:
      - regex:
          expression: '(?P<x'
      - jsn: {}
sinks: [{name: out, type: stdout}]
`, "$DIR", dir)), 0o644)
	golden(t, "pipeline_test_errors.golden", transcript(t, console{in: strings.NewReader("")}, dir,
		[]string{"pipeline", "test", "--config", cfgPath, "--source", "nope"},
		[]string{"pipeline", "test", "--config", badCfg, "--source", "app"},
		[]string{"pipeline", "test", "--config", badStages, "--source", "app"},
		[]string{"pipeline", "test", "--config", cfgPath, "--source", "app", filepath.Join(dir, "missing.txt")},
		[]string{"pipeline", "test", "--config", cfgPath, "--source", "app", dir},
		[]string{"pipeline", "test", "--config", cfgPath},
		[]string{"pipeline", "test", "--source", "app"},
		[]string{"pipeline", "test", "--config", cfgPath, "--source", "app", "a", "b"},
		[]string{"pipeline", "test", "--config", cfgPath, "--source", "app", "-o", "yaml"},
		[]string{"pipeline", "test", "--config", cfgPath, "--source", "app", "--now", "noon"},
		[]string{"pipeline"},
		[]string{"pipeline", "test", "--help"},
	))
}

// TestPipelineTestBinary runs the real binary on the sample from stdin
// with -o json: one object a line, the json+labels+drop+multiline
// stages' work visible in each.
func TestPipelineTestBinary(t *testing.T) {
	bin := binary(t)
	_, cfgPath := writePipelineFiles(t)
	cmd := exec.Command(bin, "pipeline", "test", "--config", cfgPath, "--source", "app", "-o", "json")
	cmd.Stdin = strings.NewReader(pipelineSample)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pipeline test: %v\n%s", err, stderr.String())
	}
	var got []traceView
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var v traceView
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, v)
	}
	if len(got) != 6 {
		t.Fatalf("%d objects, want one per sample line (6):\n%s", len(got), out)
	}
	want := []struct {
		result string
		level  string // the level label of a kept entry
		joined uint64
	}{
		{"kept", "info", 0}, {"dropped", "", 0},
		{"kept", "", 0}, // the joined block is no longer JSON (as in Promtail)
		{"joined", "", 3}, {"joined", "", 3}, {"kept", "warn", 0},
	}
	for i, w := range want {
		v := got[i]
		if v.Line != uint64(i+1) || v.Result != w.result || v.JoinedInto != w.joined {
			t.Errorf("line %d: line %d result %q joined into %d, want %q %d", i+1, v.Line, v.Result, v.JoinedInto, w.result, w.joined)
		}
		if w.result == "kept" && (v.Entry == nil || v.Entry.Labels["level"] != w.level || v.Entry.Labels["job"] != "app") {
			t.Errorf("line %d: entry %+v, want labels job=app level=%s", i+1, v.Entry, w.level)
		}
	}
	if d := got[1].DroppedBy; d == nil || d.Stage != "drop" || d.Index != 4 || d.Reason != "drop_stage" {
		t.Errorf("line 2 dropped by %+v, want [4] drop: drop_stage", d)
	}
	if e := got[0].Entry; e == nil || e.Metadata["trace_id"] != "abc" || e.Time != "2026-12-01T10:00:00Z" {
		t.Errorf("line 1 entry %+v, want trace_id metadata and the ts time", e)
	}
	if e := got[2].Entry; e == nil || e.Line != "{\"level\":\"error\",\"msg\":\"boom\",\"ts\":\"2026-12-01T10:00:02.5Z\"}\n  at main.go:12\n  at proc.go:3" {
		t.Errorf("line 3 entry %+v, want the stack trace joined", e)
	}
	var labels []change
	for _, s := range got[0].Stages {
		if s.Stage == "labels" {
			labels = s.Changes
		}
	}
	if len(labels) != 1 || labels[0].Field != "labels" || labels[0].Key != "level" || labels[0].Op != "add" || labels[0].New != "info" {
		t.Errorf("line 1's labels stage changes %+v, want level added", labels)
	}
}
