package loki

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	encoded   prometheus.Counter
	duration  *prometheus.HistogramVec
	failures  *prometheus.CounterVec
	unmatched prometheus.Counter

	reg        prometheus.Registerer
	collectors []prometheus.Collector
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
	m.collectors = []prometheus.Collector{m.encoded, m.duration, m.failures, m.unmatched}
	if reg == nil {
		return m, nil
	}
	m.reg = prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)
	for i, c := range m.collectors {
		if err := m.reg.Register(c); err != nil {
			for _, r := range m.collectors[:i] {
				m.reg.Unregister(r)
			}
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}
