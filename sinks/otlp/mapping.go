package otlp

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/wal"
)

// attrMap is one attribute of a mapping and the labels it is taken from,
// first present (non-empty) wins.
type attrMap struct {
	name   string
	labels []string
}

// mapping is Options' attribute, severity and trace settings, compiled.
type mapping struct {
	resource []attrMap // sorted by attribute name
	attrs    []attrMap // sorted by attribute name
	// severity, traceID, spanID name a label (else metadata key); "" is off.
	severity, traceID, spanID string
}

func newMapping(o *Options) mapping {
	m := mapping{
		resource: compileMap(o.ResourceAttributes),
		attrs:    compileMap(o.Attributes),
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&m.severity, o.SeverityLabel}, {&m.traceID, o.TraceIDLabel}, {&m.spanID, o.SpanIDLabel}} {
		if f.v != off {
			*f.dst = f.v
		}
	}
	return m
}

func compileMap(m map[string]string) []attrMap {
	var out []attrMap
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if ls := labelList(m[name]); len(ls) > 0 {
			out = append(out, attrMap{name: name, labels: ls})
		}
	}
	return out
}

// attrServiceName is the resource attribute every resource gets.
const attrServiceName = "service.name"

// lookup returns the value of the label name in ls (sorted by name), ""
// when it is absent. Labels starting with "__" are never found (the
// configuration refuses such names).
func lookup(ls []wal.Label, name string) string {
	for i := range ls {
		if ls[i].Name == name {
			return ls[i].Value
		}
	}
	return ""
}

// first returns the value of the first of names that ls has non-empty.
func first(ls []wal.Label, names []string) string {
	for _, n := range names {
		if v := lookup(ls, n); v != "" {
			return v
		}
	}
	return ""
}

// Severity numbers of the OpenTelemetry logs data model.
const (
	sevUnspecified = 0
	sevTrace       = 1
	sevDebug       = 5
	sevInfo        = 9
	sevInfo2       = 10
	sevWarn        = 13
	sevError       = 17
	sevFatal       = 21
	sevFatal2      = 22
	sevFatal3      = 23
	sevFatal4      = 24
)

// severities maps common level names (compared without case) to severity
// numbers: the data model's own names, and syslog's as its appendix maps
// them (notice INFO2, critical FATAL2, alert FATAL3, emergency FATAL4).
var severities = []struct {
	name string
	num  int32
}{
	{"trace", sevTrace}, {"trc", sevTrace}, {"finest", sevTrace},
	{"debug", sevDebug}, {"dbg", sevDebug}, {"fine", sevDebug},
	{"info", sevInfo}, {"inf", sevInfo}, {"information", sevInfo}, {"informational", sevInfo},
	{"notice", sevInfo2},
	{"warn", sevWarn}, {"warning", sevWarn}, {"wrn", sevWarn},
	{"error", sevError}, {"err", sevError}, {"eror", sevError},
	{"fatal", sevFatal}, {"ftl", sevFatal}, {"panic", sevFatal},
	{"crit", sevFatal2}, {"critical", sevFatal2},
	{"alert", sevFatal3},
	{"emerg", sevFatal4}, {"emergency", sevFatal4},
}

// severityNumber maps a level's text to its severity number; 0
// (UNSPECIFIED) for a text the table does not know.
func severityNumber(s string) int32 {
	s = strings.TrimSpace(s)
	for _, e := range severities {
		if len(e.name) == len(s) && strings.EqualFold(e.name, s) {
			return e.num
		}
	}
	return sevUnspecified
}

// parseID decodes a trace id (n = 16) or span id (n = 8) from 2n hex
// digits (either case) into dst. An id of another length, with a non-hex
// digit, or all zeros (OTLP's "no id") is not valid.
func parseID(dst []byte, s string) bool {
	n := len(dst)
	if len(s) != 2*n {
		return false
	}
	nonzero := false
	for i := 0; i < n; i++ {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
		nonzero = nonzero || dst[i] != 0
	}
	return nonzero
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// validKey returns s as an attribute key: protobuf strings must be UTF-8,
// so invalid bytes become U+FFFD (a copy, only then).
func validKey(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
