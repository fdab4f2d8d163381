package kafka

import (
	"strconv"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	duration prometheus.Histogram
	failures *prometheus.CounterVec
	stale    prometheus.Gauge

	set *promset.Set
}

// newMetrics registers the sink's metrics on reg with a sink=<name> label.
// A nil reg registers nothing.
func newMetrics(reg prometheus.Registerer, name string, s *Sink) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logcapturer_kafka_produce_duration_seconds",
			Help:    "Time from the first record of a batch handed to the producer to the last one acknowledged.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_kafka_failures_total",
			Help: "Failed sends by reason: the Kafka error name (MESSAGE_TOO_LARGE, ...), invalid_topic, timeout, unacknowledged, connection."},
			[]string{"reason"}),
		stale: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_kafka_unacknowledged_sends",
			Help: "Sends that timed out whose records the producer still holds; new sends wait for them."}),
	}
	buffered := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "logcapturer_kafka_buffered_bytes",
		Help: "Record bytes the producer holds, not yet acknowledged (bounded by max_buffered_bytes)."},
		func() float64 { return float64(s.cl.BufferedProduceBytes()) })
	// The reasons known before the first failure, at zero; Kafka's error
	// names appear as they happen.
	for _, r := range []string{"timeout", "connection", "unacknowledged", "invalid_topic"} {
		m.failures.WithLabelValues(r)
	}
	var err error
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)
	}
	if m.set, err = promset.Register(reg, "sink "+strconv.Quote(name), m.duration, m.failures, m.stale, buffered); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) unregister() { m.set.Unregister() }
