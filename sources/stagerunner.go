package sources

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/logcapturer/logcapturer/sources/stages"
	"github.com/logcapturer/logcapturer/wal"
)

// DefaultMaxStreams is the number of label sets a source's stages may make
// before new ones fall back to the source's labels (StageOptions.MaxStreams).
const DefaultMaxStreams = 1000

// WarningStreamsOverLimit is the condition a StageRunner reports (see
// ConditionSetter) while its stages make more label sets than max_streams
// allows. It is a warning: it does not make the pipeline unready.
const WarningStreamsOverLimit = "source_streams_over_limit"

// Drop reason of an entry a StageOptions.Relabel hook refused.
const dropRelabel = "relabel"

const (
	// stageTickEvery is how often a source ticks its runner while the
	// stages hold entries (multiline max_wait_time is checked at this
	// granularity).
	stageTickEvery = 250 * time.Millisecond
	// streamSweepEvery is how often the runner forgets idle label sets.
	streamSweepEvery = time.Minute
	// streamIdleSweeps is how many sweeps a label set may go without an
	// entry before it no longer counts towards max_streams (one hour).
	streamIdleSweeps = 60
)

// StageOptions configures a StageRunner beyond what Deps gives.
type StageOptions struct {
	// MaxStreams bounds the label sets the stages may make (0:
	// DefaultMaxStreams). Past it, an entry with a new label set keeps its
	// stream's labels, and the labels the stages added or changed become
	// structured metadata.
	MaxStreams int
	// Relabel, when set, runs on each entry's labels before the stages
	// (Promtail's relabel_configs); false drops the entry (counted under
	// reason "relabel"). It may change the map.
	Relabel func(lbls map[string]string) (keep bool)
	// Location is the zone of timestamps without one (default time.Local).
	Location *time.Location
	// Now is the clock of the stages (default time.Now).
	Now func() time.Time
}

// StageRunner runs a source's pipeline_stages and builds what comes out
// into WAL blocks, one StageStream per origin with a position of its own
// (a file). It gives every entry a sequence number (Seq); the stages hand
// entries on in Seq order, and hold some back (a multiline block under
// way). A stream's position is the start of the first entry the stages
// still hold, or else what the source reached (StageStream.Position), so a
// block's position covers the entries the stages dropped, and reading
// again from it yields exactly the entries not in the WAL.
//
// A StageRunner is not safe for concurrent use: the source's goroutine
// owns it. Close may be called once the source's goroutine has stopped.
type StageRunner struct {
	name       string
	pl         *stages.Pipeline
	relabel    func(map[string]string) bool
	maxStreams int
	conds      ConditionSetter
	log        *slog.Logger
	m          *stageMetrics

	seq   uint64
	in    stages.Entry
	marks []stageMark // entries handed to the stages and not settled, by Seq
	dirty []*StageStream
	// streams are the label sets of the entries handed on, by key, with
	// the sweep generation that last saw each.
	streams   map[string]*streamSeen
	gen       int64
	nextSweep time.Time
	overLimit bool // an entry went over max_streams since the last sweep
	warnOn    bool // WarningStreamsOverLimit is raised
	last      lastLabels
	keyBuf    []byte
	closed    bool
}

// streamSeen is a label set counted towards max_streams; gone once the
// sweep forgot it.
type streamSeen struct {
	gen  int64
	gone bool
}

// lastLabels caches the label slice of the last entry whose labels differed
// from its stream's, so a run of entries with one label set costs no
// allocation.
type lastLabels struct {
	m      map[string]string
	labels []wal.Label
	seen   *streamSeen
}

type stageMark struct {
	seq    uint64
	stream *StageStream
	start  wal.Position
}

// StageStream is one origin of a StageRunner's entries with a position of
// its own: one file of a tailer, a journal. Entries handed on by the
// stages collect in it until the source takes them as a block (Pending,
// Emitted).
type StageStream struct {
	// Ref is the source's own handle of the origin (the tailer's file).
	Ref any

	r       *StageRunner
	labels  []wal.Label       // block labels: the origin's, sorted, without "__" ones
	lmap    map[string]string // the origin's labels as given
	key     string            // label-set key of labels
	special bool              // lmap has "__" labels (other than the tenant)
	seen    *streamSeen

	entries []wal.Entry
	arena   []byte
	bytes   int
	reached wal.Position
	floor   uint64 // marks at or below floor do not hold the position (Reset)
	last    wal.Position
	emitted bool // last is set
	isDirty bool
}

