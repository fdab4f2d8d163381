package receiver

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/logcapturer/logcapturer/sources"
)

// metrics are a receiver's collectors, labelled source=<name>; registered
// only when a Registerer was given.
type metrics struct {
	requests *prometheus.CounterVec // by code
	entries  prometheus.Counter
	lines    prometheus.Counter
	received prometheus.Counter
	refused  *prometheus.CounterVec // by reason
	durable  prometheus.Histogram
	set      *promset.Set
}

func newMetrics(reg prometheus.Registerer, source string, inflight *sources.Inflight) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_receiver_requests_total",
			Help: "Push requests answered, by status code.",
		}, []string{"code"}),
		entries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_receiver_entries_total",
			Help: "Entries of push requests made durable and acknowledged.",
		}),
		lines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_receiver_line_bytes_total",
			Help: "Line bytes of the entries made durable and acknowledged.",
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_receiver_received_bytes_total",
			Help: "Bytes of push request bodies read, as sent (compressed).",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_receiver_refused_total",
			Help: "Push requests not acknowledged, by reason.",
		}, []string{"reason"}),
		durable: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logcapturer_receiver_durable_seconds",
			Help:    "Time from a push's first record handed to the pipeline to the last one durable (fsynced).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	for _, c := range []string{"204", "400", "401", "413", "415", "429", "500", "503"} {
		m.requests.WithLabelValues(c) // the usual answers exist at 0
	}
	for _, r := range allReasons {
		m.refused.WithLabelValues(r)
	}
	inflightGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "logcapturer_receiver_inflight_bytes",
		Help: "Bytes of pushes handed to the pipeline and not yet durable (bounded by max_inflight_bytes).",
	}, func() float64 { return float64(inflight.Used()) })
	var err error
	if m.set, err = sources.RegisterMetrics(reg, source,
		m.requests, m.entries, m.lines, m.received, m.refused, m.durable, inflightGauge); err != nil {
		return nil, err
	}
	return m, nil
}
