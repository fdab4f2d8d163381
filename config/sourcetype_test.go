package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	. "github.com/logcapturer/logcapturer/config"
)

// journalOpts is a test source type's options: a nested mapping, a
// default, and a Check that reports at a key, at a key left out, and at a
// line it found itself in pipeline_stages.
type journalOpts struct {
	Path    string   `yaml:"path"`
	Matches []string `yaml:"matches"`
	Max     struct {
		Age Duration `yaml:"age"`
	} `yaml:"max"`
	checked []string
}

func (o *journalOpts) Check(c *Check) {
	if o.Path == "/bad" {
		c.Problem("path", "is bad")
	}
	if len(o.Matches) > 0 && o.Max.Age == 0 {
		c.Problem("max.age", "is required with matches") // left out: at the entry's line
	}
	if n := c.PipelineStages(); n != nil {
		for i, st := range n.Content {
			if st.Kind != yaml.MappingNode {
				c.ProblemAt(st.Line, "pipeline_stages["+strconv.Itoa(i)+"]", "is not a stage")
			}
		}
	}
	if c.Labels()["job"] == "reserved" {
		c.Problem("labels.job", "is reserved")
	}
}

// TestSourceTypeCheck: a registered source type owns the keys of its
// entries besides the common ones: they are decoded into its options by
// yaml tag (defaults kept), unknown keys are problems with a hint or the
// types that have them, its Check reports at its keys' lines (or at a line
// it knows, ProblemAt) in one list sorted by line with config's own
// problems; pipeline_stages is kept as a list node; a type nobody
// registered is a problem naming the registered ones.
func TestSourceTypeCheck(t *testing.T) {
	types := []SourceType{
		{Name: "journal", New: func() SourceConfig { return &journalOpts{Path: "/var/log/journal"} }},
		{Name: "push"}, // no options
		{Name: "lines", New: func() SourceConfig { return &pathOnly{} }},
	}
	src := `sources:
  - name: j
    type: journal
    matches: [a]
    labels: {job: reserved}
    pipeline_stages:
      - regex: {expression: x}
      - 5
  - name: k
    type: journal
    path: /bad
    pathz: 1
    max: {age: 1m, size: 2}
  - name: l
    type: lines
    matches: [x]
  - name: d
    type: docker
  - name: e
    type: journal
    pipeline_stages: {regex: x}
sinks:
  - name: out
    type: stdout
`
	c, err := ParseWith("s.yaml", []byte(src), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: types, SkipDirCheck: true, LookupEnv: env(nil)})
	var got []string
	for _, p := range problemsOf(t, err) {
		got = append(got, p.String())
	}
	want := []string{
		`s.yaml:2: sources[0].max.age: is required with matches`,
		`s.yaml:5: sources[0].labels.job: is reserved`,
		`s.yaml:8: sources[0].pipeline_stages[1]: is not a stage`,
		`s.yaml:11: sources[1].path: is bad`,
		`s.yaml:12: sources[1]: unknown key "pathz"; did you mean "path"?`,
		`s.yaml:13: sources[1].max: unknown key "size"`,
		`s.yaml:16: sources[2].matches: must not be set for a lines source; it is a key of journal sources`,
		`s.yaml:18: sources[3].type: must be journal, push or lines, got "docker"`,
		`s.yaml:21: sources[4].pipeline_stages: must be a list, got a mapping`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c != nil {
		t.Fatal("a config with problems was returned")
	}

	// A good one: options decoded over their defaults, stages kept as
	// written.
	c, err = ParseWith("s.yaml", []byte(`sources:
  - name: j
    type: journal
    matches: [a, b]
    max: {age: 1m}
    pipeline_stages:
      - match: {selector: '{a="b"}'}
sinks:
  - name: out
    type: stdout
`), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: types, SkipDirCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	o, ok := c.Sources[0].Options.(*journalOpts)
	if !ok || o.Path != "/var/log/journal" || !reflect.DeepEqual(o.Matches, []string{"a", "b"}) || o.Max.Age != Duration(time.Minute) {
		t.Errorf("options %+v", c.Sources[0].Options)
	}
	st := c.Sources[0].PipelineStages
	if st == nil || st.Kind != yaml.SequenceNode || st.Line != 7 || len(st.Content) != 1 {
		t.Fatalf("pipeline_stages %+v, want the list at line 7", st)
	}

	// Without a registry any type is accepted and its keys are left alone.
	c, err = parseOnlyNoSources(t, withSources("  - {name: d, type: journald, path: /x}\n"))
	if err != nil {
		t.Fatalf("without a registry: %v", err)
	}
	if c.Sources[0].Options != nil || c.Sources[0].Type != "journald" {
		t.Errorf("without a registry: %+v", c.Sources[0])
	}
}

type pathOnly struct {
	Path string `yaml:"path"`
}

func (*pathOnly) Check(*Check) {}

func parseOnlyNoSources(t *testing.T, src string) (*Config, error) {
	t.Helper()
	return ParseWith("t.yaml", []byte(src), &ParseOptions{SinkTypes: sinkTypes, SkipDirCheck: true})
}

// TestSourceEqual: Equal compares options by value and pipeline_stages by
// content, not by where the file has them, so a reload restarts only
// sources that changed.
func TestSourceEqual(t *testing.T) {
	parse := func(src string) *Config {
		t.Helper()
		c, err := ParseWith("e.yaml", []byte(src+"sinks: [{name: out, type: stdout}]\n"),
			&ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes, SkipDirCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := parse("sources:\n  - name: a\n    type: file\n    paths: [/a]\n    pipeline_stages:\n      - regex: {expression: x}\n")
	moved := parse("# a comment moves every line\n\nsources:\n  - name: a\n    type: file\n    paths: [/a]\n    pipeline_stages: [{regex: {expression: x}}]\n")
	if !base.Sources[0].Equal(&moved.Sources[0]) {
		t.Error("the same source, moved in the file, is not Equal")
	}
	for name, src := range map[string]string{
		"option":  "sources:\n  - name: a\n    type: file\n    paths: [/b]\n    pipeline_stages:\n      - regex: {expression: x}\n",
		"default": "sources:\n  - name: a\n    type: file\n    paths: [/a]\n    max_line_bytes: 1MiB\n    pipeline_stages:\n      - regex: {expression: x}\n",
		"stage":   "sources:\n  - name: a\n    type: file\n    paths: [/a]\n    pipeline_stages:\n      - regex: {expression: y}\n",
		"type":    "sources:\n  - name: a\n    type: docker\n    paths: [/a]\n    pipeline_stages:\n      - regex: {expression: x}\n",
		"labels":  "sources:\n  - name: a\n    type: file\n    paths: [/a]\n    labels: {a: b}\n    pipeline_stages:\n      - regex: {expression: x}\n",
		"nostage": "sources:\n  - name: a\n    type: file\n    paths: [/a]\n",
	} {
		if c := parse(src); base.Sources[0].Equal(&c.Sources[0]) {
			t.Errorf("%s changed, yet Equal", name)
		}
	}
}

// TestAdminTokenFile: with CheckFiles (check) or CheckTokenFile (run),
// admin.token_file must be readable and not empty, as run requires at
// start, and each problem is at its line; without them, or with the admin
// server off, the file is not read.
func TestAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	good, empty, missing := filepath.Join(dir, "good"), filepath.Join(dir, "empty"), filepath.Join(dir, "missing")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	os.WriteFile(empty, []byte(" \n"), 0o600)
	parse := func(listen, file string, opts ParseOptions) error {
		opts.SinkTypes, opts.SkipDirCheck = sinkTypes, true
		_, err := ParseWith("a.yaml", []byte(minimal+"admin:\n  listen: \""+listen+"\"\n  token_file: "+file+"\n"), &opts)
		return err
	}
	for _, opts := range []ParseOptions{{CheckFiles: true}, {CheckTokenFile: true}} {
		if err := parse("127.0.0.1:0", good, opts); err != nil {
			t.Errorf("%+v: good token file: %v", opts, err)
		}
		for file, msg := range map[string]string{
			missing: "cannot be read: open " + missing + ": no such file or directory",
			empty:   empty + " is empty; it must hold the bearer token",
		} {
			ps := problemsOf(t, parse("127.0.0.1:0", file, opts))
			if len(ps) != 1 || ps[0].Line != 12 || ps[0].Key != "admin.token_file" || ps[0].Msg != msg {
				t.Errorf("%+v: %s: %v, want line 12 admin.token_file: %s", opts, file, ps, msg)
			}
		}
		if err := parse("", missing, opts); err != nil {
			t.Errorf("%+v: admin off, token file not read: %v", opts, err)
		}
	}
	if err := parse("127.0.0.1:0", missing, ParseOptions{}); err != nil {
		t.Errorf("without file checks: %v", err)
	}
}