// StageInput is one entry a source hands a StageRunner.
type StageInput struct {
	// Time is the entry's time (UTC Unix ns): the read time, or the time
	// the record carries.
	Time int64
	// Line is the entry's text; it is copied.
	Line []byte
	// Labels are added to the stream's labels for this entry (Docker's
	// stream); nil: none.
	Labels []wal.Label
	// Metadata is the entry's structured metadata before the stages.
	Metadata []wal.Label
	// Start is the position to read again from to get this entry (the
	// offset of its first line); End the position just past it.
	Start, End wal.Position
}

// NewStageRunner parses deps.PipelineStages and returns a runner for the
// source deps describes. Its metrics are registered on deps.Registerer with
// a source=<name> label (Close unregisters them). An error lists every
// problem of the stages (logcapturer check reports them at their lines).
func NewStageRunner(deps Deps, o StageOptions) (*StageRunner, error) {
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newStageMetrics(deps.Registerer, deps.Name)
	if err != nil {
		return nil, err
	}
	r := &StageRunner{
		name:       deps.Name,
		relabel:    o.Relabel,
		maxStreams: o.MaxStreams,
		conds:      deps.Conditions,
		log:        logger.With("source", deps.Name),
		m:          m,
		streams:    make(map[string]*streamSeen),
	}
	if r.maxStreams <= 0 {
		r.maxStreams = DefaultMaxStreams
	}
	env := stages.Env{
		Source:     deps.Name,
		Location:   o.Location,
		Now:        o.Now,
		Registerer: deps.Registerer,
		Logger:     r.log,
		Dropped:    m.dropped,
		Failed:     m.failed,
	}
	pl, problems := stages.Parse(deps.PipelineStages, env)
	if len(problems) > 0 {
		m.set.Unregister()
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = "pipeline_stages" + p.String()
			if p.Line > 0 {
				msgs[i] = fmt.Sprintf("line %d: pipeline_stages%s: %s", p.Line, p.Key, p.Msg)
			}
		}
		return nil, fmt.Errorf("source %q: %s", deps.Name, strings.Join(msgs, "; "))
	}
	r.pl = pl
	// The failures of the parsing stages exist at zero from the start, so
	// dashboards and alerts see them before the first one.
	for stage, reason := range map[string]string{"json": "malformed_json", "logfmt": "malformed_logfmt",
		"regex": "no_match", "timestamp": "timestamp_parse_failed", "template": "execute_failed", "geoip": "lookup_failed"} {
		if len(findStages(deps.PipelineStages, "", stage, 0)) > 0 {
			m.errCounter.WithLabelValues(stage, reason)
		}
	}
	if o.Relabel != nil {
		m.dropCounter.WithLabelValues(dropRelabel)
	}
	r.in.Labels = make(map[string]string)
	r.in.Extracted = make(map[string]any)
	return r, nil
}

// Staged reports whether a source deps describes runs its entries
// through a StageRunner: it has pipeline_stages or a relabel hook.
func (d *Deps) Staged() bool {
	return d.Relabel != nil || (d.PipelineStages != nil && len(d.PipelineStages.Content) > 0)
}

