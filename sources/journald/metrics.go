package journald

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/internal/promset"
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
// errors counters share their names (and help) with the file tailer's,
// with a source label; the others are journald's own.
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
	m := &metrics{
		entries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_entries_total",
			Help: "Entries handed to the ingest stage.",
		}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_blocks_total",
			Help: "Blocks (WAL records) handed to the ingest stage.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_source_errors_total",
			Help: "Errors met by the source, by reason.",
		}, []string{"reason"}),
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
	for _, r := range []string{reasonJournalctl, reasonFormat, reasonEmit, reasonCursor} {
		m.errors.WithLabelValues(r)
	}
	for _, r := range []string{skipTooLarge, skipNoMessage, skipMaxAge} {
		m.skipped.WithLabelValues(r)
	}
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"source": source}, reg)
	}
	var err error
	if m.set, err = promset.Register(reg, "source "+strconv.Quote(source),
		m.entries, m.blocks, m.errors, m.readBytes, m.restarts, m.skipped, m.up); err != nil {
		return nil, err
	}
	return m, nil
}
