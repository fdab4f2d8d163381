package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/stages"
)

// pipeline test's trace: the tracer watches entries pass a source's
// top-level stages (stages.Pipeline.Inspect), keeps a snapshot of each
// entry as it enters each stage, and attributes drops and failures
// (stages.Env.Dropped, Failed) to the stage running at the time. An
// entry's trace is printed once it is settled: it left the pipeline, was
// dropped, or was joined into another entry (it entered a stage, never
// left it, and no stage holds it any more: Pipeline.Held is past it).
// Traces are printed in the order of their first line.

// snapshot is an entry as it entered a stage.
type snapshot struct {
	time      time.Time
	line      string
	labels    map[string]string
	extracted map[string]any
	metadata  map[string]string
}

func snap(e *stages.Entry) *snapshot {
	return &snapshot{time: e.Time, line: e.Line, labels: maps.Clone(e.Labels),
		extracted: maps.Clone(e.Extracted), metadata: maps.Clone(e.Metadata)}
}

// trace is what happened to the entry of one sample line.
type trace struct {
	seq        uint64
	input      string
	start      *snapshot   // as read, before the source's decoding
	decoded    *snapshot   // after the docker/cri decoding; nil for other types
	snaps      []*snapshot // snaps[i]: as it entered stage i; snaps[len(stages)]: past the last
	fails      map[int][]stageFailure
	entered    int  // the last stage it entered; -1: not handed to the stages
	inPipeline bool // handed to the stages
	kept       *snapshot
	dropped    bool
	dropStage  int
	dropReason string
	joinedInto uint64 // 0: unknown or not joined
	joinedBy   string // "multiline", "docker source"...
	joined     bool
}

type stageFailure struct {
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}

// partialLine is a docker or cri line under way: pieces of one stream
// that the source joins into one entry.
type partialLine struct {
	seq   uint64
	entry *stages.Entry
	start *snapshot
}

// frame is a stage call under way.
type frame struct {
	stage int
	seq   uint64
}

type tracer struct {
	typ    string
	labels map[string]string // the starting labels
	now    func() time.Time
	// clock times the lines as the source does: 1 ns apart when the
	// clock has not moved (sources.EntryClock; --now fixes it).
	clock sources.EntryClock
	w     *traceWriter
	pl    *stages.Pipeline
	names []string

	traces     map[uint64]*trace
	next, last uint64 // the next trace to print; the last made
	running    []frame
	partial    map[string]*partialLine
	// lastOut[i][labels] is the last entry (in print order) stage i
	// handed on, by the labels it had entering the stage: a line stage i
	// joined is joined into it (multiline's streams are label sets).
	lastOut []map[string]uint64
}

func newTracer(typ string, labels map[string]string, now func() time.Time, w *traceWriter) *tracer {
	return &tracer{typ: typ, labels: labels, now: now, w: w, traces: map[uint64]*trace{}, next: 1,
		partial: map[string]*partialLine{}}
}

// run makes the tracer watch pl, whose top-level stages are names.
func (t *tracer) run(pl *stages.Pipeline, names []string) {
	t.pl, t.names = pl, names
	t.lastOut = make([]map[string]uint64, len(names))
	for i := range t.lastOut {
		t.lastOut[i] = map[string]uint64{}
	}
	pl.Inspect(stages.Inspector{Enter: t.enter, Leave: t.leave})
}

func (t *tracer) enter(i int, e *stages.Entry) {
	tr := t.traces[e.Seq]
	if tr == nil {
		return
	}
	tr.snaps[i] = snap(e)
	tr.entered = i
	if i < len(t.names) {
		t.running = append(t.running, frame{i, e.Seq})
	}
}

func (t *tracer) leave(int, *stages.Entry) {
	if len(t.running) > 0 {
		t.running = t.running[:len(t.running)-1]
	}
}

// dropped is Env.Dropped: the entry of the stage call under way. (Every
// stage drops in Process, so there is one.)
func (t *tracer) dropped(reason string) {
	if len(t.running) == 0 {
		return
	}
	f := t.running[len(t.running)-1]
	if tr := t.traces[f.seq]; tr != nil {
		tr.dropped, tr.dropStage, tr.dropReason = true, f.stage, reason
	}
}

