package stages

import (
	"strconv"
	"unicode/utf8"
)

// maxLabelValueBytes is the longest label value Loki accepts by default
// (max_label_value_length).
const maxLabelValueBytes = 2048

// extractedString returns the extracted value name as a string (toString)
// for the stages that take their values from it by name (labels,
// structured_metadata, pack). An absent value is false and no failure
// (Promtail skips it silently); one that is not a string is false and
// counted as stage's failure source_not_a_string.
func extractedString(e *Entry, name, stage string, failed func(stage, reason string)) (string, bool) {
	v, ok := e.Extracted[name]
	if !ok {
		return "", false
	}
	str, ok := toString(v)
	if !ok {
		failed(stage, "source_not_a_string")
	}
	return str, ok
}

// toString converts an extracted value to a string as Promtail's getString
// does: numbers without exponent or trailing zeros, booleans as true/false.
// Other types (nil, maps) do not convert.
func toString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case uint:
		return strconv.FormatUint(uint64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// validLabelName reports whether name is a label name Loki accepts:
// [a-zA-Z_][a-zA-Z0-9_]* (Prometheus' legacy rule, which Loki enforces).
func validLabelName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// labelValueProblem returns why v cannot be a label value ("" if it can):
// Promtail skips values that are not UTF-8; Loki refuses values over 2,048
// bytes, so this package drops them at the source.
func labelValueProblem(v string) string {
	if !utf8.ValidString(v) {
		return "label_value_not_utf8"
	}
	if len(v) > maxLabelValueBytes {
		return "label_value_too_long"
	}
	return ""
}

// source returns the text a parsing stage works on: the line, or the
// extracted value named by src. ok is false when src is set but absent or
// not convertible (Promtail skips the entry's stage silently then).
func sourceText(e *Entry, src *string) (string, bool) {
	if src == nil {
		return e.Line, true
	}
	v, ok := e.Extracted[*src]
	if !ok {
		return "", false
	}
	return toString(v)
}
