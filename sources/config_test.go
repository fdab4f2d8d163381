package sources

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/logcapturer/logcapturer/config"
)

// TestSourceTypesPlaceProblems: the registered source types report what
// only the tailer knows (reserved labels, multiline and timestamp options)
// at their keys' lines, every problem in one run with config's own, and a
// source config accepts is one NewFile accepts.
func TestSourceTypesPlaceProblems(t *testing.T) {
	types := []config.SourceType{FileSourceType(), DockerSourceType(), CRISourceType()}
	parse := func(src string) (*config.Config, error) {
		return config.ParseWith("s.yaml", []byte(src+"sinks: [{name: out, type: stdout}]\n"),
			&config.ParseOptions{SinkTypes: []config.SinkType{{Name: "stdout"}}, SourceTypes: types, SkipDirCheck: true})
	}
	_, err := parse(`sources:
  - name: app
    type: file
    paths: ["/var/log/**.log"]
    labels: {filename: x, job: app}
    multiline:
      start: '^[0-9'
      max_lines: -1
    timestamp:
      regex: '^(\S+)'
      location: Mars/Olympus
  - name: d
    type: docker
    labels: {container_name: x, filename: y}
    timestamp: {layout: '2006'}
  - name: c
    type: cri
    timestamp: {regex: '(?P<ts>x)', json_field: ts}
`)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err %v, want a *config.Error", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`s.yaml:4: sources[0].paths[0]: "**" must be a whole path element, as in /var/log/**/*.log (inside one it would mean *), got "/var/log/**.log"`,
		`s.yaml:5: sources[0].labels.filename: "filename" is reserved: the file source sets it`,
		"s.yaml:7: sources[0].multiline.start: does not compile: error parsing regexp: missing closing ]: `[0-9`",
		`s.yaml:8: sources[0].multiline.max_lines: must not be negative, got -1`,
		`s.yaml:10: sources[0].timestamp.regex: "^(\\S+)" has no named group ts, as in (?P<ts>...)`,
		`s.yaml:11: sources[0].timestamp.location: "Mars/Olympus": unknown time zone Mars/Olympus`,
		`s.yaml:14: sources[1].labels.container_name: "container_name" is reserved: the docker source sets it`,
		`s.yaml:14: sources[1].labels.filename: "filename" is reserved: the docker source sets it`,
		`s.yaml:15: sources[1].timestamp: regex or json_field is required when layout or location is set`,
		`s.yaml:18: sources[2].timestamp: set regex or json_field, not both`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	cfg, err := parse(`sources:
  - {name: app, type: file, paths: ["/var/log/*.log"], labels: {job: app}, multiline: {start: '^\S'},
     timestamp: {regex: '^(?P<ts>\S+)', location: UTC}}
  - {name: d, type: docker, timestamp: {json_field: time}}
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.Sources {
		f, err := s.Options.(Opener).Open(Deps{Name: s.Name, Labels: s.Labels, Emitter: &recorder{t: t}})
		if err != nil {
			t.Fatalf("source %s passed config but not NewFile: %v", s.Name, err)
		}
		f.Close()
	}
}