// NewStream returns a stream of entries whose labels (the block's labels)
// are labels, with the position reached so far. The runner keeps no
// reference to a stream without entries under way.
func (r *StageRunner) NewStream(labels []wal.Label, reached wal.Position, ref any) *StageStream {
	s := &StageStream{Ref: ref, r: r, lmap: make(map[string]string, len(labels)), reached: reached}
	for _, l := range labels {
		s.lmap[l.Name] = l.Value
		if isSpecial(l.Name) {
			s.special = true
			continue
		}
		s.labels = append(s.labels, l)
	}
	slices.SortFunc(s.labels, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	s.key = string(labelKey(nil, s.labels))
	return s
}

// isSpecial reports a label removed after relabeling (Promtail drops the
// "__" labels then), the tenant excepted.
func isSpecial(name string) bool {
	return strings.HasPrefix(name, "__") && name != wal.TenantLabel
}

// Add runs one entry of s through the stages. What the stages hand on, now
// or later, goes to the stream it came from. s's position becomes in.End
// unless the stages hold the entry (or one before it).
func (r *StageRunner) Add(s *StageStream, in *StageInput) {
	s.reached = in.End
	e := &r.in
	clear(e.Labels)
	for k, v := range s.lmap {
		e.Labels[k] = v
	}
	for _, l := range in.Labels {
		e.Labels[l.Name] = l.Value
	}
	if r.relabel != nil && !r.relabel(e.Labels) {
		r.m.dropped(dropRelabel)
		return
	}
	if s.special || r.relabel != nil || len(in.Labels) > 0 {
		for k := range e.Labels {
			if isSpecial(k) {
				delete(e.Labels, k)
			}
		}
	}
	r.seq++
	e.Seq = r.seq
	e.Time = time.Unix(0, in.Time).UTC()
	e.Line = string(in.Line)
	if len(in.Metadata) > 0 {
		if e.Metadata == nil {
			e.Metadata = make(map[string]string, len(in.Metadata))
		}
		clear(e.Metadata)
		for _, l := range in.Metadata {
			e.Metadata[l.Name] = l.Value
		}
	} else if len(e.Metadata) > 0 {
		clear(e.Metadata)
	}
	r.marks = append(r.marks, stageMark{seq: e.Seq, stream: s, start: in.Start})
	r.pl.Process(e, r.out)
	r.settle()
}

// Tick lets the stages release what waited long enough (multiline
// max_wait_time), and once a minute forgets label sets idle for an hour.
func (r *StageRunner) Tick(now time.Time) {
	r.pl.Tick(now, r.out)
	r.settle()
	if now.After(r.nextSweep) {
		r.nextSweep = now.Add(streamSweepEvery)
		r.sweepStreams()
	}
}

// Flush hands on everything the stages hold (a file is gone for good).
func (r *StageRunner) Flush() {
	r.pl.Flush(r.out)
	r.settle()
}

// Holding reports whether the stages hold any entry.
func (r *StageRunner) Holding() bool {
	_, ok := r.pl.Held()
	return ok
}

// Dirty returns the streams with entries handed on since their last
// Emitted, and forgets them: the caller emits each.
func (r *StageRunner) Dirty() []*StageStream {
	d := r.dirty
	for _, s := range d {
		s.isDirty = false
	}
	r.dirty = r.dirty[:0]
	return d
}

// Stop ends a wait of the stages (a limit stage without drop sleeps until
// its next token). Unlike the runner's other methods it may be called from
// any goroutine, before the source's goroutine has stopped.
func (r *StageRunner) Stop() { r.pl.Close() }

// Close releases what the stages hold outside the runner (the metrics
// stage's series, a limit stage's wait) and unregisters the runner's
// metrics. Entries still held are not handed on: the positions make the
// next start read them again. Safe to call twice.
func (r *StageRunner) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.pl.Close()
	r.m.set.Unregister()
	if r.warnOn && r.conds != nil {
		r.conds.SetSourceCondition(r.name, WarningStreamsOverLimit, false, "")
	}
}

// settle forgets the marks of the entries no stage holds any more.
func (r *StageRunner) settle() {
	held, ok := r.pl.Held()
	n := len(r.marks)
	if ok {
		n, _ = slices.BinarySearchFunc(r.marks, held, func(m stageMark, seq uint64) int {
			if m.seq < seq {
				return -1
			}
			if m.seq > seq {
				return 1
			}
			return 0
		})
	}
	if n == 0 {
		return
	}
	clear(r.marks[:n])
	r.marks = append(r.marks[:0], r.marks[n:]...)
}

// out takes an entry the stages handed on: it goes to the stream of the
// line it started with.
func (r *StageRunner) out(e *stages.Entry) {
	i, found := slices.BinarySearchFunc(r.marks, e.Seq, func(m stageMark, seq uint64) int {
		if m.seq < seq {
			return -1
		}
		if m.seq > seq {
			return 1
		}
		return 0
	})
	if !found {
		i--
	}
	if i < 0 { // cannot happen: every Seq comes from a mark not settled
		r.m.dropped("unknown_origin")
		return
	}
	s := r.marks[i].stream
	s.append(e)
	if !s.isDirty {
		s.isDirty = true
		r.dirty = append(r.dirty, s)
	}
}

