package stages

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// parseYAML parses doc (a pipeline_stages list) with env.
func parseYAML(t testing.TB, doc string, env Env) (*Pipeline, []Problem) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	var n *yaml.Node
	if len(root.Content) > 0 {
		n = root.Content[0]
	}
	return Parse(n, env)
}

// mustParse parses doc and fails the test on problems.
func mustParse(t testing.TB, doc string, env Env) *Pipeline {
	t.Helper()
	pl, ps := parseYAML(t, doc, env)
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	return pl
}

func TestParseProblems(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []Problem // Msg is a substring
	}{
		{"unknown stage", `
- regex: {expression: "(?P<a>.)"}
- jsn: {expressions: {a: ""}}
`, []Problem{{Key: "[1].jsn", Line: 3, Msg: `unknown stage "jsn" (did you mean "json"?)`}}},
		{"key of another stage", `
- json:
    expressions: {a: ""}
    expression: "x"
`, []Problem{{Key: "[0].json.expression", Line: 4, Msg: "it is a key of the drop, regex, replace stage"}}},
		{"option key as a stage", `
- json:
    expressions: {a: ""}
- source: x
`, []Problem{{Key: "[1].source", Line: 4, Msg: `"source" is a key of the drop, geoip, json, logfmt, output, regex, replace, template, tenant, timestamp stage`}}},
		{"stage inside options", `
- match:
    selector: '{a="b"}'
    stages: [ {labels: {a: ""}} ]
    regex: {expression: "x"}
`, []Problem{{Key: "[0].match.regex", Line: 5, Msg: "regex is a stage"}}},
		{"mapping where a list is expected", `
regex: {expression: "x"}
`, []Problem{{Key: "", Line: 2, Msg: "must be a list of stages, got a mapping (write each stage as a list item"}}},
		{"nested stages not a list", `
- match:
    selector: '{a="b"}'
    stages:
      labels: {a: ""}
`, []Problem{{Key: "[0].match.stages", Line: 5, Msg: "must be a list of stages, got a mapping"}}},
		{"two stages in one item", `
- regex: {expression: "x"}
  labels: {a: ""}
`, []Problem{{Key: "[0]", Line: 2, Msg: "one stage per list item, got 2 keys (regex, labels)"}}},
		{"bare stage name", `
- decolorize
`, []Problem{{Key: "[0]", Line: 2, Msg: `write "- decolorize: {}"`}}},
		{"eventlogmessage", `
- eventlogmessage: {}
`, []Problem{{Key: "[0].eventlogmessage", Line: 2, Msg: "the eventlogmessage stage is not supported"}}},
		{"bad regex", `
- regex:
    expression: "(?P<a>"
`, []Problem{{Key: "[0].regex.expression", Line: 3, Msg: "does not compile"}}},
		{"bad jmespath", `
- json:
    expressions:
      a: "b.[["
`, []Problem{{Key: "[0].json.expressions.a", Line: 4, Msg: "does not compile"}}},
		{"bad template", `
- template: {source: a, template: "{{ .x "}
`, []Problem{{Key: "[0].template.template", Line: 2, Msg: "does not parse"}}},
		{"bad selector nested", `
- match:
    selector: '{a="b"}'
    stages:
    - match:
        selector: '{a=b}'
        action: drop
`, []Problem{{Key: "[0].match.stages[0].match.selector", Line: 6, Msg: "expected a quoted string"}}},
		{"wrong shape", `
- regex:
    expression: [a, b]
`, []Problem{{Key: "[0].regex.expression", Line: 3, Msg: "cannot decode !!seq"}}},
		{"options not a mapping", `
- regex: "x"
`, []Problem{{Key: "[0].regex", Line: 2, Msg: "options must be a mapping"}}},
		{"metric without config", `
- metrics:
    lines_total:
      type: Counter
      description: x
`, []Problem{{Key: "[0].metrics.lines_total.config", Line: 3, Msg: "is required: a counter needs config.action (inc or add)"}}},
		{"histogram without config", `
- metrics:
    latency:
      type: Histogram
      description: x
      source: d
- jsn: {}
`, []Problem{{Key: "[1].jsn", Line: 7, Msg: "unknown stage"}}}, // the histogram is fine: Prometheus's default buckets, as Promtail
		{"bad label name", `
- labels: {"a-b": ""}
`, []Problem{{Key: "[0].labels.a-b", Line: 2, Msg: "invalid label name"}}},
		{"tenant two sources", `
- tenant: {source: a, value: b}
`, []Problem{{Key: "[0].tenant", Line: 2, Msg: "exactly one of source, label or value"}}},
		{"drop empty", `
- drop: {}
`, []Problem{{Key: "[0].drop", Line: 2, Msg: "at least one of"}}},
		{"drop value and expression", `
- drop: {source: a, value: b, expression: c}
`, []Problem{{Key: "[0].drop.value", Line: 2, Msg: "cannot both"}}},
		{"match keep without stages", `
- match: {selector: '{a="b"}'}
`, []Problem{{Key: "[0].match.stages", Line: 2, Msg: "needs stages"}}},
		{"match empty-matching selector", `
- match: {selector: '{a=~".*"}', action: drop}
`, []Problem{{Key: "[0].match.selector", Line: 2, Msg: "at least one matcher"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, ps := parseYAML(t, tc.doc, Env{})
			if pl != nil {
				t.Errorf("got a pipeline despite problems")
			}
			if len(ps) != len(tc.want) {
				t.Fatalf("got %d problems %v, want %d", len(ps), ps, len(tc.want))
			}
			for i, w := range tc.want {
				g := ps[i]
				if g.Key != w.Key || g.Line != w.Line || !strings.Contains(g.Msg, w.Msg) {
					t.Errorf("problem %d = %+v, want key %q line %d msg containing %q", i, g, w.Key, w.Line, w.Msg)
				}
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, doc := range []string{"", "[]", "~"} {
		pl, ps := parseYAML(t, doc, Env{})
		if len(ps) > 0 || pl == nil || pl.Len() != 0 {
			t.Errorf("%q: pipeline %v, problems %v", doc, pl, ps)
		}
	}
}
