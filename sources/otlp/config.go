package otlp

import (
	"maps"
	"slices"
	"strings"
)

// Defaults of Config.
const (
	// DefaultListenAddress is where the receiver listens by default: the
	// OTLP/HTTP port, on loopback only.
	DefaultListenAddress = "127.0.0.1:4318"
	// DefaultSeverityLabel is the label the severity goes to.
	DefaultSeverityLabel = "level"
	// Off as severity_label keeps the severity as structured metadata
	// (key "level") instead of a label.
	Off = "-"
	// blockBytes is the line bytes per WAL block the receiver aims at, as
	// the file tailer's default.
	blockBytes = 64 << 10
)

// DefaultResourceAttributes is the mapping used when resource_attributes
// is not set: the resource attribute service.name becomes the label
// service_name.
func DefaultResourceAttributes() map[string]string {
	return map[string]string{"service.name": "service_name"}
}

// validLabelName reports whether s is a label name Loki accepts
// ([a-zA-Z_][a-zA-Z0-9_]*) and not a reserved one (starting with "__").
func validLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// sortedKeys is the keys of m, sorted.
func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
