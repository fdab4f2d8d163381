package loki

import (
	"strconv"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/prometheus/client_golang/prometheus"
)

// Values of the code label of logcapturer_sink_request_duration_seconds
// besides the HTTP status codes Loki answers.
const (
	codeOK       = "204"   // Loki's answer to a stored push
	codeNoAnswer = "error" // no answer: connection failed, timed out
)

type metrics struct {
	encoded   prometheus.Counter
	duration  *prometheus.HistogramVec
	failures  *prometheus.CounterVec
	unmatched prometheus.Counter

	set *promset.Set
}

// newMetrics registers the sink's metrics on reg with a sink=<name> label.
// A nil reg registers nothing.
func newMetrics(reg prometheus.Registerer, name string) (*metrics, error) {
	m := &metrics{
		encoded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_sink_encoded_bytes_total",
			Help: "Request body bytes sent, after encoding and compression, retries included."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "logcapturer_sink_request_duration_seconds",
			Help:    "Duration of push requests by HTTP status code (\"error\" when there was no answer).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"code"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_sink_loki_failures_total",
			Help: "Failed pushes by reason (rate_limited, server_error, timeout, connection, partial, too_old, ...)."},
			[]string{"reason"}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_sink_loki_unmatched_refusals_total",
			Help: "400 answers listing refused entries that could not be matched to the batch one by one; the whole batch went to the dead-letter queue."}),
	}
	// Every reason at zero from the start, so alerts and dashboards see
	// the series before the first failure.
	for _, r := range []string{ReasonRateLimited, ReasonServerError, ReasonTimeout, ReasonConnection, ReasonCredentials,
		ReasonPartial, ReasonTooOld, ReasonTooNew, ReasonOutOfOrder, ReasonLineTooLong, ReasonBadLabels,
		ReasonStructuredMetadata, ReasonTooLarge, ReasonUnauthorized, ReasonNotFound, ReasonRejected, ReasonBadTenant} {
		m.failures.WithLabelValues(r)
	}
	// The request duration's series exist from the start too, for Loki's
	// answer to a good push and for no answer at all: a histogram vector
	// serves nothing before its first observation, so dashboards and
	// alerts would not see it until the first push had returned. Other
	// codes appear with their first answer.
	for _, code := range []string{codeOK, codeNoAnswer} {
		m.duration.WithLabelValues(code)
	}
	var err error
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)
	}
	if m.set, err = promset.Register(reg, "sink "+strconv.Quote(name), m.encoded, m.duration, m.failures, m.unmatched); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) unregister() { m.set.Unregister() }
