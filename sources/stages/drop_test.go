package stages

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDrop(t *testing.T) {
	for _, tc := range []struct {
		name, doc, line string
		age             time.Duration
		drop            bool
		reason          string
	}{
		// Loki docs, drop stage, "Simple drops": "Drop logs by source".
		{"doc source present", `
- json: {expressions: {level: level}}
- drop: {source: level}
`, `{"level":"debug"}`, 0, true, "drop_stage"},
		{"doc source absent", `
- regex: {expression: "level=(?P<level>\\w+)"}
- drop: {source: level}
`, `msg=x`, 0, false, ""},
		// "Drop logs by value".
		{"doc value", `
- json: {expressions: {level: level}}
- drop: {source: level, value: debug, drop_counter_reason: discard_debug}
`, `{"level":"debug"}`, 0, true, "discard_debug"},
		{"value matches the whole string only", `
- json: {expressions: {level: level}}
- drop: {source: level, value: debug}
`, `{"level":"debugging"}`, 0, false, ""},
		{"value matches a json number", `
- json: {expressions: {status: status}}
- drop: {source: status, value: "204"}
`, `{"status":204}`, 0, true, "drop_stage"},
		// "Drop logs by regex match of a source".
		{"doc expression on source", `
- json: {expressions: {level: level}}
- drop: {source: level, expression: "(error|ERROR)"}
`, `{"level":"ERROR"}`, 0, true, "drop_stage"},
		// "Drop logs by regex match of the line".
		{"doc expression on line", `
- drop: {expression: ".*debug.*"}
`, `a debug line`, 0, true, "drop_stage"},
		// "Drop old log lines".
		{"doc older_than", `
- drop: {older_than: 24h, drop_counter_reason: line_too_old}
`, "x", 25 * time.Hour, true, "line_too_old"},
		{"doc older_than recent", `
- drop: {older_than: 24h}
`, "x", time.Hour, false, ""},
		// "Drop long log lines".
		{"doc longer_than", `
- drop: {longer_than: 8kb, drop_counter_reason: too_long}
`, strings.Repeat("x", 8193), 0, true, "too_long"},
		{"longer_than 4KB is 4096 bytes", `
- drop: {longer_than: 4KB}
`, strings.Repeat("x", 4096), 0, false, ""},
		{"longer_than 4KB drops 4097", `
- drop: {longer_than: 4KB}
`, strings.Repeat("x", 4097), 0, true, "drop_stage"},
		// "Complex drops": every condition must hold.
		{"doc conditions are and-ed", `
- json: {expressions: {level: level}}
- drop: {source: level, value: debug, older_than: 24h}
`, `{"level":"debug"}`, time.Hour, false, ""},
		// Multiple sources: only those present are joined.
		{"doc multiple sources", `
- regex: {expression: "a=(?P<a>\\d+)"}
- regex: {expression: "b=(?P<b>\\d+)"}
- regex: {expression: "c=(?P<c>\\d+)"}
- drop: {source: [a, b, c], separator: "#", expression: "^1#3$"}
`, `a=1 c=3`, 0, true, "drop_stage"},
		// A json expression that finds nothing extracts nil (Promtail), and
		// a nil source stops the drop.
		{"json missing field is present as nil", `
- json: {expressions: {a: a, b: b}}
- drop: {source: [a, b], expression: "^1$"}
`, `{"a":1}`, 0, false, ""},
		{"multiple sources, all absent", `
- drop: {source: [x, y], expression: "^$"}
`, `line`, 0, true, "drop_stage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, c := testEnv(testNow)
			pl := mustParse(t, tc.doc, env)
			e := &Entry{Seq: 1, Time: testNow.Add(-tc.age), Line: tc.line}
			out := 0
			pl.Process(e, func(*Entry) { out++ })
			if (out == 0) != tc.drop {
				t.Fatalf("dropped = %v, want %v", out == 0, tc.drop)
			}
			if tc.drop && c.dropped[tc.reason] != 1 {
				t.Errorf("dropped counts %v, want %s", c.dropped, tc.reason)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int{"4KB": 4096, "4kb": 4096, "1MB": 1 << 20, "100": 100, "2K": 2048, "1GiB": 1 << 30} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "KB", "4XB", "-1"} {
		if _, err := parseByteSize(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestDropValueWeak: Promtail decodes the drop stage's options with
// mapstructure.WeakDecode, so value: true is "1" and value: 1.0 is "1";
// the same config keeps and drops the same entries here. Found by a
// reviewer against Promtail's drop.go.
func TestDropValueWeak(t *testing.T) {
	r, _ := runOne(t, "- json: {expressions: {debug: debug}}\n- drop: {source: debug, value: true}\n", `{"debug":"true"}`, nil)
	if r.Dropped {
		t.Errorf("value: true dropped debug=\"true\": Promtail's value is \"1\"")
	}
	r, _ = runOne(t, "- json: {expressions: {debug: debug}}\n- drop: {source: debug, value: true}\n", `{"debug":"1"}`, nil)
	if !r.Dropped {
		t.Errorf("value: true kept debug=\"1\"")
	}
	// Promtail reads its config as YAML 1.1 (yaml.v2): yes is a boolean.
	r, _ = runOne(t, "- json: {expressions: {debug: debug}}\n- drop: {source: debug, value: yes}\n", `{"debug":"1"}`, nil)
	if !r.Dropped {
		t.Errorf("value: yes kept debug=\"1\"")
	}
	r, _ = runOne(t, "- json: {expressions: {code: code}}\n- drop: {source: code, value: 1.0}\n", `{"code":1}`, nil)
	if !r.Dropped {
		t.Errorf("value: 1.0 kept code=1: Promtail's value is \"1\"")
	}
	r, _ = runOne(t, "- json: {expressions: {code: code}}\n- drop: {source: code, value: \"1.0\"}\n", `{"code":1}`, nil)
	if r.Dropped {
		t.Errorf("value: \"1.0\" (a string) dropped code=1")
	}
}

// TestWeaklyTypedOptions: the options Promtail decodes weakly take quoted
// numbers and booleans, and a single string for a list.
func TestWeaklyTypedOptions(t *testing.T) {
	env, _ := testEnv(testNow)
	for name, doc := range map[string]string{
		"limit quoted":      `[{limit: {rate: "10", burst: "20", drop: "true"}}]`,
		"multiline quoted":  `[{multiline: {firstline: "^x", max_lines: "50"}}]`,
		"pack single label": `[{pack: {labels: app}}]`,
		"pack quoted bool":  `[{pack: {labels: [app], ingest_timestamp: "false"}}]`,
		"sampling quoted":   `[{sampling: {rate: "0.5"}}]`,
		"cri quoted":        `[{cri: {max_partial_lines: "200"}}]`,
		"cri empty":         `[{cri: {max_partial_lines: ""}}]`,
		"sampling empty":    `[{sampling: {rate: ""}}]`,
		"pack yes":          `[{pack: {labels: [app], ingest_timestamp: yes}}]`,
	} {
		if _, ps := parseYAML(t, doc, env); len(ps) > 0 {
			t.Errorf("%s: refused: %v", name, ps)
		}
	}
	// Strict stages stay strict, and what does not convert is refused.
	for name, doc := range map[string]string{
		"limit word":      `[{limit: {rate: "ten"}}]`,
		"regex no string": `[{regex: {expression: [a]}}]`,
	} {
		if _, ps := parseYAML(t, doc, env); len(ps) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	// The elements of a list are converted too (yaml.v2 reads yes as a
	// boolean, WeakDecode writes it "1").
	p, ps := parseYAML(t, `[{pack: {labels: [yes, 1.0, app]}}]`, env)
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if got := p.stages[0].(*packStage).labels; !slices.Equal(got, []string{"1", "1", "app"}) && !slices.Equal(got, []string{"1", "app"}) {
		t.Errorf("pack labels %q", got)
	}
	r, _ := runOne(t, "- pack: {labels: app}\n", "line", map[string]string{"app": "web", "job": "x"})
	if r.Labels["app"] != "" || !strings.Contains(r.Line, `"app":"web"`) {
		t.Errorf("pack with a single label: %+v", r)
	}
}
