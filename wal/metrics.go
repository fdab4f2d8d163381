package wal

import (
	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are always created, so the code that counts never checks for nil;
// they are registered only when Options.Registerer is set.
type metrics struct {
	reg prometheus.Registerer

	appendedRecords prometheus.Counter
	appendedBytes   prometheus.Counter
	fsyncDuration   prometheus.Histogram
	repairs         prometheus.Counter
	repairedBytes   prometheus.Counter
	corruptReads    prometheus.Counter

	// collectors lists everything above plus the gauges, in registration
	// order.
	collectors []prometheus.Collector
	set        *promset.Set
}

func newMetrics(l *Log, reg prometheus.Registerer) *metrics {
	m := &metrics{
		reg: reg,
		appendedRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_wal_appended_records_total",
			Help: "Blocks appended to the WAL (the blocks of one group commit share one record).",
		}),
		appendedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_wal_appended_bytes_total",
			Help: "Bytes of blocks appended to the WAL (framed blocks, without record heads and the segment's length prefixes).",
		}),
		fsyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logcapturer_wal_fsync_duration_seconds",
			Help:    "Duration of WAL Sync calls that reached the disk (file fsync plus directory fsync when needed).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs … 3.3s
		}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_wal_repairs_total",
			Help: "Torn or garbage segment tails cut off when the WAL was opened.",
		}),
		repairedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_wal_repaired_bytes_total",
			Help: "Bytes cut off segment tails when the WAL was opened (kept in .broken files).",
		}),
		corruptReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_wal_corrupt_reads_total",
			Help: "Reads that found a corrupt block or record head.",
		}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.collectors = []prometheus.Collector{
		gauge("logcapturer_wal_bytes", "Total size of the WAL segment files.",
			func() float64 { return float64(l.Size()) }),
		gauge("logcapturer_wal_segments", "Number of WAL segment files.",
			func() float64 { return float64(l.nsegs.Load()) }),
		gauge("logcapturer_wal_first_index", "Index of the oldest record in the WAL (LastIndex+1 when empty).",
			func() float64 { return float64(l.FirstIndex()) }),
		gauge("logcapturer_wal_last_index", "Index of the newest record in the WAL.",
			func() float64 { return float64(l.LastIndex()) }),
		m.appendedRecords, m.appendedBytes, m.fsyncDuration,
		m.repairs, m.repairedBytes, m.corruptReads,
	}
	return m
}

// register registers every collector, or none.
func (m *metrics) register() (err error) {
	m.set, err = promset.Register(m.reg, "the wal", m.collectors...)
	return err
}