// failed is Env.Failed: noted on the stage call under way.
func (t *tracer) failed(stage, reason string) {
	if len(t.running) == 0 {
		return
	}
	f := t.running[len(t.running)-1]
	if tr := t.traces[f.seq]; tr != nil {
		if tr.fails == nil {
			tr.fails = map[int][]stageFailure{}
		}
		tr.fails[f.stage] = append(tr.fails[f.stage], stageFailure{stage, reason})
	}
}

// emitted is the next of the pipeline: the entry left it.
func (t *tracer) emitted(e *stages.Entry) {
	if tr := t.traces[e.Seq]; tr != nil {
		tr.kept = snap(e)
	}
}

// line reads one sample line as the source would and runs it through the
// stages.
func (t *tracer) line(text string) {
	t.last++
	seq := t.last
	tr := &trace{seq: seq, input: text, entered: -1, snaps: make([]*snapshot, len(t.names)+1)}
	t.traces[seq] = tr
	e := &stages.Entry{Seq: seq, Time: t.clock.NextTime(t.now()), Line: text, Labels: maps.Clone(t.labels)}
	tr.start = snap(e)
	if t.typ == sources.TypeDocker || t.typ == sources.TypeCRI {
		d := sources.DecodeLine(t.typ, []byte(text))
		maps.Copy(e.Labels, d.Labels())
		if !d.ParseError {
			e.Line = d.Line
			if !d.Time.IsZero() {
				e.Time = d.Time
			}
			// The source joins the pieces of a partial line per stream.
			if p := t.partial[d.Stream]; p != nil {
				p.entry.Line += d.Line
				tr.joined, tr.joinedInto, tr.joinedBy = true, p.seq, t.typ+" source"
				if !d.Partial {
					delete(t.partial, d.Stream)
					t.feed(p.entry)
				}
				t.settle(false)
				return
			}
			if d.Partial {
				t.partial[d.Stream] = &partialLine{seq: seq, entry: e}
				t.settle(false)
				return
			}
		}
	}
	t.feed(e)
	t.settle(false)
}

// feed hands e to the stages.
func (t *tracer) feed(e *stages.Entry) {
	tr := t.traces[e.Seq]
	if t.typ == sources.TypeDocker || t.typ == sources.TypeCRI {
		tr.decoded = snap(e)
	}
	tr.inPipeline = true
	t.pl.Process(e, t.emitted)
}

// end hands on the partial lines under way and what the stages hold, and
// prints every trace left.
func (t *tracer) end() {
	ps := slices.SortedFunc(maps.Values(t.partial), func(a, b *partialLine) int { return cmp.Compare(a.seq, b.seq) })
	for _, p := range ps {
		t.feed(p.entry)
	}
	clear(t.partial)
	t.pl.Flush(t.emitted)
	t.settle(true)
}

// settle prints, in order, the traces that are settled.
func (t *tracer) settle(end bool) {
	held, holding := t.pl.Held()
	if end {
		holding = false
	}
	for ; t.next <= t.last; t.next++ {
		tr := t.traces[t.next]
		if tr.kept == nil && !tr.dropped && !tr.joined {
			if !tr.inPipeline || (holding && tr.seq >= held) {
				return
			}
			// Nothing holds it and it did not come out: the stage it
			// entered last joined it into another entry.
			tr.joined, tr.joinedBy = true, t.stageName(tr.entered)
			if tr.entered >= 0 && tr.entered < len(t.lastOut) {
				tr.joinedInto = t.lastOut[tr.entered][labelString(tr.snaps[tr.entered].labels)]
			}
		}
		for i := 0; i+1 < len(tr.snaps); i++ {
			if tr.snaps[i] != nil && tr.snaps[i+1] != nil {
				t.lastOut[i][labelString(tr.snaps[i].labels)] = tr.seq
			}
		}
		t.w.write(t.view(tr))
		delete(t.traces, t.next)
	}
}

func (t *tracer) stageName(i int) string {
	if i >= 0 && i < len(t.names) {
		return t.names[i]
	}
	return "?"
}

// The trace as printed: -o json is this, one object a line.
type traceView struct {
	Line       uint64      `json:"line"`
	Input      string      `json:"input"`
	Decoding   *stageView  `json:"decoding,omitempty"`
	Stages     []stageView `json:"stages"`
	Result     string      `json:"result"` // kept, dropped or joined
	DroppedBy  *dropView   `json:"dropped_by,omitempty"`
	JoinedInto uint64      `json:"joined_into,omitempty"`
	JoinedBy   string      `json:"joined_by,omitempty"`
	Entry      *entryView  `json:"entry,omitempty"`
	start      *snapshot
}