// append adds an entry handed on by the stages to the block under way.
func (s *StageStream) append(e *stages.Entry) {
	r := s.r
	var labels []wal.Label
	var meta []wal.Label
	seen := s.seen
	if !s.sameLabels(e.Labels) {
		labels, seen = r.labelsOf(e.Labels)
	}
	if seen != nil && seen.gone {
		seen = nil
	}
	if seen == nil { // a label set not seen lately: count it, or not
		key := s.key
		if labels != nil {
			r.keyBuf = labelKey(r.keyBuf[:0], labels)
			key = string(r.keyBuf)
		}
		seen = r.streams[key]
		if seen == nil && len(r.streams) >= r.maxStreams && labels != nil {
			labels, meta = s.overLimit(e)
			r.m.overLimit.Inc()
			r.overLimit = true
			r.raiseWarning()
		} else {
			if seen == nil {
				seen = &streamSeen{}
				r.streams[key] = seen
				r.m.streams.Set(float64(len(r.streams)))
			}
			if labels == nil {
				s.seen = seen
			} else {
				r.last.seen = seen
			}
		}
	}
	if seen != nil {
		seen.gen = r.gen
	}
	start := len(s.arena)
	s.arena = append(s.arena, e.Line...)
	we := wal.Entry{Time: e.Time.UnixNano(), Line: s.arena[start:len(s.arena):len(s.arena)], Labels: labels}
	if meta != nil {
		we.Metadata = meta
	} else if len(e.Metadata) > 0 {
		we.Metadata = sortedLabels(e.Metadata, nil)
	}
	s.entries = append(s.entries, we)
	s.bytes += len(e.Line)
}

