package sources

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/internal/mmdbtest"
	"github.com/logcapturer/logcapturer/wal"
)

// stagesNode parses a pipeline_stages list.
func stagesNode(t testing.TB, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

type warnRecorder struct{ on map[string]string }

func (c *warnRecorder) SetSourceCondition(source, reason string, on bool, detail string) {
	if c.on == nil {
		c.on = map[string]string{}
	}
	if on {
		c.on[source+"/"+reason] = detail
	} else {
		delete(c.on, source+"/"+reason)
	}
}

func newTestRunner(t *testing.T, stages string, o StageOptions) (*StageRunner, *prometheus.Registry, *warnRecorder) {
	t.Helper()
	reg := prometheus.NewRegistry()
	conds := &warnRecorder{}
	r, err := NewStageRunner(Deps{Name: "app", Registerer: reg, PipelineStages: stagesNode(t, stages), Conditions: conds}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, reg, conds
}

// feed hands lines to s as consecutive lines of a file from offset off
// (each line and its newline), and returns the offset after them.
func feed(r *StageRunner, s *StageStream, off int64, lines ...string) int64 {
	for _, l := range lines {
		end := off + int64(len(l)) + 1
		r.Add(s, &StageInput{Time: 1, Line: []byte(l), Start: wal.Position{Offset: off}, End: wal.Position{Offset: end}})
		off = end
	}
	return off
}

func pendingLines(s *StageStream) []string {
	es, _, _, _ := s.Pending()
	var out []string
	for _, e := range es {
		out = append(out, string(e.Line))
	}
	return out
}

// TestStageRunnerPositions: two files interleaved through a multiline and
// a drop stage. While a block of file a is under way, its position is the
// block's first line and file b's entries wait behind it (b's position is
// its first waiting line); a dropped line is covered by the position; a
// Flush hands everything on and positions reach the read offsets.
func TestStageRunnerPositions(t *testing.T) {
	r, reg, _ := newTestRunner(t, `
- multiline: {firstline: '^START', max_wait_time: 1h}
- drop: {expression: DROP}
`, StageOptions{})
	a := r.NewStream([]wal.Label{{Name: "filename", Value: "a"}}, wal.Position{}, "a")
	b := r.NewStream([]wal.Label{{Name: "filename", Value: "b"}}, wal.Position{}, "b")

	offA := feed(r, a, 0, "START a1") // 0..9: a block starts
	offB := feed(r, b, 0, "b1")       // 0..3: waits behind a's block
	if p := a.Position(); p.Offset != 0 {
		t.Fatalf("a's position %d while its block is under way, want 0", p.Offset)
	}
	if p := b.Position(); p.Offset != 0 {
		t.Fatalf("b's position %d while its line waits, want 0", p.Offset)
	}
	offA = feed(r, a, offA, " cont")  // 9..15
	offB = feed(r, b, offB, "DROP b") // 3..10: dropped, waits for nothing
	if got := r.Dirty(); len(got) != 0 {
		t.Fatalf("streams with entries while a block is under way: %d", len(got))
	}
	startA2 := offA
	offA = feed(r, a, offA, "START a2") // ends a's first block, starts one
	startB3 := offB
	offB = feed(r, b, offB, "b3") // waits behind a's second block

	dirty := r.Dirty()
	if len(dirty) != 2 || dirty[0] != a || dirty[1] != b {
		t.Fatalf("dirty streams %v, want a then b", dirty)
	}
	if got, want := pendingLines(a), []string{"START a1\n cont"}; !slices.Equal(got, want) {
		t.Fatalf("a's entries %q, want %q", got, want)
	}
	if got, want := pendingLines(b), []string{"b1"}; !slices.Equal(got, want) {
		t.Fatalf("b's entries %q, want %q", got, want)
	}
	// a's position is the start of its block under way; b's is its first
	// line waiting behind it: the dropped line before it is covered.
	if _, _, p, _ := a.Pending(); p.Offset != startA2 {
		t.Errorf("a's position %d, want %d (its held block)", p.Offset, startA2)
	}
	if _, _, p, _ := b.Pending(); p.Offset != startB3 {
		t.Errorf("b's position %d, want %d (its waiting line)", p.Offset, startB3)
	}
	a.Emitted(a.Position())
	b.Emitted(b.Position())
	if _, _, _, ok := a.Pending(); ok {
		t.Error("a has something to record right after Emitted")
	}

	r.Flush()
	if got, want := pendingLines(a), []string{"START a2"}; !slices.Equal(got, want) {
		t.Fatalf("a after Flush: %q, want %q", got, want)
	}
	if got, want := pendingLines(b), []string{"b3"}; !slices.Equal(got, want) {
		t.Fatalf("b after Flush: %q, want %q", got, want)
	}
	if p := a.Position(); p.Offset != offA {
		t.Errorf("a's position after Flush %d, want the read offset %d", p.Offset, offA)
	}
	if p := b.Position(); p.Offset != offB {
		t.Errorf("b's position after Flush %d, want the read offset %d", p.Offset, offB)
	}
	if r.Holding() || len(r.marks) != 0 {
		t.Errorf("holding %v with %d marks after Flush", r.Holding(), len(r.marks))
	}
	if v := testutil.ToFloat64(r.m.dropCounter.WithLabelValues("drop_stage")); v != 1 {
		t.Errorf("drop_stage drops %v, want 1", v)
	}
	if n, err := testutil.GatherAndCount(reg, "logcapturer_pipeline_entries_dropped_total"); err != nil || n == 0 {
		t.Errorf("dropped counter not registered: %d %v", n, err)
	}
}

// TestStageRunnerTickReleases: a block under way is handed on by Tick
// after max_wait_time, and the position then reaches the read offset.
func TestStageRunnerTickReleases(t *testing.T) {
	r, _, _ := newTestRunner(t, `
- multiline: {firstline: '^START', max_wait_time: 1s}
`, StageOptions{})
	a := r.NewStream(nil, wal.Position{}, nil)
	end := feed(r, a, 0, "START", "x")
	if p := a.Position(); p.Offset != 0 {
		t.Fatalf("position %d, want 0", p.Offset)
	}
	r.Tick(time.Now().Add(2 * time.Second))
	if got := pendingLines(a); !slices.Equal(got, []string{"START\nx"}) {
		t.Fatalf("entries after Tick %q", got)
	}
	if p := a.Position(); p.Offset != end {
		t.Fatalf("position %d after Tick, want %d", p.Offset, end)
	}
}

// TestStageRunnerLabelsAndMetadata: an entry whose labels differ from its
// stream's carries its whole set (sorted, tenant included); an entry with
// the stream's set carries none; metadata is sorted.
func TestStageRunnerLabelsAndMetadata(t *testing.T) {
	r, _, _ := newTestRunner(t, `
- json: {expressions: {level: level, trace: trace, team: team}}
- labels: {level: ""}
- structured_metadata: {trace: "", filename: ""}
- tenant: {source: team}
`, StageOptions{})
	s := r.NewStream([]wal.Label{{Name: "job", Value: "app"}, {Name: "filename", Value: "/x.log"}}, wal.Position{}, nil)
	feed(r, s, 0, `{"level":"warn","trace":"t1","team":"a"}`, `not json`, `{"level":"warn","trace":"t2"}`)
	es, _, _, _ := s.Pending()
	if len(es) != 3 {
		t.Fatalf("%d entries, want 3", len(es))
	}
	want0 := []wal.Label{{Name: wal.TenantLabel, Value: "a"}, {Name: "job", Value: "app"}, {Name: "level", Value: "warn"}}
	if !slices.Equal(es[0].Labels, want0) {
		t.Errorf("labels %v, want %v", es[0].Labels, want0)
	}
	wantMeta := []wal.Label{{Name: "filename", Value: "/x.log"}, {Name: "trace", Value: "t1"}}
	if !slices.Equal(es[0].Metadata, wantMeta) {
		t.Errorf("metadata %v, want %v", es[0].Metadata, wantMeta)
	}
	// not json: filename moved to metadata all the same (it is a label
	// copied into the extracted map), so the labels differ too.
	if want := []wal.Label{{Name: "job", Value: "app"}}; !slices.Equal(es[1].Labels, want) {
		t.Errorf("labels of the line that is not JSON %v, want %v", es[1].Labels, want)
	}
	if es[2].Labels == nil || es[2].Labels[0].Name != "job" {
		t.Errorf("labels %v", es[2].Labels)
	}
	// Stream labels exclude "__" ones: a stream given __path__ drops it.
	s2 := r.NewStream([]wal.Label{{Name: "__path__", Value: "/x"}, {Name: "job", Value: "b"}}, wal.Position{}, nil)
	if got := s2.Labels(); !slices.Equal(got, []wal.Label{{Name: "job", Value: "b"}}) {
		t.Errorf("block labels %v", got)
	}
}

// TestStageRunnerRelabel: the hook runs before the stages, may drop an
// entry (counted, covered by the position), and the "__" labels are gone
// before the stages run (a template cannot see them) except the tenant.
func TestStageRunnerRelabel(t *testing.T) {
	r, _, _ := newTestRunner(t, `
- template: {source: seen, template: '{{ .__meta_x }}|{{ .__tenant_id__ }}'}
- output: {source: seen}
`, StageOptions{Relabel: func(l map[string]string) bool {
		l["__tenant_id__"] = "t"
		return l["__meta_x"] != "drop"
	}})
	s := r.NewStream([]wal.Label{{Name: "__meta_x", Value: "keep"}, {Name: "job", Value: "j"}}, wal.Position{}, nil)
	end := feed(r, s, 0, "one")
	es, _, pos, _ := s.Pending()
	if len(es) != 1 || string(es[0].Line) != "<no value>|t" {
		t.Fatalf("entries %+v", es)
	}
	if pos.Offset != end {
		t.Errorf("position %d, want %d", pos.Offset, end)
	}
	s.Emitted(pos)
	d := r.NewStream([]wal.Label{{Name: "__meta_x", Value: "drop"}}, wal.Position{}, nil)
	end = feed(r, d, 0, "gone")
	if es, _, pos, ok := d.Pending(); !ok || len(es) != 0 || pos.Offset != end {
		t.Errorf("a dropped entry: %d entries, position %d (want 0, %d)", len(es), pos.Offset, end)
	}
	if v := testutil.ToFloat64(r.m.dropCounter.WithLabelValues("relabel")); v != 1 {
		t.Errorf("relabel drops %v, want 1", v)
	}
}

// TestStageRunnerMaxStreams: past max_streams a new label set keeps the
// stream's labels (and the tenant) and the stages' labels become
// metadata; it is counted, the gauge shows the streams, and the warning
// is raised, then ends at a sweep without entries over the limit.
func TestStageRunnerMaxStreams(t *testing.T) {
	r, _, conds := newTestRunner(t, `
- regex: {expression: '^(?P<user>\S+)'}
- labels: {user: ""}
- tenant: {value: t1}
`, StageOptions{MaxStreams: 2})
	s := r.NewStream([]wal.Label{{Name: "job", Value: "j"}}, wal.Position{}, nil)
	feed(r, s, 0, "u1 x", "u2 x", "u1 y", "u3 x", "u4 x")
	es, _, _, _ := s.Pending()
	var got []string
	for _, e := range es {
		var b strings.Builder
		for _, l := range e.Labels {
			b.WriteString(l.Name + "=" + l.Value + ",")
		}
		b.WriteString("|")
		for _, l := range e.Metadata {
			b.WriteString(l.Name + "=" + l.Value + ",")
		}
		got = append(got, b.String())
	}
	want := []string{
		"__tenant_id__=t1,job=j,user=u1,|",
		"__tenant_id__=t1,job=j,user=u2,|",
		"__tenant_id__=t1,job=j,user=u1,|",
		"__tenant_id__=t1,job=j,|user=u3,",
		"__tenant_id__=t1,job=j,|user=u4,",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("labels|metadata:\n%q\nwant\n%q", got, want)
	}
	if v := testutil.ToFloat64(r.m.overLimit); v != 2 {
		t.Errorf("over limit %v, want 2", v)
	}
	if v := testutil.ToFloat64(r.m.streams); v != 2 {
		t.Errorf("streams %v, want 2", v)
	}
	if _, on := conds.on["app/"+WarningStreamsOverLimit]; !on {
		t.Fatalf("no %s warning: %v", WarningStreamsOverLimit, conds.on)
	}
	now := time.Now()
	r.Tick(now)                                // sweep: there were entries over the limit
	r.Tick(now.Add(time.Minute + time.Second)) // none since
	if _, on := conds.on["app/"+WarningStreamsOverLimit]; on {
		t.Errorf("warning still on after a sweep without entries over the limit")
	}
}

// TestStageRunnerParseProblems: a pipeline that does not parse is an
// error naming each problem with its key and line, and registers nothing.
func TestStageRunnerParseProblems(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := NewStageRunner(Deps{Name: "app", Registerer: reg, PipelineStages: stagesNode(t, `
- json: {expressions: {a: b}}
- regex: {expression: '(?P<x'}
`)}, StageOptions{})
	if err == nil || !strings.Contains(err.Error(), "line 3: pipeline_stages[1].regex.expression") {
		t.Fatalf("error %v", err)
	}
	if n, _ := testutil.GatherAndCount(reg); n != 0 {
		t.Errorf("%d metrics registered after a failed parse", n)
	}
}

// TestStageRunnerFailureSeriesAtZero: the failure series of a parsing
// stage the pipeline has exist at zero from the start, so that an alert on
// their rate sees them before the first failure (geoip's lookup_failed
// among them); a stage the pipeline does not have has none.
func TestStageRunnerFailureSeriesAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, err := NewStageRunner(Deps{Name: "app", Registerer: reg, PipelineStages: stagesNode(t, `
- regex: {expression: '^(?P<ip>\S+)'}
- geoip: {db: `+mmdbtest.Write(t, "GeoLite2-City", nil)+`, source: ip, db_type: city}
`)}, StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if mf.GetName() != "logcapturer_pipeline_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var stage, reason string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "stage":
					stage = l.GetValue()
				case "reason":
					reason = l.GetValue()
				}
			}
			got = append(got, fmt.Sprintf("%s/%s=%g", stage, reason, m.GetCounter().GetValue()))
		}
	}
	slices.Sort(got)
	if want := []string{"geoip/lookup_failed=0", "regex/no_match=0"}; !slices.Equal(got, want) {
		t.Errorf("series %v, want %v", got, want)
	}
}