type stageView struct {
	Index    int            `json:"index"`
	Stage    string         `json:"stage"`
	Changes  []change       `json:"changes"`
	Failures []stageFailure `json:"failures,omitempty"`
	// Stopped says what became of the entry in this stage when it went
	// no further: dropped or held.
	Stopped string `json:"stopped,omitempty"`
}

type dropView struct {
	Index  int    `json:"index"`
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}

type entryView struct {
	Time     string            `json:"time"`
	Labels   map[string]string `json:"labels"`
	Metadata map[string]string `json:"structured_metadata,omitempty"`
	Line     string            `json:"line"`
}

// change is one difference an entry shows after a stage.
type change struct {
	Field string `json:"field"` // extracted, labels, structured_metadata, timestamp, line
	Key   string `json:"key,omitempty"`
	Op    string `json:"op"` // add, remove, change
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

func (t *tracer) view(tr *trace) *traceView {
	v := &traceView{Line: tr.seq, Input: tr.input, Stages: []stageView{}, start: tr.start}
	if tr.decoded != nil {
		v.Decoding = &stageView{Index: -1, Stage: t.typ + " source", Changes: diff(tr.start, tr.decoded, false)}
	}
	for i := 0; i < len(t.names) && tr.snaps[i] != nil; i++ {
		s := stageView{Index: i, Stage: t.names[i], Changes: []change{}, Failures: tr.fails[i]}
		if tr.snaps[i+1] != nil {
			s.Changes = diff(tr.snaps[i], tr.snaps[i+1], true)
		} else if tr.dropped && tr.dropStage == i {
			s.Stopped = "dropped"
		} else {
			s.Stopped = "held"
		}
		v.Stages = append(v.Stages, s)
	}
	switch {
	case tr.dropped:
		v.Result = "dropped"
		v.DroppedBy = &dropView{Index: tr.dropStage, Stage: t.stageName(tr.dropStage), Reason: tr.dropReason}
	case tr.kept != nil:
		v.Result = "kept"
		k := tr.kept
		v.Entry = &entryView{Time: k.time.UTC().Format(time.RFC3339Nano), Labels: k.labels, Metadata: k.metadata, Line: k.line}
		if v.Entry.Labels == nil {
			v.Entry.Labels = map[string]string{}
		}
	default:
		v.Result = "joined"
		v.JoinedInto, v.JoinedBy = tr.joinedInto, tr.joinedBy
	}
	return v
}

// diff lists what changed from a to b: extracted values (when extracted),
// labels, structured metadata, timestamp and line, each sorted by key.
func diff(a, b *snapshot, extracted bool) []change {
	out := []change{}
	if extracted {
		for _, k := range unionKeys(a.extracted, b.extracted) {
			av, aok := a.extracted[k]
			bv, bok := b.extracted[k]
			if c, ok := mapChange("extracted", k, av, aok, bv, bok); ok {
				c.Old, c.New = jsonValue(c.Old), jsonValue(c.New)
				out = append(out, c)
			}
		}
	}
	for _, m := range []struct {
		field string
		a, b  map[string]string
	}{{"labels", a.labels, b.labels}, {"structured_metadata", a.metadata, b.metadata}} {
		for _, k := range unionKeys(m.a, m.b) {
			av, aok := m.a[k]
			bv, bok := m.b[k]
			if c, ok := mapChange(m.field, k, av, aok, bv, bok); ok {
				out = append(out, c)
			}
		}
	}
	if !a.time.Equal(b.time) {
		out = append(out, change{Field: "timestamp", Op: "change", Old: a.time.UTC().Format(time.RFC3339Nano), New: b.time.UTC().Format(time.RFC3339Nano)})
	}
	if a.line != b.line {
		out = append(out, change{Field: "line", Op: "change", Old: a.line, New: b.line})
	}
	return out
}

func mapChange(field, k string, av any, aok bool, bv any, bok bool) (change, bool) {
	switch {
	case aok && !bok:
		return change{Field: field, Key: k, Op: "remove", Old: av}, true
	case !aok && bok:
		return change{Field: field, Key: k, Op: "add", New: bv}, true
	case aok && bok && !reflect.DeepEqual(av, bv):
		return change{Field: field, Key: k, Op: "change", Old: av, New: bv}, true
	}
	return change{}, false
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// jsonValue is an extracted value as JSON can carry it: strings, finite
// numbers, booleans and null as they are, anything else as its text.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, string, bool:
		return v
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			return v
		}
	}
	return fmt.Sprint(v)
}

