package pipeline

import (
	"context"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/sources"
)

// Sink states in SinkStatus.State.
const (
	SinkOK           = "ok"
	SinkRetrying     = "retrying"     // sends failed lately or retry ranges wait
	SinkCircuitOpen  = "circuit_open" // the breaker is open: new blocks wait, probes go out
	SinkUnauthorized = "unauthorized" // the sink refuses our credentials
	SinkRefusing     = "refusing"     // most entries settled lately were refused for good (WarningSinkRefusing)
	SinkStopped      = "stopped"      // the pipeline is not running
)

// Status is the pipeline's state at one moment: what /api/v1/status
// answers and what the CLI prints. Offline views fill what a stopped data
// directory can tell.
type Status struct {
	Version       string         `json:"version,omitempty"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Offline       bool           `json:"offline,omitempty"`
	DataDir       string         `json:"data_dir,omitempty"`
	WAL           WALStatus      `json:"wal"`
	Sources       []SourceStatus `json:"sources"`
	Sinks         []SinkStatus   `json:"sinks"`
	Ready         ReadyStatus    `json:"ready"`
	// Warnings are the warnings in force (Pipeline.Warnings): what an
	// operator should look at that does not make the pipeline unready.
	Warnings []Condition `json:"warnings"`
}

// ReadyStatus is the readiness in Status: the same as /readyz's answer.
type ReadyStatus struct {
	Status  string      `json:"status"` // ready | not_ready
	Reasons []Condition `json:"reasons"`
}

// WALStatus is the WAL's range and size.
type WALStatus struct {
	FirstIndex   uint64 `json:"first_index"`
	LastIndex    uint64 `json:"last_index"`
	DurableIndex uint64 `json:"durable_index"`
	Segments     int    `json:"segments"`
	Bytes        int64  `json:"bytes"`
	MaxBytes     int64  `json:"max_bytes"`
}

// SourceStatus is one source and its files.
type SourceStatus struct {
	Name  string               `json:"name"`
	Type  string               `json:"type"`
	Files []sources.FileStatus `json:"files"`
	// Connections are the open connections of a listening source
	// (ConnReporter); omitted when it has none and for other sources.
	Connections []sources.ConnStatus `json:"connections,omitempty"`
	// Push is a push receiver's status (PushReporter): its address,
	// bytes in flight, last push and clients; omitted for other sources.
	Push *sources.PushStatus `json:"push,omitempty"`
}

// SinkStatus is where one sink stands.
type SinkStatus struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Destination is where the sink delivers (sinks.Destination): a URL
	// without credentials, Kafka's brokers, a file's path, "stdout".
	Destination string `json:"destination,omitempty"`
	// Cursor is the last WAL index settled: every block up to it is
	// delivered, or filed as a retry range or dead letter.
	Cursor uint64 `json:"cursor"`
	// LagEntries and LagBytes count every entry routed to the sink that it
	// has not acknowledged: durable blocks after the cursor not yet
	// settled, plus the retry ranges. Dead letters are not lag (see
	// DLQEntries). LagExact is false when a part of it was interpolated
	// (see the package documentation).
	LagEntries int64 `json:"lag_entries"`
	LagBytes   int64 `json:"lag_bytes"`
	// LagBlocks is the WAL blocks after the cursor plus those of the
	// retry ranges.
	LagBlocks               uint64     `json:"lag_blocks"`
	LagExact                bool       `json:"lag_exact"`
	OldestUnackedAgeSeconds float64    `json:"oldest_unacked_age_seconds"`
	State                   string     `json:"state"`
	InFlight                int        `json:"in_flight"`
	RetryRanges             int        `json:"retry_ranges"`
	RetryEntries            int        `json:"retry_entries"`
	DLQRanges               int        `json:"dlq_ranges"`
	DLQEntries              int        `json:"dlq_entries"`
	LastError               string     `json:"last_error,omitempty"`
	LastSuccessTime         *time.Time `json:"last_success_time,omitempty"`
	// FailingSince is when the current run of failed sends began (unset
	// once a send succeeds; a refusal neither starts nor ends it).
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// NextRetryTime is when the earliest retry range waiting in the
	// retry queue is due (unset when none waits; in the past when one is
	// due and about to be sent).
	NextRetryTime *time.Time `json:"next_retry_time,omitempty"`
	// LastRefusal is the sink's last refusal of data for good (a
	// permanent error, such as a 400: the range went to the dead-letter
	// queue), and LastRefusalTime when it came.
	LastRefusal     string     `json:"last_refusal,omitempty"`
	LastRefusalTime *time.Time `json:"last_refusal_time,omitempty"`
}

// SourceReporter is a source the status shows: its name and type, and
// what it has of FileReporter (its files) and ConnReporter (its
// connections).
type SourceReporter interface {
	Name() string
	Type() string
}

// FileReporter is a source whose files the status shows (*sources.File
// is one).
type FileReporter interface {
	Files() []sources.FileStatus
}

// ConnReporter is a listening source whose open connections the status
// shows (a syslog source is one).
type ConnReporter interface {
	Connections() []sources.ConnStatus
}

// PushReporter is a source that receives pushes (loki_push) and whose
// clients the status shows (SourceStatus.Push).
type PushReporter interface {
	Push() sources.PushStatus
}

// view is what the status reads besides the loops: reporters and the
// committer's last oldest-unacknowledged ages.
type view struct {
	mu      sync.Mutex
	sources []SourceReporter
	ages    map[string]*atomic.Uint64 // sink -> float64 bits, written by the committer
}

// ReportSources adds sources to the status, and declares their readiness
// reasons (source_stalled, source_unreadable) at zero in
// logcapturer_component_degraded. Safe for concurrent use.
func (p *Pipeline) ReportSources(srcs ...SourceReporter) {
	p.view.mu.Lock()
	defer p.view.mu.Unlock()
	p.view.sources = append(p.view.sources, srcs...)
	for _, s := range srcs {
		p.health.declare("source/"+s.Name(), ReasonSourceStalled, ReasonSourceUnreadable)
		p.warnings.declare("source/"+s.Name(), WarningSourceStreamsOverLimit)
	}
}

// SetSourceCondition raises (on) or clears a condition a source reports
// about itself (sources.ConditionSetter): a readiness reason of component
// source/NAME, or, for WarningSourceStreamsOverLimit, a warning, which
// leaves readiness alone. Either is logged once when it starts and once
// when it ends. It never blocks on I/O. Safe for concurrent use.
func (p *Pipeline) SetSourceCondition(source, reason string, on bool, detail string) {
	if reason == WarningSourceStreamsOverLimit {
		p.warnings.set("source/"+source, reason, on, detail)
		return
	}
	p.health.set("source/"+source, reason, on, detail)
}

var _ sources.ConditionSetter = (*Pipeline)(nil)

// initView builds the lag counts and the view after recover: the counts
// are seeded from the WAL after the lowest cursor (the blocks some sink
// has not delivered, read once).
func (p *Pipeline) initView() error {
	last := p.log.LastIndex()
	low := last
	p.view = &view{ages: make(map[string]*atomic.Uint64, len(p.loops))}
	for _, sl := range p.loops {
		low = min(low, sl.cursor())
		p.view.ages[sl.name] = new(atomic.Uint64)
		p.m.sinkLagEntries.WithLabelValues(sl.name)
		p.m.sinkLagBytes.WithLabelValues(sl.name)
	}
	var routes []map[string]bool
	for _, sl := range p.loops {
		routes = append(routes, sl.routes)
	}
	// The backlog below the last index is counted after Start, in the
	// background (seedCounts): a start on a large backlog, with a cold
	// page cache, delivers at once instead of reading it all first.
	p.counts = newCounts(p.SinkNames(), routes, last)
	p.seedLow = low
	return nil
}

// seedCounts counts the blocks the sinks had not delivered when the
// pipeline opened, (seedLow, last at Open], until ctx is done. Until it is
// done their lag is not exact (Status says so) but counts what it covers.
func (p *Pipeline) seedCounts(ctx context.Context) {
	began, blocks := time.Now(), p.counts.covered()-p.seedLow
	if err := p.counts.extendDown(p.log, p.seedLow, ctx.Done()); err != nil {
		if ctx.Err() == nil {
			p.logger.Warn("count the backlog for the lag metrics; lag stays inexact", "err", err)
		}
		return
	}
	p.logger.Debug("counted the backlog for the lag metrics", "blocks", blocks, "took", time.Since(began))
}

// sinkLag is what a sink has not acknowledged.
type sinkLag struct {
	blocks uint64
	tally
	exact        bool
	retryRanges  int
	retryEntries int
}

// lag computes sl's lag against the durable index: the blocks after the
// cursor less the ranges settled above it, plus every retry range. It
// reads no state.db and no WAL.
func (p *Pipeline) lag(sl *sinkLoop, durable uint64) sinkLag {
	sl.mu.Lock()
	settled := sl.settled
	var above [][2]uint64
	for from, to := range sl.done {
		above = append(above, [2]uint64{from, to})
	}
	sl.mu.Unlock()
	var l sinkLag
	if durable > settled {
		l.blocks = durable - settled
	}
	l.tally, l.exact = p.counts.between(sl.name, settled, durable)
	for _, r := range above {
		if r[1] > durable || r[0] <= settled {
			continue
		}
		t, exact := p.counts.between(sl.name, r[0]-1, r[1])
		l.tally, l.exact = l.tally.sub(t), l.exact && exact
		l.blocks -= min(l.blocks, r[1]-r[0]+1)
	}
	for _, r := range p.sched.Ranges(sl.name) {
		l.retryRanges++
		l.retryEntries += r.Entries
		l.Entries += int64(r.Entries)
		l.Bytes += int64(r.Bytes)
		l.blocks += r.To - r.From + 1
	}
	l.Entries, l.Bytes = max(0, l.Entries), max(0, l.Bytes)
	return l
}

// publishLag sets sl's lag and age gauges; the committer calls it every
// tick with the age it computed. The status API reads the same numbers.
func (p *Pipeline) publishLag(sl *sinkLoop, durable uint64, age time.Duration) {
	l := p.lag(sl, durable)
	p.m.sinkLag.WithLabelValues(sl.name).Set(float64(l.blocks))
	p.m.sinkLagEntries.WithLabelValues(sl.name).Set(float64(l.Entries))
	p.m.sinkLagBytes.WithLabelValues(sl.name).Set(float64(l.Bytes))
	p.m.oldestUnacked.WithLabelValues(sl.name).Set(age.Seconds())
	if a := p.view.ages[sl.name]; a != nil {
		a.Store(math.Float64bits(age.Seconds()))
	}
}

// Status returns the pipeline's state: the WAL's range, every source's
// files, every sink's cursor, lag, state, retries and dead letters, and
// the readiness. It writes nothing and reads no state.db or WAL: it copies
// in-memory state under short locks. Safe for concurrent use.
func (p *Pipeline) Status() Status {
	durable := p.durable.Load()
	ready, conds := p.Readiness()
	st := Status{
		UptimeSeconds: time.Since(p.openedAt).Seconds(),
		DataDir:       p.opts.DataDir,
		WAL:           p.walStatus(durable),
		Sources:       p.sourceStatus(),
		Sinks:         make([]SinkStatus, 0, len(p.loops)),
		Ready:         readyStatus(ready, conds),
		Warnings:      p.Warnings(),
	}
	for _, sl := range p.loops {
		st.Sinks = append(st.Sinks, p.sinkStatus(sl, durable))
	}
	return st
}

func readyStatus(ready bool, conds []Condition) ReadyStatus {
	rs := ReadyStatus{Status: "ready", Reasons: conds}
	if !ready {
		rs.Status = "not_ready"
	}
	if rs.Reasons == nil {
		rs.Reasons = []Condition{}
	}
	return rs
}

func (p *Pipeline) walStatus(durable uint64) WALStatus {
	return WALStatus{
		FirstIndex: p.log.FirstIndex(), LastIndex: p.log.LastIndex(), DurableIndex: durable,
		Segments: p.log.SegmentCount(), Bytes: p.log.Size(), MaxBytes: p.opts.MaxBytes,
	}
}

func (p *Pipeline) sourceStatus() []SourceStatus {
	p.view.mu.Lock()
	srcs := slices.Clone(p.view.sources)
	p.view.mu.Unlock()
	out := make([]SourceStatus, 0, len(srcs))
	for _, s := range srcs {
		st := SourceStatus{Name: s.Name(), Type: s.Type(), Files: []sources.FileStatus{}}
		if fr, ok := s.(FileReporter); ok {
			if files := fr.Files(); files != nil {
				st.Files = files
			}
		}
		if cr, ok := s.(ConnReporter); ok {
			st.Connections = cr.Connections()
		}
		if pr, ok := s.(PushReporter); ok {
			push := pr.Push()
			st.Push = &push
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SourcesStatus returns every reported source and its files.
func (p *Pipeline) SourcesStatus() []SourceStatus { return p.sourceStatus() }

// SinkNames returns the sinks' names in configuration order.
func (p *Pipeline) SinkNames() []string {
	out := make([]string, 0, len(p.loops))
	for _, sl := range p.loops {
		out = append(out, sl.name)
	}
	return out
}

// SinkStatus returns one sink's state; the error is an *UnknownSinkError
// for a name that is not configured.
func (p *Pipeline) SinkStatus(name string) (SinkStatus, error) {
	sl, err := p.loop(name)
	if err != nil {
		return SinkStatus{}, err
	}
	return p.sinkStatus(sl, p.durable.Load()), nil
}

func (p *Pipeline) sinkStatus(sl *sinkLoop, durable uint64) SinkStatus {
	l := p.lag(sl, durable)
	sl.mu.Lock()
	s := SinkStatus{
		Name: sl.name, Type: sl.opts.Type, Destination: sl.dest, Cursor: sl.settled, InFlight: sl.inFlight,
		LastError: sl.lastErr, LastRefusal: sl.lastRefusal,
		LastSuccessTime: utcPtr(sl.lastSuccess), FailingSince: utcPtr(sl.failingSince),
		LastRefusalTime: utcPtr(sl.lastRefusalAt),
	}
	open, unauth, fails, refusing := sl.open, sl.unauth, sl.fails, sl.refusing
	sl.mu.Unlock()
	if n, earliest, _ := p.sched.Waiting(sl.name); n > 0 {
		s.NextRetryTime = utcPtr(earliest)
	}
	s.LagEntries, s.LagBytes, s.LagBlocks, s.LagExact = l.Entries, l.Bytes, l.blocks, l.exact
	s.RetryRanges, s.RetryEntries = l.retryRanges, l.retryEntries
	for _, d := range p.sched.DeadLetters(sl.name) {
		s.DLQRanges++
		s.DLQEntries += d.Entries
	}
	if a := p.view.ages[sl.name]; a != nil {
		s.OldestUnackedAgeSeconds = math.Float64frombits(a.Load())
	}
	switch {
	case !p.Ready():
		s.State = SinkStopped
	case unauth:
		s.State = SinkUnauthorized
	case open:
		s.State = SinkCircuitOpen
	case refusing:
		s.State = SinkRefusing
	case fails > 0 || s.RetryRanges > 0:
		s.State = SinkRetrying
	default:
		s.State = SinkOK
	}
	return s
}

// utcPtr returns t in UTC, or nil for the zero time.
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// UnknownSinkError is returned for a sink name that is not configured; it
// lists the known ones.
type UnknownSinkError struct {
	Name  string
	Known []string
}

func (e *UnknownSinkError) Error() string {
	if len(e.Known) == 0 {
		return "unknown sink " + quote(e.Name) + ": there are no sinks"
	}
	s := "unknown sink " + quote(e.Name) + "; known sinks: "
	for i, k := range e.Known {
		if i > 0 {
			s += ", "
		}
		s += k
	}
	return s
}

func quote(s string) string { return "\"" + s + "\"" }

func (p *Pipeline) loop(name string) (*sinkLoop, error) {
	for _, sl := range p.loops {
		if sl.name == name {
			return sl, nil
		}
	}
	return nil, &UnknownSinkError{Name: name, Known: p.SinkNames()}
}

// DeadLetter is one dead letter as the API shows it. Fields are added
// here as dead letters learn more (an entry selection, say).
type DeadLetter struct {
	Sink         string    `json:"sink"`
	From         uint64    `json:"from"`
	To           uint64    `json:"to"`
	Entries      int       `json:"entries"`
	Bytes        int       `json:"bytes"`
	Reason       string    `json:"reason"`
	Attempts     int       `json:"attempts"`
	FirstFailure time.Time `json:"first_failure"`
	LastFailure  time.Time `json:"last_failure"`
	LastError    string    `json:"last_error,omitempty"`
	// Selection, when set, says the dead letter holds only these entries of
	// its blocks, the ones the receiver refused of a partial success: runs
	// of WAL index:first entry+count. Empty: every entry routed to the sink.
	Selection string `json:"selection,omitempty"`
	// Expired is set (offline) when the WAL no longer holds the dead
	// letter's first blocks: they were deleted while its sink was not in
	// the config, which releases a sink's blocks. Its entries cannot be
	// shown or replayed; the sink's next start drops it.
	Expired bool `json:"expired,omitempty"`
}

func deadLetterView(sink string, d retry.DeadLetter) DeadLetter {
	v := DeadLetter{Sink: sink, From: d.From, To: d.To, Entries: d.Entries, Bytes: d.Bytes, Reason: d.Reason,
		Attempts: d.Attempts, FirstFailure: d.FirstFailure.UTC(), LastFailure: d.LastFailure.UTC(), LastError: d.LastError}
	if !d.Picks.IsZero() {
		v.Selection = d.Picks.String()
	}
	return v
}

// picked returns a filter keeping only the entries of ps (nil: every one).
func picked(ps retry.Picks) func(index uint64, entry int) bool {
	if ps.IsZero() {
		return nil
	}
	runs := map[uint64][]retry.Pick{}
	for _, p := range ps.Slice() {
		runs[p.Index] = append(runs[p.Index], p)
	}
	return func(index uint64, entry int) bool {
		for _, r := range runs[index] {
			if entry >= r.First && entry < r.First+r.Count {
				return true
			}
		}
		return false
	}
}

// DLQ returns the dead letters of sink (every sink when sink is ""), in
// sink and index order; an unknown sink is an *UnknownSinkError.
func (p *Pipeline) DLQ(sink string) ([]DeadLetter, error) {
	names := p.SinkNames()
	if sink != "" {
		if _, err := p.loop(sink); err != nil {
			return nil, err
		}
		names = []string{sink}
	}
	out := []DeadLetter{}
	for _, n := range names {
		for _, d := range p.sched.DeadLetters(n) {
			out = append(out, deadLetterView(n, d))
		}
	}
	return out, nil
}
