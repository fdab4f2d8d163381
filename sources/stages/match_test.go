package stages

import "testing"

// The Loki docs' match stage "Example" pipeline.
const matchDoc = `
- json:
    expressions:
      app:
- labels:
    app:
- match:
    selector: '{app="loki"}'
    stages:
    - json:
        expressions:
          msg: message
- match:
    pipeline_name: "app2"
    selector: '{app="pokey"}'
    action: keep
    stages:
    - json:
        expressions:
          msg: msg
- match:
    selector: '{app="promtail"} |~ ".*noisy error.*"'
    action: drop
    drop_counter_reason: promtail_noisy_error
- output:
    source: msg
`

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		name, line, wantLine string
		dropped              string
	}{
		// Loki docs, match stage, "Example": the loki app's message.
		{"doc loki", `{ "time":"2012-11-01T22:08:41+00:00", "app":"loki", "component": ["parser","type"], "level" : "WARN", "message" : "app1 log line" }`, "app1 log line", ""},
		{"doc pokey", `{ "time":"2012-11-01T22:08:41+00:00", "app":"pokey", "component": ["parser","type"], "level" : "ERROR", "msg" : "app2 log line" }`, "app2 log line", ""},
		{"doc promtail noisy", `{ "time":"2012-11-01T22:08:41+00:00", "app":"promtail", "component": ["parser","type"], "level" : "ERROR", "msg" : "noisy error" }`, "", "promtail_noisy_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := runOne(t, matchDoc, tc.line, nil)
			if tc.dropped != "" {
				if !r.Dropped || c.dropped[tc.dropped] != 1 {
					t.Fatalf("not dropped as %s: %+v %v", tc.dropped, r, c.dropped)
				}
				return
			}
			if r.Line != tc.wantLine {
				t.Errorf("line = %q, want %q", r.Line, tc.wantLine)
			}
		})
	}
}

// A nested pipeline sees the labels in its extracted map, including labels
// set after the outer pipeline began (Promtail copies them at its start),
// and keeps what the outer stages extracted.
func TestMatchNestedExtracted(t *testing.T) {
	r, _ := runOne(t, `
- regex: {expression: "(?P<x>\\w+)"}
- static_labels: {env: prod}
- match:
    selector: '{env="prod"}'
    stages:
    - template: {source: out, template: '{{ .env }}-{{ .x }}-{{ .job }}'}
`, "hello", map[string]string{"job": "j"})
	checkExtracted(t, r.Extracted, map[string]any{"out": "prod-hello-j"})
}

func TestSelector(t *testing.T) {
	labels := map[string]string{"app": "api", "level": "warn"}
	for _, tc := range []struct {
		sel, line string
		want      bool
	}{
		{`{app="api"}`, "x", true},
		{`{app="web"}`, "x", false},
		{`{app="api", level!="web"}`, "x", true},
		{`{app=~"a.i"}`, "x", true},
		{`{app=~"a"}`, "x", false}, // anchored
		{`{app!~"w.*", level=~"warn|error"}`, "x", true},
		{`{app="api", missing=""}`, "x", true},
		{`{ app = "api" } |= "time" != "retry"`, "timeout", true},
		{`{app="api"} |= "time" != "retry"`, "timeout, retry", false},
		{`{app="api"} |~ "code=5\\d\\d"`, "a code=503 b", true},
		{"{app=\"api\"} |~ `code=5\\d\\d`", "code=404", false},
		{`{app="api"} !~ "^debug"`, "debug x", false},
		{`{app="api"} |= "a" or "b"`, "xbx", true},
		{`{app="api"} != "a" or "b"`, "xbx", false},
	} {
		s, err := ParseSelector(tc.sel)
		if err != nil {
			t.Errorf("%s: %v", tc.sel, err)
			continue
		}
		if got := s.Matches(labels, tc.line); got != tc.want {
			t.Errorf("%s on %q = %v, want %v", tc.sel, tc.line, got, tc.want)
		}
	}
	for _, bad := range []string{``, `app="x"`, `{}`, `{app}`, `{app="x"`, `{app=x}`, `{app=~"("}`, `{a=""}`, `{app="x"} | json`, `{app="x"} |= `, `{app="x"} |~ "("`, `{app="x\q"}`} {
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
