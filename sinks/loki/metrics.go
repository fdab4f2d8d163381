package loki

import (
	"strconv"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	failures  *prometheus.CounterVec
	unmatched prometheus.Counter

	set *promset.Set
}

// newMetrics registers the sink's metrics, and shared (its HTTPClient's:
// logcapturer_sink_encoded_bytes_total and
// logcapturer_sink_request_duration_seconds), on reg with a sink=<name>
// label. A nil reg registers nothing.
func newMetrics(reg prometheus.Registerer, name string, shared ...prometheus.Collector) (*metrics, error) {
	m := &metrics{
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
	var err error
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)
	}
	if m.set, err = promset.Register(reg, "sink "+strconv.Quote(name), append(shared, m.failures, m.unmatched)...); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) unregister() { m.set.Unregister() }
