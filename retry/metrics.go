package retry

import (
	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	ranges     *prometheus.GaugeVec
	entries    *prometheus.GaugeVec
	retries    *prometheus.CounterVec
	dlqEntries *prometheus.GaugeVec
	dlqAdded   *prometheus.CounterVec
	dlqExpired *prometheus.CounterVec
	set        *promset.Set
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		ranges: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_retry_queue_ranges", Help: "WAL ranges waiting to be retried (or being retried)."}, []string{"sink"}),
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_retry_queue_entries", Help: "Entries in the ranges waiting to be retried."}, []string{"sink"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_retries_total", Help: "Ranges handed to a sink for another attempt."}, []string{"sink"}),
		dlqEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_dlq_entries", Help: "Entries in the dead-letter queue."}, []string{"sink"}),
		dlqAdded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_dlq_added_entries_total", Help: "Entries put in the dead-letter queue, by reason."}, []string{"sink", "reason"}),
		dlqExpired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_dlq_expired_entries_total", Help: "Dead-letter entries removed by dlq.max_bytes or dlq.max_age."}, []string{"sink"}),
	}
	var err error
	m.set, err = promset.Register(reg, "the retry scheduler", m.ranges, m.entries, m.retries, m.dlqEntries, m.dlqAdded, m.dlqExpired)
	if err != nil {
		return nil, err
	}
	return m, nil
}
