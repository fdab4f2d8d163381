package syslog

import (
	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/prometheus/client_golang/prometheus"
)

// Values of the reason label of logcapturer_source_errors_total for a
// syslog source.
const (
	reasonFraming        = "framing"         // a stream's bytes are not RFC 6587 frames: the connection was closed
	reasonParse          = "parse"           // a message that is not RFC 5424 / RFC 3164: shipped raw, parse_error="true"
	reasonIdle           = "idle_timeout"    // a connection idle for idle_timeout in the middle of a frame: closed, the partial frame lost
	reasonRead           = "read"            // any other read error of a connection or of the UDP socket
	reasonTLS            = "tls"             // a TLS handshake failed
	reasonAccept         = "accept"          // accepting a connection failed
	reasonMaxConnections = "max_connections" // a connection over max_connections was closed at once
	reasonEmit           = "emit"            // the Emitter refused a block (not shutdown)
)

// Values of the reason label of logcapturer_source_dropped_entries_total.
const (
	dropTooLong      = "too_long"     // longer than max_message_length, max_message_policy drop
	dropBackpressure = "backpressure" // UDP: the WAL did not take them fast enough
	dropShutdown     = "shutdown"     // received but not in the WAL when the source stopped
	dropIncomplete   = "incomplete"   // gelf: a chunked message whose chunks did not all come within 5s (or held too much memory)
)

type metrics struct {
	received    prometheus.Counter
	entries     prometheus.Counter
	blocks      prometheus.Counter
	truncated   prometheus.Counter
	connections prometheus.Gauge
	accepted    prometheus.Counter
	errors      *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	set         *promset.Set
}

// newMetrics makes the source's collectors and registers them with a
// source=<name> label. entries, blocks and errors are every source's
// (sources.Counters), so that every kind of source can be registered on
// one registry.
func newMetrics(reg prometheus.Registerer, source string) (*metrics, error) {
	c := sources.NewCounters(reasonFraming, reasonParse, reasonIdle, reasonRead, reasonTLS, reasonAccept, reasonMaxConnections, reasonEmit)
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_received_bytes_total",
			Help: "Bytes a listening source received (messages with their framing).",
		}),
		entries: c.Entries,
		blocks:  c.Blocks,
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_truncated_entries_total",
			Help: "Messages longer than max_message_length cut to it (max_message_policy truncate).",
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_source_connections",
			Help: "Stream connections open on a listening source.",
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_source_connections_total",
			Help: "Stream connections accepted by a listening source (including those closed at once over max_connections).",
		}),
		errors: c.Errors,
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_source_dropped_entries_total",
			Help: "Messages a listening source received and did not put in the WAL, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range []string{dropTooLong, dropBackpressure, dropShutdown, dropIncomplete} {
		m.dropped.WithLabelValues(r)
	}
	var err error
	if m.set, err = sources.RegisterMetrics(reg, source,
		m.received, m.entries, m.blocks, m.truncated, m.connections, m.accepted, m.errors, m.dropped); err != nil {
		return nil, err
	}
	return m, nil
}
