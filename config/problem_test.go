package config_test

import (
	. "github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
	"strconv"
	"strings"
	"testing"
	"time"
)

// withSources returns a config with a valid sink and the given sources
// section.
func withSources(sources string) string {
	return "sources:\n" + sources + "sinks:\n  - name: out\n    type: stdout\n"
}

const oneSource = "sources:\n  - name: app\n    type: file\n    paths: [/a.log]\n"

// want is one expected problem: line and key exactly, msg as a substring.
type want struct {
	line int
	key  string
	msg  string
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want []want
	}{
		{"empty file", "", nil, []want{{0, "", "file is empty"}}},
		{"comments only", "# nothing\n\n", nil, []want{{0, "", "file is empty"}}},
		{"null document", "~\n", nil, []want{{0, "", "file is empty"}}},
		{"syntax error", "wal:\n  sync: batch\n  bad: [\n", nil, []want{{3, "", "invalid YAML: did not find expected node content"}}},
		{"syntax error mapping", "a: b\nc: d: e\n", nil, []want{{2, "", "invalid YAML: mapping values are not allowed"}}},
		{"tab indent", "wal:\n\tsync: batch\n", nil, []want{{2, "", "invalid YAML"}}},
		{"two documents", minimal + "---\nwal: {}\n", nil, []want{{10, "", "more than one YAML document"}}},
		{"top level list", "- a\n- b\n", nil, []want{{1, "", "the top level must be a mapping"}}},
		{"top level scalar", "hello\n", nil, []want{{1, "", "the top level must be a mapping"}}},
		{"no sources no sinks", "data_dir: /x\n", nil, []want{
			{1, "sources", "at least one source is required"},
			{1, "sinks", "at least one sink is required"},
		}},
		{"empty source list", "sources: []\n" + "sinks:\n  - name: out\n    type: stdout\n", nil, []want{
			{1, "sources", "at least one source is required"},
		}},
		{"unknown top key with suggestion", minimal + "data_dri: /x\n", nil, []want{
			{10, "", `unknown key "data_dri"; did you mean "data_dir"?`},
		}},
		{"unknown key without suggestion", minimal + "whatever: 1\n", nil, []want{{10, "", `unknown key "whatever"`}}},
		{"unknown nested key", minimal + "wal:\n  segmnet_size: 1MiB\n", nil, []want{
			{11, "wal", `unknown key "segmnet_size"; did you mean "segment_size"?`},
		}},
		{"unknown key in a source", withSources("  - name: app\n    type: file\n    path: [/a]\n    paths: [/b]\n"), nil, []want{
			{4, "sources[0]", `unknown key "path"; did you mean "paths"?`},
		}},
		{"duplicate key", minimal + "data_dir: /a\ndata_dir: /b\n", nil, []want{
			{11, "data_dir", "duplicate key (first at line 10)"},
		}},
		{"section not a mapping", minimal + "wal: fast\n", nil, []want{{10, "wal", `must be a mapping, got "fast"`}}},
		{"list not a list", "sinks:\n  - name: out\n    type: stdout\nsources: app\n", nil, []want{
			{4, "sources", `must be a list, got "app"`},
		}},
		{"source item not a mapping", withSources("  - app\n"), nil, []want{{2, "sources[0]", `must be a mapping, got "app"`}}},
		{"string given a list", withSources("  - name: [a, b]\n    type: file\n    paths: [/a]\n"), nil, []want{
			{2, "sources[0].name", "must be a string, got a list"},
		}},
		{"non-string key", minimal + "[a]: 1\n", nil, []want{{10, "", "keys must be strings, got a list"}}},
		{"bad size", minimal + "wal:\n  segment_size: big\n", nil, []want{
			{11, "wal.segment_size", `must be a size like 64KiB or 16MiB, got "big"`},
		}},
		{"size too small", minimal + "wal:\n  segment_size: 512KiB\n", nil, []want{
			{11, "wal.segment_size", "must be between 1MiB and 256MiB, got 512KiB"},
		}},
		{"size too big", minimal + "wal:\n  segment_size: 1GiB\n  max_bytes: 10GiB\n", nil, []want{
			{11, "wal.segment_size", "must be between 1MiB and 256MiB, got 1GiB"},
		}},
		{"max_bytes below twice segment", minimal + "wal:\n  segment_size: 16MiB\n  max_bytes: 31MiB\n", nil, []want{
			{12, "wal.max_bytes", "must be at least twice wal.segment_size (32MiB), got 31MiB"},
		}},
		{"max_bytes default below twice segment", minimal + "wal:\n  segment_size: 256MiB\n  sync: none\n", nil, nil},
		{"bad duration", minimal + "wal:\n  sync_interval: fast\n", nil, []want{
			{11, "wal.sync_interval", `must be a duration like 250ms, got "fast"`},
		}},
		{"bare number duration", minimal + "wal:\n  sync_interval: 5\n", nil, []want{
			{11, "wal.sync_interval", `must be a duration like 250ms, got "5"`},
		}},
		{"zero duration", minimal + "wal:\n  sync_interval: 0\n", nil, []want{
			{11, "wal.sync_interval", "must be greater than 0, got 0s"},
		}},
		{"bad enum", minimal + "wal:\n  full_policy: drop\n", nil, []want{
			{11, "wal.full_policy", `must be block or drop_oldest, got "drop"`},
		}},
		{"bad compression", minimal + "wal:\n  compression: zstd\n", nil, []want{
			{11, "wal.compression", `must be s2 or none, got "zstd"`},
		}},
		{"bad int", "sources:\n  - name: app\n    type: file\n    paths: [/a]\nsinks:\n  - name: out\n    type: stdout\n    workers: two\n", nil, []want{
			{8, "sinks[0].workers", `must be an integer, got "two"`},
		}},
		{"missing source name and type", withSources("  - paths: [/a]\n"), nil, []want{
			{2, "sources[0].name", "is required"},
			{2, "sources[0].type", "is required"},
		}},
		{"empty source name", withSources("  - name: \"\"\n    type: file\n    paths: [/a]\n"), nil, []want{
			{2, "sources[0].name", "must not be empty"},
		}},
		{"name too long", withSources("  - name: " + strings.Repeat("a", 65) + "\n    type: file\n    paths: [/a]\n"), nil, []want{
			{2, "sources[0].name", "must be 1 to 64 letters"},
		}},
		{"duplicate source name", withSources("  - name: app\n    type: file\n    paths: [/a]\n  - name: app\n    type: file\n    paths: [/b]\n"), nil, []want{
			{5, "sources[1].name", `duplicate source name "app" (first defined at line 2)`},
		}},
		{"unknown source type", withSources("  - name: app\n    type: journald\n"), nil, []want{
			{3, "sources[0].type", `must be file, docker or cri, got "journald"`},
		}},
		{"missing paths", withSources("  - name: app\n    type: file\n"), nil, []want{
			{2, "sources[0].paths", "is required for a file source"},
		}},
		{"empty paths", withSources("  - name: app\n    type: file\n    paths: []\n"), nil, []want{
			{4, "sources[0].paths", "must not be empty"},
		}},
		{"bad glob", withSources("  - name: app\n    type: file\n    paths:\n      - /a/*.log\n      - /a/[x\n"), nil, []want{
			{6, "sources[0].paths[1]", `is not a valid glob pattern: "/a/[x"`},
		}},
		{"bad exclude glob", withSources("  - name: app\n    type: file\n    paths: [/a]\n    exclude: ['\\']\n"), nil, []want{
			{5, "sources[0].exclude[0]", "is not a valid glob pattern"},
		}},
		{"double star inside an element", withSources("  - name: app\n    type: file\n    paths: [/a/**/x.log, /a/**.log]\n"), nil, []want{
			{4, "sources[0].paths[1]", `"**" must be a whole path element`},
		}},
		{"paths item not a string", withSources("  - name: app\n    type: file\n    paths:\n      - {a: b}\n"), nil, []want{
			{5, "sources[0].paths[0]", "must be a string, got a mapping"},
		}},
		{"start_at", withSources("  - name: app\n    type: file\n    paths: [/a]\n    start_at: middle\n"), nil, []want{
			{5, "sources[0].start_at", `must be beginning or end, got "middle"`},
		}},
		{"labels", withSources("  - name: app\n    type: file\n    paths: [/a]\n    labels:\n      ok: x\n      9x: y\n      __r: z\n      a-b: c\n      e: \"\"\n      n:\n"), nil, []want{
			{7, "sources[0].labels.9x", `invalid label name "9x"`},
			{8, "sources[0].labels.__r", `names starting with "__" are reserved`},
			{9, "sources[0].labels.a-b", `invalid label name "a-b"`},
		}},
		{"labels not a mapping", withSources("  - name: app\n    type: file\n    paths: [/a]\n    labels: [a]\n"), nil, []want{
			{5, "sources[0].labels", "must be a mapping, got a list"},
		}},
		{"label value not a string", withSources("  - name: app\n    type: file\n    paths: [/a]\n    labels: {a: [b]}\n"), nil, []want{
			{5, "sources[0].labels.a", "must be a string, got a list"},
		}},
		{"route to unknown sink", withSources("  - name: app\n    type: file\n    paths: [/a]\n    sinks: [out, loki]\n"), nil, []want{
			{5, "sources[0].sinks[1]", `no sink named "loki"; defined sinks: "out"`},
		}},
		{"route twice", withSources("  - name: app\n    type: file\n    paths: [/a]\n    sinks: [out, out]\n"), nil, []want{
			{5, "sources[0].sinks[1]", `sink "out" is listed twice`},
		}},
		{"route empty", withSources("  - name: app\n    type: file\n    paths: [/a]\n    sinks: []\n"), nil, []want{
			{5, "sources[0].sinks", "must not be empty; leave the key out"},
		}},
		{"max_line_bytes", withSources("  - name: app\n    type: file\n    paths: [/a]\n    max_line_bytes: 100\n"), nil, []want{
			{5, "sources[0].max_line_bytes", "must be between 1KiB and 64MiB, got 100B"},
		}},
		{"poll_interval", withSources("  - name: app\n    type: file\n    paths: [/a]\n    poll_interval: -1s\n"), nil, []want{
			{5, "sources[0].poll_interval", "must be greater than 0, got -1s"},
		}},
		{"empty sink list", oneSource + "sinks: []\n", nil, []want{{5, "sinks", "at least one sink is required"}}},
		{"duplicate sink name", oneSource + "sinks:\n  - name: s\n    type: stdout\n  - name: s\n    type: stdout\n", nil, []want{
			{8, "sinks[1].name", `duplicate sink name "s" (first defined at line 6)`},
		}},
		{"sink type missing", oneSource + "sinks:\n  - name: s\n", nil, []want{{6, "sinks[0].type", "is required"}}},
		{"sink type unknown", oneSource + "sinks:\n  - name: s\n    type: kinesis\n", nil, []want{
			{7, "sinks[0].type", `must be file, stdout, http, loki or kafka, got "kinesis"`},
		}},
		{"unknown key of a sink type", oneSource + "sinks:\n  - name: s\n    type: stdout\n    formt: json\n    workrs: 2\n", nil, []want{
			{8, "sinks[0]", `unknown key "formt"; did you mean "format"?`},
			{9, "sinks[0]", `unknown key "workrs"; did you mean "workers"?`},
		}},
		{"key of another sink type", oneSource + "sinks:\n  - name: s\n    type: file\n    path: /x\n    url: http://h/\n    tenant_id: t\n", nil, []want{
			{9, "sinks[0].url", "must not be set for a file sink; it is a key of http and loki sinks"},
			{10, "sinks[0].tenant_id", "must not be set for a file sink; it is a key of loki sinks"},
		}},
		{"loki rule at its key", oneSource + "sinks:\n  - name: l\n    type: loki\n    url: http://h:3100/push\n    tls: {cert_file: /c}\n    labels: {host-name: x}\n", nil, []want{
			{9, "sinks[0].tls", "cert_file and key_file must be given together"},
			{10, "sinks[0].labels", `"host-name" is not a valid label name`},
		}},
		{"file sink without path", oneSource + "sinks:\n  - name: s\n    type: file\n", nil, []want{
			{6, "sinks[0].path", "is required"},
		}},
		{"stdout sink with path", oneSource + "sinks:\n  - name: s\n    type: stdout\n    path: /x\n", nil, []want{
			{8, "sinks[0].path", "must not be set for a stdout sink"},
		}},
		{"two file sinks one path", oneSource + "sinks:\n  - name: a\n    type: file\n    path: /x\n  - name: b\n    type: file\n    path: /x\n", nil, []want{
			{11, "sinks[1].path", `"/x" is also the path of sink "a"`},
		}},
		{"format", oneSource + "sinks:\n  - name: s\n    type: stdout\n    format: xml\n", nil, []want{
			{8, "sinks[0].format", `must be raw or json, got "xml"`},
		}},
		{"batch", oneSource + "sinks:\n  - name: s\n    type: stdout\n    batch:\n      max_entries: -1\n      max_bytes: 0\n      max_wait: 0s\n      max_entires: 1\n", nil, []want{
			{9, "sinks[0].batch.max_entries", "must be greater than 0, got -1"},
			{10, "sinks[0].batch.max_bytes", "must be greater than 0, got 0B"},
			{11, "sinks[0].batch.max_wait", "must be greater than 0, got 0s"},
			{12, "sinks[0].batch", `unknown key "max_entires"; did you mean "max_entries"?`},
		}},
		{"workers", oneSource + "sinks:\n  - name: s\n    type: stdout\n    workers: 0\n", nil, []want{
			{8, "sinks[0].workers", "must be between 1 and 64, got 0"},
		}},
		{"retry", oneSource + "sinks:\n  - name: s\n    type: stdout\n    retry:\n      max_attempts: -2\n      min_backoff: 0s\n", nil, []want{
			{9, "sinks[0].retry.max_attempts", "must be 0 (retry forever) or more, got -2"},
			{10, "sinks[0].retry.min_backoff", "must be greater than 0, got 0s"},
		}},
		{"min backoff above default max", oneSource + "sinks:\n  - name: s\n    type: stdout\n    retry:\n      min_backoff: 10m\n", nil, []want{
			{9, "sinks[0].retry.min_backoff", "must be at most retry.max_backoff (5m0s), got 10m0s"},
		}},
		{"max backoff below min", oneSource + "sinks:\n  - name: s\n    type: stdout\n    retry: {min_backoff: 2s, max_backoff: 1s}\n", nil, []want{
			{8, "sinks[0].retry.max_backoff", "must be at least retry.min_backoff (2s), got 1s"},
		}},
		{"admin listen not host:port", minimal + "admin:\n  listen: 8401\n", nil, []want{
			{11, "admin.listen", `must be host:port such as 127.0.0.1:8401, or "" to disable the admin server, got "8401"`},
		}},
		{"admin listen bad port", minimal + "admin:\n  listen: localhost:99999\n", nil, []want{
			{11, "admin.listen", `port must be a number from 0 to 65535, got "99999"`},
		}},
		{"admin listen named port", minimal + "admin:\n  listen: localhost:http\n", nil, []want{
			{11, "admin.listen", `port must be a number from 0 to 65535, got "http"`},
		}},
		{"unset env var", minimal + "data_dir: ${LC_DIR}\n", nil, []want{
			{10, "data_dir", `environment variable "LC_DIR" is not set`},
		}},
		{"unset env var in list", withSources("  - name: app\n    type: file\n    paths:\n      - /a\n      - ${LOGS}/*.log\n"), nil, []want{
			{6, "sources[0].paths[1]", `environment variable "LOGS" is not set`},
		}},
		{"unset env var in required value", oneSource + "sinks:\n  - name: s\n    type: file\n    path: ${OUT}\n", nil, []want{
			{8, "sinks[0].path", `environment variable "OUT" is not set`},
		}},
		{"env var bad syntax", minimal + "data_dir: ${1X}/a${B\n", nil, []want{
			{10, "data_dir", `invalid environment variable reference "${1X}"`},
			{10, "data_dir", `unterminated "${"`},
		}},
		{"env var makes a bad size", minimal + "wal:\n  segment_size: ${SEG}\n", map[string]string{"SEG": "huge"}, []want{
			{11, "wal.segment_size", `must be a size like 64KiB or 16MiB, got "huge"`},
		}},
		{"alias", minimal + "x: &s 5MiB\n", nil, []want{{10, "", `unknown key "x"`}}},
		{"bad merge", minimal + "wal:\n  <<: [a]\n", nil, []want{{11, "wal", "<< must merge a mapping"}}},
		{"merge cycle", minimal + "wal: &w\n  <<: *w\n", nil, []want{{11, "wal", "merges nested too deeply"}}},
		{"problems everywhere are all reported", "wal:\n  sync: x\nsources:\n  - name: a\n    type: y\nsinks:\n  - name: b\n    type: z\n", nil, []want{
			{2, "wal.sync", "must be batch"},
			{5, "sources[0].type", "must be file"},
			{8, "sinks[0].type", "must be file, stdout, http, loki or kafka"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseOnly(t, tt.src, tt.env)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			got := problemsOf(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.File != "t.yaml" || g.Line != w.line || g.Key != w.key || !strings.Contains(g.Msg, w.msg) {
					t.Errorf("problem %d:\n got  %s\n want t.yaml:%d: %s: ...%s...", i, g, w.line, w.key, w.msg)
				}
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{"quickstart.yaml", 12, "sources[0].start_at", `must be beginning or end, got "middle"`},
			`quickstart.yaml:12: sources[0].start_at: must be beginning or end, got "middle"`},
		{Problem{"a.yaml", 0, "", "file is empty"}, "a.yaml: file is empty"},
		{Problem{"", 3, "k", "m"}, "line 3: k: m"},
		{Problem{"", 0, "k", "m"}, "k: m"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	e := &Error{Problems: []Problem{{"a", 1, "x", "m1"}, {"a", 2, "y", "m2"}}}
	if got, want := e.Error(), "a:1: x: m1\na:2: y: m2"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestValidateInCode(t *testing.T) {
	c, err := parseOnly(t, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Sources[0].Sinks = nil // means every sink
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c.Sinks[0].Workers = 0
	c.Sources[0].Options.(*sources.FileConfig).StartAt = "middle"
	err = c.Validate()
	want := "sources[0].start_at: must be beginning or end, got \"middle\"\nsinks[0].workers: must be between 1 and 64, got 0"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestAliasFanOut checks that aliases and merges that multiply work are cut
// off quickly with a problem, not followed for minutes.
func TestAliasFanOut(t *testing.T) {
	var b strings.Builder
	b.WriteString("x0: &m0 {a: 1, b: 2}\n")
	for i := 1; i < 12; i++ {
		b.WriteString("x" + strconv.Itoa(i) + ": &m" + strconv.Itoa(i) + " {<<: [")
		for range 8 {
			b.WriteString("*m" + strconv.Itoa(i-1) + ", ")
		}
		b.WriteString("]}\n")
	}
	b.WriteString("sources:\n")
	for range 100 {
		b.WriteString("  - labels: {<<: *m11}\n")
	}
	start := time.Now()
	_, err := parseOnly(t, b.String(), nil)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if err == nil || !strings.Contains(err.Error(), "document too complex") {
		t.Errorf("error = %v", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	base := "sources: [{name: a, type: file, paths: [/x/*.log]}]\nsinks: [{name: s, type: stdout}]\n"
	c, err := ParseWith("m.yaml", []byte(base), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes, SkipDirCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	// 2 segments + 22MiB + 2 batches of 1MiB, twice.
	if got := c.EffectiveMemoryLimit(); got != 28*MiB {
		t.Fatalf("auto memory limit %s, want 28MiB", got)
	}
	two := "sources: [{name: a, type: file, paths: [/x/*.log]}]\nsinks: [{name: s, type: stdout}, {name: t, type: stdout, workers: 3, batch: {max_bytes: 4MiB}}]\n"
	if c, err = ParseWith("m.yaml", []byte(two), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes, SkipDirCheck: true}); err != nil {
		t.Fatal(err)
	}
	if got := c.EffectiveMemoryLimit(); got != 60*MiB {
		t.Fatalf("auto memory limit with a second sink of 4 workers and 4MiB batches: %s, want 28MiB + 32MiB", got)
	}
	c, err = ParseWith("m.yaml", []byte(base+"memory_limit: 100MiB\n"), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes, SkipDirCheck: true})
	if err != nil || c.EffectiveMemoryLimit() != 100*MiB {
		t.Fatalf("explicit memory limit: %v %v", c, err)
	}
	_, err = ParseWith("m.yaml", []byte(base+"memory_limit: 10MiB\n"), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes, SkipDirCheck: true})
	if err == nil || !strings.Contains(err.Error(), "m.yaml:3: memory_limit: must be at least 18MiB (2 * wal.segment_size + 16MiB), got 10MiB; leave it out for the automatic 28MiB") {
		t.Fatalf("too small a memory limit: %v", err)
	}
}
