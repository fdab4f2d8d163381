package otlp

import (
	"strconv"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/prometheus/client_golang/prometheus"
)

// codeNoAnswer is the code label of logcapturer_sink_request_duration_seconds
// when there was no answer (connection failed, timed out).
const codeNoAnswer = "error"

type metrics struct {
	encoded  prometheus.Counter
	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
	rejected prometheus.Counter
	warnings prometheus.Counter

	set *promset.Set
}

// newMetrics registers the sink's metrics on reg with a sink=<name> label.
// A nil reg registers nothing. The first two are the loki sink's metrics,
// of the same name and help, so dashboards see every HTTP sink alike.
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
	for _, code := range []string{"200", codeNoAnswer} {
		m.duration.WithLabelValues(code)
	}
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)
	}
	var err error
	if m.set, err = promset.Register(reg, "sink "+strconv.Quote(name), m.encoded, m.duration, m.failures, m.rejected, m.warnings); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) unregister() { m.set.Unregister() }
