package stages

import (
	"maps"
	"reflect"
	"testing"
	"time"
)

// counts records what a pipeline reported through Env.
type counts struct {
	failed  map[string]int // "stage/reason"
	dropped map[string]int
}

func testEnv(now time.Time) (Env, *counts) {
	c := &counts{failed: map[string]int{}, dropped: map[string]int{}}
	return Env{
		Source:   "test",
		Location: time.UTC,
		Now:      func() time.Time { return now },
		Failed:   func(stage, reason string) { c.failed[stage+"/"+reason]++ },
		Dropped:  func(reason string) { c.dropped[reason]++ },
	}, c
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// result is what came out of a pipeline for one entry.
type result struct {
	Line      string
	Labels    map[string]string
	Extracted map[string]any
	Metadata  map[string]string
	Time      time.Time
	Dropped   bool
}

// runOne parses doc and runs one entry (line, labels) through it. The
// extracted map is snapshotted when the entry leaves the pipeline.
func runOne(t *testing.T, doc, line string, labels map[string]string) (result, *counts) {
	t.Helper()
	env, c := testEnv(testNow)
	pl := mustParse(t, doc, env)
	e := &Entry{Seq: 1, Time: testNow.Add(-time.Minute), Line: line, Labels: maps.Clone(labels)}
	r := result{Dropped: true}
	pl.Process(e, func(o *Entry) {
		r = result{Line: o.Line, Labels: maps.Clone(o.Labels), Extracted: maps.Clone(o.Extracted), Metadata: maps.Clone(o.Metadata), Time: o.Time}
	})
	return r, c
}

// checkSubset fails if want's keys are not in got with the same values.
// A nil value in want means the key must be absent, unless present is set.
func checkExtracted(t *testing.T, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if w == absent {
			if ok {
				t.Errorf("extracted[%q] = %#v, want absent", k, g)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(g, w) {
			t.Errorf("extracted[%q] = %#v (present %v), want %#v", k, g, ok, w)
		}
	}
}

// absent marks a key that must not be in the extracted map.
var absent = &struct{ absent bool }{true}

func checkLabels(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !maps.Equal(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
}
