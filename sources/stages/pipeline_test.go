package stages

import (
	"slices"
	"testing"
	"time"
)

// holdStage is a Holder for tests: it holds entries whose line is "hold"
// until Tick or Flush (a stand-in for multiline).
type holdStage struct {
	held []*Entry
}

func (h *holdStage) Process(e *Entry, next func(*Entry)) {
	if e.Line == "hold" {
		h.held = append(h.held, copyEntry(e))
		return
	}
	next(e)
}

func (h *holdStage) Tick(_ time.Time, next func(*Entry)) { h.Flush(next) }

func (h *holdStage) Held() (uint64, bool) {
	if len(h.held) == 0 {
		return 0, false
	}
	return h.held[0].Seq, true
}

func (h *holdStage) Flush(next func(*Entry)) {
	held := h.held
	h.held = nil
	for _, e := range held {
		next(e)
	}
}

// Entries behind a held one wait in the pipeline, so they leave in Seq
// order, and Held reports the first entry not handed on.
func TestPipelineOrderBehindHeld(t *testing.T) {
	env, _ := testEnv(testNow)
	pl := mustParse(t, "- static_labels: {a: b}\n", env)
	h := &holdStage{}
	pl.stages = slices.Insert(pl.stages, 0, Stage(h))
	pl.holders = append(pl.holders, h)
	pl.chain = nil

	var out []uint64
	next := func(e *Entry) {
		if e.Labels["a"] != "b" {
			t.Errorf("entry %d skipped a stage: %v", e.Seq, e.Labels)
		}
		out = append(out, e.Seq)
	}
	send := func(seq uint64, line string) {
		pl.Process(&Entry{Seq: seq, Line: line, Labels: map[string]string{}}, next)
	}
	send(1, "x")
	send(2, "hold")
	send(3, "x")
	send(4, "x")
	if !slices.Equal(out, []uint64{1}) {
		t.Fatalf("out = %v, want [1] while 2 is held", out)
	}
	if seq, ok := pl.Held(); !ok || seq != 2 {
		t.Fatalf("Held = %d %v, want 2", seq, ok)
	}
	pl.Tick(testNow, next)
	if !slices.Equal(out, []uint64{1, 2, 3, 4}) {
		t.Fatalf("out = %v, want 1..4 in order", out)
	}
	if _, ok := pl.Held(); ok {
		t.Fatalf("still holding")
	}
	send(5, "hold")
	send(6, "x")
	pl.Flush(next)
	if !slices.Equal(out, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("out = %v after Flush", out)
	}
}

// The reorder buffer is bounded: past maxReordered the holders are flushed.
func TestPipelineReorderBound(t *testing.T) {
	env, _ := testEnv(testNow)
	pl := newPipeline(env.withDefaults(), true)
	h := &holdStage{}
	pl.add(h)
	n := 0
	next := func(*Entry) { n++ }
	pl.Process(&Entry{Seq: 1, Line: "hold"}, next)
	for i := 2; i <= maxReordered+2; i++ {
		pl.Process(&Entry{Seq: uint64(i), Line: "x"}, next)
	}
	if n != maxReordered+2 || len(pl.buf) != 0 {
		t.Fatalf("out %d, buffered %d", n, len(pl.buf))
	}
}

// Each entry starts with Extracted = a copy of its labels, nothing left
// from the entry before.
func TestPipelineExtractedReset(t *testing.T) {
	env, _ := testEnv(testNow)
	pl := mustParse(t, `- regex: {expression: "v=(?P<v>\\w+)"}`, env)
	e := &Entry{Extracted: map[string]any{}}
	var got []map[string]any
	for _, line := range []string{"v=1", "none"} {
		e.Line, e.Labels = line, map[string]string{"job": line}
		pl.Process(e, func(o *Entry) {
			m := map[string]any{}
			for k, v := range o.Extracted {
				m[k] = v
			}
			got = append(got, m)
		})
	}
	if got[0]["v"] != "1" || got[0]["job"] != "v=1" {
		t.Errorf("first %v", got[0])
	}
	if _, ok := got[1]["v"]; ok || got[1]["job"] != "none" {
		t.Errorf("second kept the first's values: %v", got[1])
	}
}
