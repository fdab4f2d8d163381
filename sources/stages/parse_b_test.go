package stages

import (
	"strings"
	"testing"
	"time"
)

// TestParseProblemsStagesB: bad options of the timestamp, multiline, cri,
// docker, limit, sampling and metrics stages are problems with the
// option's key and line.
func TestParseProblemsStagesB(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		key       string
		line      int
		msg       string
	}{
		{"timestamp location", `
- timestamp:
    source: time
    format: RFC3339
    location: Mars/Olympus`, "[0].timestamp.location", 5, "IANA"},
		{"timestamp action", `
- timestamp:
    source: time
    format: RFC3339
    action_on_failure: drop`, "[0].timestamp.action_on_failure", 5, "fudge or skip"},
		{"timestamp unknown key", `
- timestamp:
    source: time
    format: RFC3339
    firstline: x`, "[0].timestamp.firstline", 5, "multiline stage"},
		{"multiline regex", `
- multiline:
    firstline: '('`, "[0].multiline.firstline", 3, "does not compile"},
		{"multiline wait", `
- multiline:
    firstline: x
    max_wait_time: soon`, "[0].multiline.max_wait_time", 4, "duration"},
		{"cri truncate", `
- cri:
    max_partial_line_size_truncate: true`, "[0].cri.max_partial_line_size", 3, "must be set"},
		{"docker takes nothing", `
- docker:
    log: x`, "[0].docker.log", 3, "unknown key"},
		{"limit by label without drop", `
- limit:
    rate: 10
    burst: 10
    by_label_name: namespace`, "[0].limit.drop", 3, "must be true"},
		{"sampling rate", `
- sampling:
    rate: 10`, "[0].sampling.rate", 3, "between 0.0 and 1.0"},
		{"metrics type", `
- metrics:
    lines:
      type: Summary`, "[0].metrics.lines.type", 4, "Counter, Gauge or Histogram"},
		{"metrics action", `
- metrics:
    lines:
      type: Counter
      config:
        action: set`, "[0].metrics.lines.config.action", 6, "inc or add"},
		{"metrics gauge key in a counter", `
- metrics:
    lines:
      type: Counter
      config:
        action: inc
        buckets: [1]`, "[0].metrics.lines.config.buckets", 7, "unknown key"},
		{"metrics idle", `
- metrics:
    lines:
      type: Counter
      max_idle_duration: 500ms
      config: {action: inc}`, "[0].metrics.lines.max_idle_duration", 5, "at least 1s"},
		{"metrics buckets", `
- metrics:
    rt:
      type: Histogram
      config: {buckets: [2, 1]}`, "[0].metrics.rt.config.buckets", 5, "increasing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := parseYAML(t, tc.doc, Env{})
			if len(ps) != 1 {
				t.Fatalf("problems %v, want one", ps)
			}
			p := ps[0]
			if p.Key != tc.key || p.Line != tc.line || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("problem %v, want key %s line %d msg containing %q", p, tc.key, tc.line, tc.msg)
			}
		})
	}
}

// TestPipelineStagesB: the stages through Parse and a Pipeline: a cri
// pipeline with multiline after it, entries out in Seq order with Held.
func TestPipelineStagesB(t *testing.T) {
	doc := `
- cri: {}
- multiline:
    firstline: '^\d'
    max_wait_time: 3s
- timestamp:
    source: time
    format: RFC3339Nano
- sampling:
    rate: 1
- limit:
    rate: 1000
    burst: 1000
    drop: true
`
	clock := &fakeClock{t: time.Unix(1000, 0)}
	pl := mustParse(t, doc, Env{Now: clock.Now, Location: time.UTC})
	defer pl.Close()
	var out []*Entry
	next := func(e *Entry) { out = append(out, copyEntry(e)) }
	for i, l := range []string{
		"2024-01-01T00:00:01Z stdout F 1 first",
		"2024-01-01T00:00:02Z stdout P   at ",
		"2024-01-01T00:00:03Z stdout F x.go:1",
		"2024-01-01T00:00:04Z stdout F 2 second",
	} {
		pl.Process(&Entry{Seq: uint64(i + 1), Line: l, Labels: map[string]string{"job": "k"}}, next)
	}
	if seq, ok := pl.Held(); !ok || seq != 4 {
		t.Fatalf("Held %d %v, want 4", seq, ok)
	}
	pl.Tick(clock.Add(3*time.Second), next)
	if len(out) != 2 || out[0].Line != "1 first\n  at x.go:1" || out[1].Line != "2 second" {
		t.Fatalf("lines %q", lines(out))
	}
	if out[0].Seq != 1 || out[0].Time.Second() != 1 || out[0].Labels["stream"] != "stdout" {
		t.Errorf("first entry %+v", out[0])
	}
}
