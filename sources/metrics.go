package sources

import (
	"strconv"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/prometheus/client_golang/prometheus"
)

// Values of the reason label of logcapturer_source_errors_total.
const (
	reasonPermission = "permission"       // a matching file or directory could not be opened
	reasonOpen       = "open"             // any other open or stat failure
	reasonRead       = "read"             // stat or read of an open file failed
	reasonWatch      = "watch"            // fsnotify failures, including queue overflow
	reasonTruncated  = "truncated"        // a file shrank below our offset: restarted at 0
	reasonPosition   = "position"         // a stored position did not match its file (truncated or replaced while stopped)
	reasonEmit       = "emit"             // the Emitter refused a record (not shutdown)
	reasonParse      = "parse"            // a Docker or CRI line that does not parse: shipped raw, parse_error="true"
	reasonTimestamp  = "timestamp"        // an entry's timestamp not found or not parsed: read time kept
	reasonOpenLimit  = "max_open_files"   // a file waited for a descriptor (max_open_files)
	reasonKubernetes = "kubernetes_api"   // a list of the node's pods failed (type kubernetes only)
	reasonKubeCache  = "kubernetes_cache" // the pod list could not be kept in the data directory (type kubernetes only)
	reasonEncoding   = "encoding"         // a line the encoding option could not convert: shipped as read
)

// metrics are a source's collectors. They always exist; they are registered
// only when a Registerer was given.
type metrics struct {
	readBytes  prometheus.Counter
	entries    prometheus.Counter
	blocks     prometheus.Counter
	linesSplit prometheus.Counter
	filesOpen  prometheus.Gauge
	// filesDeletedOpen are open files whose path no longer leads to them
	// (deleted, or rotated out of the globs), read to their end.
	filesDeletedOpen prometheus.Gauge
	// lagBytes: the files' bytes past their offsets (status LAG BYTES).
	lagBytes prometheus.Gauge
	// copies are files taken for copies of another (copytruncate).
	copies prometheus.Counter
	errors *prometheus.CounterVec
	// kubePods: the pods the last list found (type kubernetes only).
	kubePods prometheus.Gauge

	set *promset.Set
}

func newMetrics(reg prometheus.Registerer, source string, kube bool) (*metrics, error) {
	c := NewCounters(reasonPermission, reasonOpen, reasonRead, reasonWatch, reasonTruncated, reasonPosition, reasonEmit, reasonParse, reasonTimestamp, reasonOpenLimit, reasonEncoding)
	m := &metrics{
		readBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_read_bytes_total",
			Help: "Bytes consumed from files (lines and their newlines).",
		}),
		entries: c.Entries,
		blocks:  c.Blocks,
		linesSplit: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_lines_split_total",
			Help: "Cuts made in lines and entries longer than max_line_bytes (one per chunk cut off).",
		}),
		filesOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_source_files_open",
			Help: "Files currently held open by the source.",
		}),
		filesDeletedOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_source_files_deleted_open",
			Help: "Open files that were deleted or rotated out of the globs, kept open until read to their end.",
		}),
		lagBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_source_lag_bytes",
			Help: "Bytes of the source's files not read yet (size at the last stat past the offset), over its open, draining and idle files, as at the end of its last read round: the LAG BYTES of logcapturer status.",
		}),
		copies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_copies_total",
			Help: "New files whose first fingerprint_bytes match a file tailed or truncated lately (copytruncate): resumed at that file's offset, not read from their beginning.",
		}),
		errors: c.Errors,
		kubePods: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_source_kubernetes_pods",
			Help: "Pods of this node that the last list from the Kubernetes API found (type kubernetes).",
		}),
	}
	cs := []prometheus.Collector{m.readBytes, m.entries, m.blocks, m.linesSplit, m.filesOpen, m.filesDeletedOpen, m.lagBytes, m.copies, m.errors}
	if kube {
		m.errors.WithLabelValues(reasonKubernetes)
		m.errors.WithLabelValues(reasonKubeCache)
		cs = append(cs, m.kubePods)
	}
	var err error
	if m.set, err = RegisterMetrics(reg, source, cs...); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) unregister() { m.set.Unregister() }

func (m *metrics) error(reason string) { m.errors.WithLabelValues(reason).Inc() }

// Counters are the collectors every kind of source has, under the same
// names and help whatever the kind, so that sources of every kind can be
// registered on one registry (told apart by their source label):
//
//	logcapturer_source_entries_total         entries handed to the ingest stage
//	logcapturer_source_blocks_total          blocks (WAL records) handed to it
//	logcapturer_source_errors_total{reason}  errors met, by reason
//
// A source kind makes them with NewCounters, adds its own collectors and
// registers them all with RegisterMetrics.
type Counters struct {
	Entries prometheus.Counter
	Blocks  prometheus.Counter
	Errors  *prometheus.CounterVec
}

// NewCounters makes a source's Counters, unregistered. Each of reasons
// (the values of the errors' reason label this kind of source uses) is
// made at once, so that it is exported at 0 before its first error.
func NewCounters(reasons ...string) Counters {
	c := Counters{
		Entries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_entries_total",
			Help: "Entries handed to the ingest stage.",
		}),
		Blocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_blocks_total",
			Help: "Blocks (WAL records) handed to the ingest stage.",
		}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_source_errors_total",
			Help: "Errors met by the source, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range reasons {
		c.Errors.WithLabelValues(r)
	}
	return c
}

// RegisterMetrics registers a source's collectors on reg, labelled
// source=<source>, all or none (promset.Register); the error names the
// source. A nil reg registers nothing and returns an empty set. The
// source unregisters the set when it closes.
func RegisterMetrics(reg prometheus.Registerer, source string, cs ...prometheus.Collector) (*promset.Set, error) {
	return registerMetrics(reg, source, "source "+strconv.Quote(source), cs...)
}

// registerMetrics is RegisterMetrics with what the error names (promset's
// what).
func registerMetrics(reg prometheus.Registerer, source, what string, cs ...prometheus.Collector) (*promset.Set, error) {
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"source": source}, reg)
	}
	return promset.Register(reg, what, cs...)
}
