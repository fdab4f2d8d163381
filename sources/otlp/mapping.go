package otlp

import (
	"maps"
	"slices"
	"strings"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// Metadata keys the receiver sets besides the attributes (see doc.go).
const (
	metaTraceID        = "trace_id"
	metaSpanID         = "span_id"
	metaScopeName      = "otel.scope.name"
	metaScopeVersion   = "otel.scope.version"
	metaEventName      = "event.name"
	metaSeverityNumber = "severity_number"
)

// mapping is the compiled form of a Config's mapping options: what the
// decoder needs to turn records into entries.
type mapping struct {
	// clock times the records that carry no time (the receive time, 1 ns
	// after the last: see sources.EntryClock).
	clock sources.EntryClock
	// static are the source's configured labels, sorted by name.
	static []wal.Label
	// resource maps a resource attribute name to the label it becomes.
	resource map[string]string
	// severity is the label taking the record's severity; "" is off.
	severity string
}

func newMapping(static map[string]string, resource map[string]string, severity string) *mapping {
	m := &mapping{resource: map[string]string{}}
	for _, k := range slices.Sorted(maps.Keys(static)) {
		m.static = append(m.static, wal.Label{Name: k, Value: static[k]})
	}
	for attr, label := range resource {
		if attr = strings.TrimSpace(attr); attr != "" {
			if label = strings.TrimSpace(label); label != "" {
				m.resource[attr] = label
			}
		}
	}
	if severity != Off {
		m.severity = severity
	}
	return m
}

// setLabel returns ls (sorted by name) with name set to value, as a new
// slice: ls may be shared.
func setLabel(ls []wal.Label, name, value string) []wal.Label {
	i, found := slices.BinarySearchFunc(ls, name, func(l wal.Label, n string) int { return strings.Compare(l.Name, n) })
	out := make([]wal.Label, 0, len(ls)+1)
	out = append(out, ls[:i]...)
	out = append(out, wal.Label{Name: name, Value: value})
	if found {
		i++
	}
	return append(out, ls[i:]...)
}

// Severity numbers of the OpenTelemetry logs data model: each range of
// four (TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR 17-20, FATAL
// 21-24) has a short name.
var severityRanges = [...]string{"trace", "debug", "info", "warn", "error", "fatal"}

// severityName is the level a record with severity_number n and no
// severity_text gets: its range's short name; "" for 0 (UNSPECIFIED) or
// a number out of range.
func severityName(n int32) string {
	if n < 1 || n > 24 {
		return ""
	}
	return severityRanges[(n-1)/4]
}

// severityNumbers is the table the otlp sink maps a level's text by
// (sinks/otlp: its severities): the receiver keeps severity_number as
// metadata only when the sink would not derive the same number back from
// the level, so a round trip through both loses nothing.
var severityNumbers = map[string]int32{
	"trace": 1, "trc": 1, "finest": 1,
	"debug": 5, "dbg": 5, "fine": 5,
	"info": 9, "inf": 9, "information": 9, "informational": 9,
	"notice": 10,
	"warn":   13, "warning": 13, "wrn": 13,
	"error": 17, "err": 17, "eror": 17,
	"fatal": 21, "ftl": 21, "panic": 21,
	"crit": 22, "critical": 22,
	"alert": 23,
	"emerg": 24, "emergency": 24,
}

// derivedSeverity is the number the otlp sink sends for a level text.
func derivedSeverity(text string) int32 {
	return severityNumbers[strings.ToLower(strings.TrimSpace(text))]
}
