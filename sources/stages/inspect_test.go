package stages

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const inspectDoc = `
- json:
    expressions: {level: level}
- multiline:
    firstline: '^\{'
- drop:
    source: level
    value: debug
- labels:
    level:
`

// An inspected pipeline reports every entry entering every top-level
// stage and the end, and every stage's return, with the Seq each entry
// keeps: a dropped entry stops at its stage, a line joined into a
// multiline block stops at the multiline stage, and the block (Seq of its
// first line) goes on from there when a first line or Flush ends it.
// The output is the same as without an Inspector.
func TestInspectReportsEachStage(t *testing.T) {
	lines := []string{
		`{"level":"info","msg":"a"}`,
		`  at x`,
		`{"level":"debug","msg":"b"}`,
		`{"level":"warn","msg":"c"}`,
	}
	run := func(inspect bool) (events []string, out []string) {
		env, c := testEnv(testNow)
		pl := mustParse(t, inspectDoc, env)
		if inspect {
			pl.Inspect(Inspector{
				Enter: func(i int, e *Entry) { events = append(events, fmt.Sprintf("enter %d %d", i, e.Seq)) },
				Leave: func(i int, e *Entry) { events = append(events, fmt.Sprintf("leave %d %d", i, e.Seq)) },
			})
		}
		next := func(e *Entry) { out = append(out, fmt.Sprintf("%d %s %q", e.Seq, e.Labels["level"], e.Line)) }
		for i, l := range lines {
			pl.Process(&Entry{Seq: uint64(i + 1), Line: l, Labels: map[string]string{"job": "x"}}, next)
		}
		pl.Flush(next)
		if c.dropped["drop_stage"] != 1 {
			t.Errorf("dropped = %v, want one drop_stage", c.dropped)
		}
		return events, out
	}
	plainEvents, plainOut := run(false)
	events, out := run(true)
	if len(plainEvents) != 0 {
		t.Fatalf("events without an Inspector: %v", plainEvents)
	}
	if !slices.Equal(out, plainOut) {
		t.Fatalf("output with an Inspector %v, without %v", out, plainOut)
	}
	want := []string{
		// line 1: a first line, held by multiline
		"enter 0 1", "enter 1 1", "leave 1 1", "leave 0 1",
		// line 2: joined into 1's block
		"enter 0 2", "enter 1 2", "leave 1 2", "leave 0 2",
		// line 3: ends block 1, which goes on and out; 3 is held
		"enter 0 3", "enter 1 3", "enter 2 1", "enter 3 1", "enter 4 1", "leave 3 1", "leave 2 1", "leave 1 3", "leave 0 3",
		// line 4: ends block 3, dropped by the drop stage (2); 4 is held
		"enter 0 4", "enter 1 4", "enter 2 3", "leave 2 3", "leave 1 4", "leave 0 4",
		// Flush: block 4 goes on from the multiline stage
		"enter 2 4", "enter 3 4", "enter 4 4", "leave 3 4", "leave 2 4",
	}
	if !slices.Equal(events, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
	wantOut := []string{`1 info "{\"level\":\"info\",\"msg\":\"a\"}\n  at x"`, `4 warn "{\"level\":\"warn\",\"msg\":\"c\"}"`}
	if !slices.Equal(out, wantOut) {
		t.Fatalf("out = %q, want %q", out, wantOut)
	}
}

// StageNames gives the stage of each index, aliases followed.
func TestStageNames(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: &j {json: {expressions: {x: x}}}\nl:\n  - *j\n  - labels: {x: }\n  - match: {selector: '{a=\"b\"}', action: drop}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	list := doc.Content[0].Content[3]
	if got := StageNames(list); !slices.Equal(got, []string{"json", "labels", "match"}) {
		t.Fatalf("StageNames = %q", got)
	}
	if got := StageNames(nil); got != nil {
		t.Fatalf("StageNames(nil) = %q", got)
	}
}