// traceWriter prints traces for people (a block per line) or as JSON
// (one object a line). The first write error is kept in err.
type traceWriter struct {
	w    io.Writer
	json *json.Encoder
	n    int
	err  error
}

func newTraceWriter(w io.Writer, asJSON bool) *traceWriter {
	tw := &traceWriter{w: w}
	if asJSON {
		tw.json = json.NewEncoder(w)
		tw.json.SetEscapeHTML(false)
	}
	return tw
}

func (tw *traceWriter) write(v *traceView) {
	if tw.err != nil {
		return
	}
	if tw.json != nil {
		tw.err = tw.json.Encode(v)
		return
	}
	var b strings.Builder
	if tw.n > 0 {
		b.WriteString("\n")
	}
	tw.n++
	renderTrace(&b, v)
	_, tw.err = io.WriteString(tw.w, b.String())
}

// renderTrace writes one trace for people: deterministic, colour-free,
// log content quoted (strconv.Quote) or escaped (terminalSafe).
//
//	line 3: {"level":"debug","msg":"b"}
//	  start: 2026-12-01T10:00:00Z {job="app"}
//	  [0] json:
//	    + extracted level: "debug"
//	  [1] drop: dropped
//	  => dropped by [1] drop: drop_stage
func renderTrace(b *strings.Builder, v *traceView) {
	fmt.Fprintf(b, "line %d: %s\n", v.Line, terminalSafe(v.Input))
	fmt.Fprintf(b, "  start: %s %s\n", v.start.time.UTC().Format(time.RFC3339Nano), labelString(v.start.labels))
	if v.Decoding != nil {
		renderStage(b, "  "+v.Decoding.Stage, *v.Decoding)
	}
	for _, s := range v.Stages {
		renderStage(b, fmt.Sprintf("  [%d] %s", s.Index, s.Stage), s)
	}
	switch v.Result {
	case "dropped":
		fmt.Fprintf(b, "  => dropped by [%d] %s: %s\n", v.DroppedBy.Index, v.DroppedBy.Stage, terminalSafe(v.DroppedBy.Reason))
	case "kept":
		fmt.Fprintf(b, "  => kept: %s %s %s\n", v.Entry.Time, labelString(v.Entry.Labels), strconv.Quote(v.Entry.Line))
		if len(v.Entry.Metadata) > 0 {
			fmt.Fprintf(b, "     structured metadata: %s\n", labelString(v.Entry.Metadata))
		}
	default:
		if v.JoinedInto > 0 {
			fmt.Fprintf(b, "  => joined into the entry of line %d by %s\n", v.JoinedInto, v.JoinedBy)
		} else {
			fmt.Fprintf(b, "  => joined into another entry by %s\n", v.JoinedBy)
		}
	}
}

func renderStage(b *strings.Builder, head string, s stageView) {
	switch {
	case s.Stopped != "":
		fmt.Fprintf(b, "%s: %s\n", head, s.Stopped)
	case len(s.Changes) == 0:
		fmt.Fprintf(b, "%s: no change\n", head)
	default:
		fmt.Fprintf(b, "%s:\n", head)
	}
	for _, c := range s.Changes {
		what := humanField[c.Field]
		if c.Key != "" {
			what += " " + terminalSafe(c.Key)
		}
		switch c.Op {
		case "add":
			fmt.Fprintf(b, "    + %s: %s\n", what, humanValue(c.New))
		case "remove":
			fmt.Fprintf(b, "    - %s: %s\n", what, humanValue(c.Old))
		case "change":
			if c.Field == "timestamp" {
				fmt.Fprintf(b, "    ~ %s: %s -> %s\n", what, c.Old, c.New)
			} else {
				fmt.Fprintf(b, "    ~ %s: %s -> %s\n", what, humanValue(c.Old), humanValue(c.New))
			}
		}
	}
	for _, f := range s.Failures {
		fmt.Fprintf(b, "    ! %s: %s\n", f.Stage, terminalSafe(f.Reason))
	}
}

// humanField names a change's field for people.
var humanField = map[string]string{"extracted": "extracted", "labels": "label", "structured_metadata": "metadata",
	"timestamp": "timestamp", "line": "line"}

// humanValue prints a value: strings quoted, numbers as JSON has them,
// null for an extracted value that was JSON null.
func humanValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return terminalSafe(fmt.Sprint(v))
}
