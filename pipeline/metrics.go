package pipeline

import (
	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the pipeline's own series. Sources, sinks and the WAL register
// theirs themselves.
type metrics struct {
	ingestRecords   prometheus.Counter
	ingestEntries   prometheus.Counter
	ingestBytes     prometheus.Counter
	groupCommit     prometheus.Histogram
	appendErrors    prometheus.Counter
	walFull         prometheus.Gauge
	durableIndex    prometheus.Gauge
	stateCommits    prometheus.Counter
	stateDuration   prometheus.Histogram
	stateErrors     prometheus.Counter
	truncations     prometheus.Counter
	truncateErrors  prometheus.Counter
	sinkCursor      *prometheus.GaugeVec
	sinkLag         *prometheus.GaugeVec
	sinkLagEntries  *prometheus.GaugeVec
	sinkLagBytes    *prometheus.GaugeVec
	sinkSent        *prometheus.CounterVec
	sinkSentBytes   *prometheus.CounterVec
	sinkSendDur     *prometheus.HistogramVec
	sinkFailures    *prometheus.CounterVec
	sinkDropped     *prometheus.CounterVec
	corruptRecords  *prometheus.CounterVec
	circuitOpen     *prometheus.GaugeVec
	oldestUnacked   *prometheus.GaugeVec
	degraded        *prometheus.GaugeVec
	warning         *prometheus.GaugeVec
	deliveryLatency *prometheus.HistogramVec
	walMaxBytes     prometheus.Gauge
	walCompression  *prometheus.CounterVec

	set *promset.Set
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		ingestRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_ingest_blocks_total", Help: "Blocks appended to the WAL."}),
		ingestEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_ingest_entries_total", Help: "Entries appended to the WAL."}),
		ingestBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_ingest_bytes_total", Help: "Line bytes appended to the WAL."}),
		groupCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "logcapturer_ingest_group_commit_blocks", Help: "Blocks written by one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		appendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_ingest_append_errors_total", Help: "Failed WAL appends or fsyncs (retried; sources wait meanwhile)."}),
		walFull: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_wal_full", Help: "1 while the WAL is at wal.max_bytes and sources wait."}),
		durableIndex: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_wal_durable_index", Help: "Highest WAL index known to be fsynced."}),
		stateCommits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_state_commits_total", Help: "Transactions writing cursors and positions to state.db."}),
		stateDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "logcapturer_state_commit_duration_seconds", Help: "Duration of state.db commits.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)}),
		stateErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_state_commit_errors_total", Help: "Failed state.db commits (retried at the next tick)."}),
		truncations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_wal_truncations_total", Help: "Times delivered WAL segments were deleted."}),
		truncateErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_wal_truncation_errors_total", Help: "Failed deletions of WAL segments (retention, drop_oldest); retried at the next pass."}),
		sinkCursor: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_sink_cursor", Help: "Last WAL index settled by the sink and committed."}, []string{"sink"}),
		sinkLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_sink_lag_blocks", Help: "Durable WAL blocks the sink has not acknowledged: after its cursor and not settled, plus its retry ranges."}, []string{"sink"}),
		sinkLagEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_sink_lag_entries", Help: "Entries routed to the sink it has not acknowledged, retry ranges included (dead letters are not)."}, []string{"sink"}),
		sinkLagBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_sink_lag_bytes", Help: "Line bytes of the entries counted by logcapturer_sink_lag_entries."}, []string{"sink"}),
		sinkSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_sink_sent_entries_total", Help: "Entries the sink acknowledged."}, []string{"sink"}),
		sinkSentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_sink_sent_bytes_total", Help: "Line bytes the sink acknowledged (before encoding)."}, []string{"sink"}),
		sinkSendDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "logcapturer_sink_send_duration_seconds", Help: "Duration of one Send, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"sink"}),
		sinkFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_sink_send_failures_total", Help: "Failed sends by class (retryable, permanent, unauthorized) and the sink's reason word."}, []string{"sink", "class", "reason"}),
		sinkDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_dropped_entries_total", Help: "Entries a sink will never deliver, by reason."}, []string{"sink", "reason"}),
		corruptRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_sink_corrupt_blocks_total", Help: "WAL blocks a sink skipped because they failed their checksum."}, []string{"sink"}),
		circuitOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_sink_circuit_open", Help: "1 while the sink's circuit breaker is open."}, []string{"sink"}),
		oldestUnacked: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_sink_oldest_unacked_age_seconds", Help: "Age of the oldest entry the sink has not delivered: its oldest retry range, or how long its cursor has not moved while behind."}, []string{"sink"}),
		deliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "logcapturer_sink_delivery_latency_seconds", Help: "From reading a batch's first block from the WAL (for a retry: its first attempt) to the sink's acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12)}, []string{"sink"}),
		walMaxBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_wal_max_bytes", Help: "wal.max_bytes: the WAL's size cap."}),
		walCompression: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_wal_compression_blocks_total",
			Help: "Blocks of 517 bytes or more by how the WAL stored them (wal.compression s2): compressed, tried (stored as they are: they shrank less than 4 times, or more than 512 times), skipped (stored as they are without trying: one of the last 15 blocks of their source and file was tried)."},
			[]string{"result"}),
		degraded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_component_degraded", Help: "1 while a component has the readiness reason (see /readyz)."}, []string{"component", "reason"}),
		warning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logcapturer_component_warning", Help: "1 while a component has the warning (the status's warnings; readiness is not affected)."}, []string{"component", "reason"}),
	}
	for _, r := range []string{"compressed", "tried", "skipped"} {
		m.walCompression.WithLabelValues(r) // served from the start, at 0
	}
	var err error
	if m.set, err = promset.Register(reg, "the pipeline", m.degraded, m.warning, m.deliveryLatency, m.walMaxBytes, m.circuitOpen, m.oldestUnacked, m.ingestRecords, m.ingestEntries, m.ingestBytes, m.groupCommit, m.walCompression,
		m.appendErrors, m.walFull, m.durableIndex, m.stateCommits, m.stateDuration, m.stateErrors,
		m.truncations, m.truncateErrors, m.sinkCursor, m.sinkLag, m.sinkLagEntries, m.sinkLagBytes, m.sinkSent, m.sinkSentBytes, m.sinkSendDur,
		m.sinkFailures, m.sinkDropped, m.corruptRecords); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) unregister() { m.set.Unregister() }
