package journald

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/logcapturer/logcapturer/sources"
)

// Values of the reason label of logcapturer_source_errors_total.
const (
	reasonJournalctl = "journalctl" // journalctl could not start, or exited
	reasonFormat     = "format"     // journalctl's output was not the export format
	reasonEmit       = "emit"       // the Emitter refused a record (not shutdown)
	reasonCursor     = "cursor"     // journalctl refused the stored cursor
)

// Values of the reason label of logcapturer_journald_skipped_entries_total.
const (
	skipTooLarge  = "too_large"  // larger than max_entry_bytes
	skipNoMessage = "no_message" // no MESSAGE field (json: false)
	skipMaxAge    = "max_age"    // older than max_age
)

// metrics are a journald source's collectors. The entries, blocks and
// errors counters are every source's (sources.Counters); the others are
// journald's own.
type metrics struct {
	entries   prometheus.Counter
	blocks    prometheus.Counter
	errors    *prometheus.CounterVec
	readBytes prometheus.Counter
	restarts  prometheus.Counter
	skipped   *prometheus.CounterVec
	up        prometheus.Gauge

	set *promset.Set
}

func newMetrics(reg prometheus.Registerer, source string) (*metrics, error) {
	c := sources.NewCounters(reasonJournalctl, reasonFormat, reasonEmit, reasonCursor)
	m := &metrics{
		entries: c.Entries,
		blocks:  c.Blocks,
		errors:  c.Errors,
		readBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_journald_read_bytes_total",
			Help: "Bytes of journal export format read from journalctl.",
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_journald_restarts_total",
			Help: "Times journalctl was started again after it exited or failed to start.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_journald_skipped_entries_total",
			Help: "Journal entries read and not shipped, by reason: too_large (over max_entry_bytes), no_message (no MESSAGE field), max_age (older than max_age).",
		}, []string{"reason"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_journald_up",
			Help: "1 while the source's journalctl runs, 0 while it is down (waiting to be restarted).",
		}),
	}
	for _, r := range []string{skipTooLarge, skipNoMessage, skipMaxAge} {
		m.skipped.WithLabelValues(r)
	}
	var err error
	if m.set, err = sources.RegisterMetrics(reg, source,
		m.entries, m.blocks, m.errors, m.readBytes, m.restarts, m.skipped, m.up); err != nil {
		return nil, err
	}
	return m, nil
}
