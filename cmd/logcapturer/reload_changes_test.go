package main

import (
	"reflect"
	"testing"

	"github.com/logcapturer/logcapturer/config"
)

// TestDescribeChangesSeesSourceOptions: a reload tells a change of a
// source's type-owned options (and of its pipeline_stages) from a config
// that only moved in the file; the options live behind an interface, so a
// pointer comparison would see every reload as a change, and a shallow one
// none.
func TestDescribeChangesSeesSourceOptions(t *testing.T) {
	parse := func(src string) *config.Config {
		t.Helper()
		cfg, err := config.ParseWith("r.yaml", []byte(src+"sinks: [{name: out, type: stdout}]\n"),
			&config.ParseOptions{SinkTypes: sinkTypes(), SourceTypes: sourceTypes(), SkipDirCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	old := parse("sources:\n  - {name: app, type: file, paths: [/a.log], multiline: {start: x}, pipeline_stages: [{static_labels: {x: a}}]}\n")
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"same, moved", "# moved\n\nsources:\n  - name: app\n    type: file\n    paths: [/a.log]\n    multiline: {start: x}\n    pipeline_stages:\n      - static_labels: {x: a}\n", nil},
		{"paths", "sources:\n  - {name: app, type: file, paths: [/b.log], multiline: {start: x}, pipeline_stages: [{static_labels: {x: a}}]}\n", []string{"sources changed app"}},
		{"nested option", "sources:\n  - {name: app, type: file, paths: [/a.log], multiline: {start: y}, pipeline_stages: [{static_labels: {x: a}}]}\n", []string{"sources changed app"}},
		{"stages", "sources:\n  - {name: app, type: file, paths: [/a.log], multiline: {start: x}, pipeline_stages: [{static_labels: {x: b}}]}\n", []string{"sources changed app"}},
		{"no stages", "sources:\n  - {name: app, type: file, paths: [/a.log], multiline: {start: x}}\n", []string{"sources changed app"}},
	} {
		if got := describeChanges(old, parse(tc.src)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: changes %q, want %q", tc.name, got, tc.want)
		}
	}
}
