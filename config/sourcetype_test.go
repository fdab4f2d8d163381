package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	. "github.com/logcapturer/logcapturer/config"
)

// TestSourceTypeCheck: a registered source type's Check reports at its
// keys' lines, with the config's own problems in one list sorted by line;
// a key left out is placed at its enclosing mapping, a value whose ${VAR}
// failed is not reported again, and a type nobody registered is a problem
// naming the registered ones.
func TestSourceTypeCheck(t *testing.T) {
	var checked []string
	types := []SourceType{
		{Name: "file", Check: func(s *Source, c *Check) {
			checked = append(checked, c.Name())
			if s.Multiline.Start == "(" {
				c.Problem("multiline.start", "does not compile")
			}
			if s.Timestamp.Regex != "" {
				c.Problem("timestamp.regex", "has no ts group")
			}
			if s.Multiline.MaxLines != 0 {
				c.Problem("multiline.max_wait", "is required with max_lines") // left out
			}
		}},
		{Name: "journal"}, // no Check
	}
	src := `sources:
  - name: app
    type: file
    paths: ["/var/log/**/*.log"]
    multiline:
      start: "("
      max_lines: 5
    timestamp:
      regex: ${NOPE}
  - name: j
    type: journal
  - name: d
    type: docker
sinks:
  - name: out
    type: stdout
`
	_, err := ParseWith("s.yaml", []byte(src), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: types, SkipDirCheck: true, LookupEnv: env(nil)})
	var got []string
	for _, p := range problemsOf(t, err) {
		got = append(got, p.String())
	}
	want := []string{
		`s.yaml:4: sources[0].paths[0]: "**" is not supported: patterns follow filepath.Match, where * matches within one path element, got "/var/log/**/*.log"`,
		`s.yaml:5: sources[0].multiline.max_wait: is required with max_lines`,
		`s.yaml:6: sources[0].multiline.start: does not compile`,
		`s.yaml:9: sources[0].timestamp.regex: environment variable "NOPE" is not set (give a default with ${NOPE:-default})`,
		`s.yaml:13: sources[2].type: must be file or journal, got "docker"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !reflect.DeepEqual(checked, []string{"app"}) {
		t.Errorf("Check ran for %q, want only app's", checked)
	}

	// Without a registry the built-in type names are accepted.
	if _, err := parseOnly(t, withSources("  - {name: d, type: docker}\n"), nil); err != nil {
		t.Errorf("docker without a registry: %v", err)
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