// overLimit returns the labels of an entry whose label set would go over
// max_streams: the stream's labels and the tenant; the labels the stages
// added or changed move to the entry's metadata.
func (s *StageStream) overLimit(e *stages.Entry) (labels, meta []wal.Label) {
	m := make(map[string]string, len(e.Metadata)+len(e.Labels))
	for k, v := range e.Metadata {
		m[k] = v
	}
	for k, v := range e.Labels {
		if k == wal.TenantLabel {
			continue
		}
		if bv, ok := s.blockValue(k); !ok || bv != v {
			m[k] = v
		}
	}
	if len(m) > 0 {
		meta = sortedLabels(m, nil)
	}
	t, ok := e.Labels[wal.TenantLabel]
	if !ok {
		return nil, meta
	}
	labels = append(slices.Clone(s.labels), wal.Label{Name: wal.TenantLabel, Value: t})
	slices.SortFunc(labels, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	return labels, meta
}

func (s *StageStream) blockValue(name string) (string, bool) {
	for _, l := range s.labels {
		if l.Name == name {
			return l.Value, true
		}
	}
	return "", false
}

// sameLabels reports whether m is the stream's label set.
func (s *StageStream) sameLabels(m map[string]string) bool {
	if len(m) != len(s.labels) {
		return false
	}
	for _, l := range s.labels {
		if v, ok := m[l.Name]; !ok || v != l.Value {
			return false
		}
	}
	return true
}

// labelsOf returns m as sorted labels, the same slice as the last call's
// when m is the same set, with what is known of the set.
func (r *StageRunner) labelsOf(m map[string]string) ([]wal.Label, *streamSeen) {
	if r.last.labels != nil && len(m) == len(r.last.m) {
		same := true
		for k, v := range m {
			if lv, ok := r.last.m[k]; !ok || lv != v {
				same = false
				break
			}
		}
		if same {
			return r.last.labels, r.last.seen
		}
	}
	l := sortedLabels(m, make([]wal.Label, 0, len(m)))
	if l == nil {
		l = []wal.Label{}
	}
	r.last = lastLabels{m: copyMap(r.last.m, m), labels: l}
	return l, nil
}

func copyMap(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = make(map[string]string, len(src))
	}
	clear(dst)
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// sortedLabels appends m's pairs to dst sorted by name.
func sortedLabels(m map[string]string, dst []wal.Label) []wal.Label {
	for k, v := range m {
		dst = append(dst, wal.Label{Name: k, Value: v})
	}
	slices.SortFunc(dst, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	return dst
}

// labelKey appends a key that identifies a sorted label set.
func labelKey(dst []byte, l []wal.Label) []byte {
	for _, x := range l {
		dst = append(dst, x.Name...)
		dst = append(dst, 0)
		dst = append(dst, x.Value...)
		dst = append(dst, 0)
	}
	return dst
}

// raiseWarning reports WarningStreamsOverLimit once when it starts.
func (r *StageRunner) raiseWarning() {
	if r.warnOn {
		return
	}
	r.warnOn = true
	if r.conds != nil {
		r.conds.SetSourceCondition(r.name, WarningStreamsOverLimit, true, fmt.Sprintf(
			"the stages made more than max_streams (%d) label sets in the last hour: new ones keep the source's labels and the others go to structured metadata", r.maxStreams))
	}
}

// sweepStreams forgets the label sets without an entry for
// streamIdleSweeps sweeps, and ends the warning when no entry went over
// the limit since the last sweep.
func (r *StageRunner) sweepStreams() {
	r.gen++
	for k, s := range r.streams {
		if r.gen-s.gen > streamIdleSweeps {
			s.gone = true
			delete(r.streams, k)
		}
	}
	r.last = lastLabels{}
	r.m.streams.Set(float64(len(r.streams)))
	if !r.overLimit && r.warnOn {
		r.warnOn = false
		if r.conds != nil {
			r.conds.SetSourceCondition(r.name, WarningStreamsOverLimit, false, "")
		}
	}
	r.overLimit = false
}

// Position returns where reading again yields exactly the entries of s
// not handed to the source yet: the start of the first entry the stages
// hold, or the position s reached.
func (s *StageStream) Position() wal.Position {
	if p, ok := s.Held(); ok {
		return p
	}
	return s.reached
}

// Held returns the start of s's first entry the stages still hold.
func (s *StageStream) Held() (wal.Position, bool) {
	for i := range s.r.marks {
		m := &s.r.marks[i]
		if m.stream == s && m.seq > s.floor {
			return m.start, true
		}
	}
	return wal.Position{}, false
}

// Advance moves s's position to pos without an entry (the source skipped
// one before the stages: too old, no message). Entries the stages hold
// still hold the position (Position).
func (s *StageStream) Advance(pos wal.Position) { s.reached = pos }

// Reset forgets the position of the entries of s handed to the stages so
// far (the file was truncated: they cannot be read again). They still go
// to s when the stages hand them on.
func (s *StageStream) Reset(reached wal.Position) {
	s.floor = s.r.seq
	s.reached = reached
}

// Pending returns the entries handed on since the last Emitted, their line
// bytes, and the position after them; ok is false when there is nothing
// to record (no entry, and the position is the one last emitted).
func (s *StageStream) Pending() (entries []wal.Entry, lineBytes int, pos wal.Position, ok bool) {
	pos = s.Position()
	if len(s.entries) == 0 && s.emitted && pos == s.last {
		return nil, 0, pos, false
	}
	return s.entries, s.bytes, pos, true
}

// Labels returns the block labels of s.
func (s *StageStream) Labels() []wal.Label { return s.labels }

// Emitted tells s that the block Pending returned, ending at pos, is in
// the WAL (Emit returned nil): its entries are forgotten.
func (s *StageStream) Emitted(pos wal.Position) {
	clear(s.entries)
	s.entries, s.arena, s.bytes = s.entries[:0], s.arena[:0], 0
	s.last, s.emitted = pos, true
}

// stageMetrics are a StageRunner's collectors.
type stageMetrics struct {
	dropCounter *prometheus.CounterVec
	errCounter  *prometheus.CounterVec
	streams     prometheus.Gauge
	overLimit   prometheus.Counter
	drops       map[string]prometheus.Counter
	errs        map[[2]string]prometheus.Counter
	set         *promset.Set
}

func newStageMetrics(reg prometheus.Registerer, source string) (*stageMetrics, error) {
	m := &stageMetrics{
		dropCounter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_pipeline_entries_dropped_total",
			Help: "Entries the source's pipeline_stages dropped, by reason (Promtail's drop_counter_reason values).",
		}, []string{"reason"}),
		errCounter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_pipeline_errors_total",
			Help: "Entries a stage could not process and passed on unchanged (a parse or timestamp failure), by stage and reason.",
		}, []string{"stage", "reason"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_source_streams",
			Help: "Label sets the source's entries had in the last hour (what max_streams bounds).",
		}),
		overLimit: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_pipeline_streams_over_limit_total",
			Help: "Entries whose new label set would have gone over max_streams: they kept the source's labels, the others went to structured metadata.",
		}),
		drops: make(map[string]prometheus.Counter),
		errs:  make(map[[2]string]prometheus.Counter),
	}
	for _, r := range []string{"drop_stage", "match_stage"} {
		m.dropCounter.WithLabelValues(r)
	}
	var err error
	if m.set, err = registerMetrics(reg, source, "stages of source "+fmt.Sprintf("%q", source),
		m.dropCounter, m.errCounter, m.streams, m.overLimit); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *stageMetrics) dropped(reason string) {
	c := m.drops[reason]
	if c == nil {
		c = m.dropCounter.WithLabelValues(reason)
		m.drops[reason] = c
	}
	c.Inc()
}

func (m *stageMetrics) failed(stage, reason string) {
	k := [2]string{stage, reason}
	c := m.errs[k]
	if c == nil {
		c = m.errCounter.WithLabelValues(stage, reason)
		m.errs[k] = c
	}
	c.Inc()
}
