package pipeline

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/sources"
)

// Readiness reasons: each names a loop that cannot make progress, or a
// state an operator must see. They are the reason label of
// logcapturer_component_degraded and the reasons /readyz lists.
const (
	ReasonNotRunning          = "not_running"                 // before Start, or once Close began
	ReasonWALAppendFailing    = "wal_append_failing"          // disk full, failed write or fsync
	ReasonWALNearlyFull       = "wal_over_90pct_of_max_bytes" // full_policy applies at 100%
	ReasonStateCommitFailing  = "state_commit_failing"        // state.db commits fail (a full disk); retried every tick
	ReasonWALRetentionFailing = "wal_retention_failing"       // deleting delivered (or, drop_oldest, the oldest) segments fails; retried every tick
	ReasonSourceStalled       = "source_stalled"              // a source could not hand blocks over or read its files
	ReasonSourceUnreadable    = sources.ConditionUnreadable   // a source has matched files and can read none of them (permission denied)
	ReasonSinkReaderStopped   = "sink_reader_stopped"         // a sink's WAL reader hit an I/O error and retries
	ReasonSinkUnauthorized    = "sink_unauthorized"           // the sink refuses our credentials
	ReasonSinkFailing         = "sink_failing"                // failing longer than UnreadyAfter
	ReasonSinkStuck           = "sink_stuck"                  // behind, nothing in flight, no progress
	ReasonSinkSendHung        = "sink_send_hung"              // a send has not returned for 2x the sink's timeout, at least SendHungAfter
)

// Warning reasons: states an operator must see that do not make the
// pipeline unready, because logcapturer is doing its job and the problem
// lies elsewhere (the data, the receiver's limits). They are the reason
// label of logcapturer_component_warning and Status.Warnings; /readyz does
// not list them.
const (
	// WarningSinkRefusing: most entries the sink settled lately went to
	// the dead-letter queue (see refusingWindow).
	WarningSinkRefusing = "sink_refusing"
	// WarningSourceStreamsOverLimit: a source's pipeline_stages made more
	// label sets than its max_streams; entries with new ones keep the
	// source's labels (sources.WarningStreamsOverLimit).
	WarningSourceStreamsOverLimit = sources.WarningStreamsOverLimit
)

// Condition is one readiness reason, or one warning, in force.
type Condition struct {
	// Component is "wal", "pipeline", "source/NAME" or "sink/NAME".
	Component string `json:"component"`
	Reason    string `json:"reason"`
	// Since is when the condition started (UTC).
	Since time.Time `json:"since"`
	// Detail is the last error or fact behind it (a path and errno, a
	// sink's answer).
	Detail string `json:"detail,omitempty"`
}

type condKey struct{ component, reason string }

// health tracks the conditions in force. raise and clear log one line when
// a condition starts and one when it ends, never per retry, and keep its
// gauge in step: logcapturer_component_degraded for the readiness
// reasons (newHealth), logcapturer_component_warning for the warnings
// (newWarnings). Safe for concurrent use.
type health struct {
	logger *slog.Logger
	gauge  *prometheus.GaugeVec
	now    func() time.Time
	// start and end prefix the log lines of a condition's start and end.
	start, end string

	mu     sync.Mutex
	active map[condKey]*Condition
}

func newHealth(logger *slog.Logger, gauge *prometheus.GaugeVec) *health {
	return &health{logger: logger, gauge: gauge, now: time.Now, start: "degraded: ", end: "recovered: ",
		active: make(map[condKey]*Condition)}
}

// newWarnings is a health for warnings: they never touch readiness.
func newWarnings(logger *slog.Logger, gauge *prometheus.GaugeVec) *health {
	return &health{logger: logger, gauge: gauge, now: time.Now, start: "warning: ", end: "warning over: ",
		active: make(map[condKey]*Condition)}
}

// declare creates the gauge series of a component's possible reasons at
// zero, so dashboards and alerts see them before the first fault.
func (h *health) declare(component string, reasons ...string) {
	for _, r := range reasons {
		h.gauge.WithLabelValues(component, r).Set(0)
	}
}

// raise starts the condition (component, reason), or updates its detail if
// it is already in force. Only the start is logged.
func (h *health) raise(component, reason, detail string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := condKey{component, reason}
	if c, ok := h.active[k]; ok {
		c.Detail = detail
		return
	}
	h.active[k] = &Condition{Component: component, Reason: reason, Since: h.now().UTC(), Detail: detail}
	h.gauge.WithLabelValues(component, reason).Set(1)
	h.logger.Warn(h.start+reason, "component", component, "reason", reason, "detail", detail)
}

// clear ends the condition if it is in force, logging how long it lasted.
func (h *health) clear(component, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := condKey{component, reason}
	c, ok := h.active[k]
	if !ok {
		return
	}
	delete(h.active, k)
	h.gauge.WithLabelValues(component, reason).Set(0)
	h.logger.Info(h.end+reason, "component", component, "reason", reason,
		"lasted", h.now().Sub(c.Since).Round(time.Millisecond).String())
}

// set raises or clears the condition.
func (h *health) set(component, reason string, on bool, detail string) {
	if on {
		h.raise(component, reason, detail)
	} else {
		h.clear(component, reason)
	}
}

// has reports whether the condition is in force.
func (h *health) has(component, reason string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.active[condKey{component, reason}]
	return ok
}

// conditions returns the conditions in force, oldest first.
func (h *health) conditions() []Condition {
	h.mu.Lock()
	out := make([]Condition, 0, len(h.active))
	for _, c := range h.active {
		out = append(out, *c)
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b Condition) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		if c := strings.Compare(a.Component, b.Component); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return out
}

// Warnings returns the warnings in force (WarningSinkRefusing), oldest
// first: what an operator should look at although the pipeline is ready.
// Safe for concurrent use; it never blocks on I/O.
func (p *Pipeline) Warnings() []Condition { return p.warnings.conditions() }

// Readiness reports whether the pipeline is ready: it is running and no
// readiness condition is in force (warnings do not count). It returns the conditions, oldest first. Safe for
// concurrent use; it never blocks on I/O.
func (p *Pipeline) Readiness() (bool, []Condition) {
	conds := p.health.conditions()
	if !p.Ready() {
		conds = append([]Condition{{Component: "pipeline", Reason: ReasonNotRunning, Since: p.openedAt}}, conds...)
	}
	return len(conds) == 0, conds
}
