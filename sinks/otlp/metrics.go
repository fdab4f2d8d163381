package otlp

import (
	"strconv"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	failures *prometheus.CounterVec
	rejected prometheus.Counter
	warnings prometheus.Counter

	set *promset.Set
}

// newMetrics registers the sink's metrics, and shared (its HTTPClient's:
// logcapturer_sink_encoded_bytes_total and
// logcapturer_sink_request_duration_seconds, the loki sink's too, so
// dashboards see every HTTP sink alike), on reg with a sink=<name> label.
// A nil reg registers nothing.
func newMetrics(reg prometheus.Registerer, name string, shared ...prometheus.Collector) (*metrics, error) {
	m := &metrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_sink_otlp_failures_total",
			Help: "Failed OTLP exports by reason (partial, bad_request, rate_limited, unavailable, server_error, timeout, connection, ...)."},
			[]string{"reason"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_sink_otlp_rejected_records_total",
			Help: "Log records an OTLP receiver rejected in a partial success (partial_success.rejected_log_records)."}),
		warnings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_sink_otlp_partial_warnings_total",
			Help: "Successful OTLP exports whose answer carried a warning (partial_success with an error_message and no rejected records)."}),
	}
	for _, r := range allReasons {
		m.failures.WithLabelValues(r)
	}
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)
	}
	var err error
	if m.set, err = promset.Register(reg, "sink "+strconv.Quote(name), append(shared, m.failures, m.rejected, m.warnings)...); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) unregister() { m.set.Unregister() }
