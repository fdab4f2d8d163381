package lokipush

import (
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sources"
)

// stagesNode is a pipeline_stages list as config hands it to a source.
func stagesNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// newStagedEnv is newEnv with pipeline_stages and a relabel hook.
func newStagedEnv(t *testing.T, stages string, relabel func(map[string]string) bool) *env {
	t.Helper()
	c := NewConfig()
	c.UseIncomingTimestamp = true
	n := stagesNode(t, stages)
	return newEnv(t, c, map[string]string{"job": "push"}, pipeline.Options{}, nil, func(d *sources.Deps) {
		d.PipelineStages, d.Relabel = n, relabel
	})
}

// walLines returns the lines of the durable WAL's entries (no wait: what
// a 204 promised must be there already). Labels are checked at the sink:
// the WAL view shows the block's labels only.
func walLines(t *testing.T, p *pipeline.Pipeline) []string {
	t.Helper()
	es, err := p.WALEntries(1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Line)
	}
	return out
}

// TestPipelineStagesShapeWhatIsDurable: json + labels + drop + output
// change what enters the WAL, the pushed "__" labels reach the relabel
// hook and no further, and the answer (204) comes only once every entry
// the stages kept is durable.
func TestPipelineStagesShapeWhatIsDurable(t *testing.T) {
	var seen []map[string]string
	e := newStagedEnv(t, `
- json: {expressions: {level: level, msg: msg}}
- labels: {level: ""}
- drop: {source: level, value: debug}
- output: {source: msg}
`, func(l map[string]string) bool {
		seen = append(seen, maps.Clone(l))
		l["from_hidden"] = l["__hidden"]
		return true
	})
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	req := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a", __hidden="h"}`, Entries: []push.Entry{
		{Timestamp: t0, Line: `{"level":"info","msg":"one"}`},
		{Timestamp: t0.Add(1), Line: `{"level":"debug","msg":"noise"}`},
		{Timestamp: t0.Add(2), Line: `{"level":"error","msg":"two"}`},
	}}}}
	if a := pushProto(t, e.url, req); a.code != http.StatusNoContent {
		t.Fatalf("push: %d %q", a.code, a.body)
	}
	if got, want := walLines(t, e.p), []string{"one", "two"}; !slices.Equal(got, want) {
		t.Fatalf("WAL after 204:\n got %q\nwant %q", got, want)
	}
	waitFor(t, "2 entries at the sink", func() bool { return len(e.sink.all()) == 2 })
	for i, lv := range []string{"info", "error"} {
		if g, w := e.sink.all()[i].Labels, l("app", "a", "from_hidden", "h", "job", "push", "level", lv); !slices.Equal(g, w) {
			t.Errorf("entry %d labels %v, want %v", i, g, w)
		}
	}
	if len(seen) != 3 || seen[0]["__hidden"] != "h" || seen[0]["app"] != "a" {
		t.Fatalf("relabel hook saw %v", seen)
	}
}

// TestHoldingStagesFlushedPerPush: a multiline stage never holds an entry
// past its push (the push has no position to read it again from): the
// last block of a push is in the WAL when the push is answered, and a
// continuation line in the next push is an entry of its own.
func TestHoldingStagesFlushedPerPush(t *testing.T) {
	e := newStagedEnv(t, `
- multiline: {firstline: '^start', max_wait_time: 1h}
`, nil)
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	one := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`, Entries: []push.Entry{
		{Timestamp: t0, Line: "start 1"}, {Timestamp: t0.Add(1), Line: "  more"}, {Timestamp: t0.Add(2), Line: "start 2"},
	}}}}
	if a := pushProto(t, e.url, one); a.code != http.StatusNoContent {
		t.Fatalf("push: %d %q", a.code, a.body)
	}
	want := []string{"start 1\n  more", "start 2"}
	if got := walLines(t, e.p); !slices.Equal(got, want) {
		t.Fatalf("WAL after the first 204:\n got %q\nwant %q", got, want)
	}
	two := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`, Entries: []push.Entry{{Timestamp: t0.Add(3), Line: "  tail"}}}}}
	if a := pushProto(t, e.url, two); a.code != http.StatusNoContent {
		t.Fatalf("push: %d %q", a.code, a.body)
	}
	want = append(want, "  tail")
	if got := walLines(t, e.p); !slices.Equal(got, want) {
		t.Fatalf("WAL after the second 204:\n got %q\nwant %q", got, want)
	}
}
