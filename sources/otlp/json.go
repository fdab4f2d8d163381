package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/logcapturer/logcapturer/internal/otlpproto"
)

// jsonToProto transcodes an OTLP/JSON ExportLogsServiceRequest into its
// protobuf encoding, which decode then maps: one mapping for both
// encodings. OTLP/JSON is the protobuf JSON mapping with OTLP's rules:
// field names in lowerCamelCase (the original snake_case names are
// accepted too, as protobuf JSON parsers do), 64-bit integers as decimal
// strings or numbers, enums as integers (or their names), trace and span
// ids as hex, bytes as base64; unknown fields are ignored, null is an
// absent field. An error wraps errMalformed and says where.
func jsonToProto(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: json: %v", errMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: json: data after the request object", errMalformed)
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: json: want an object, got %s", errMalformed, kind(v))
	}
	var t transcoder
	out, err := t.request(nil, o)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return out, nil
}

type transcoder struct{}

// pathError is a problem at a JSON path ("resourceLogs[0].scopeLogs").
type pathError struct {
	path string
	msg  string
}

func (e *pathError) Error() string { return e.path + ": " + e.msg }

func at(path string, err error) error {
	var pe *pathError
	if errors.As(err, &pe) {
		return &pathError{path: path + "." + pe.path, msg: pe.msg}
	}
	return &pathError{path: path, msg: err.Error()}
}

// get returns the value of the field named camel (or snake), nil when
// absent or null.
func get(o map[string]any, camel, snake string) any {
	if v, ok := o[camel]; ok && v != nil {
		return v
	}
	if snake != "" {
		if v, ok := o[snake]; ok {
			return v
		}
	}
	return nil
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// each calls fn with every object of the array field (camel or snake).
func each(o map[string]any, camel, snake string, fn func(o map[string]any) error) error {
	v := get(o, camel, snake)
	if v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		return &pathError{camel, "want an array, got " + kind(v)}
	}
	for i, x := range arr {
		if x == nil {
			continue
		}
		obj, ok := x.(map[string]any)
		if !ok {
			return &pathError{fmt.Sprintf("%s[%d]", camel, i), "want an object, got " + kind(x)}
		}
		if err := fn(obj); err != nil {
			return at(fmt.Sprintf("%s[%d]", camel, i), err)
		}
	}
	return nil
}

// object returns the object field (camel or snake), nil when absent.
func object(o map[string]any, camel, snake string) (map[string]any, error) {
	v := get(o, camel, snake)
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &pathError{camel, "want an object, got " + kind(v)}
	}
	return obj, nil
}

// appendMsg appends field num holding the message fn builds.
func appendMsg(dst []byte, num protowire.Number, fn func([]byte) ([]byte, error)) ([]byte, error) {
	m, err := fn(nil)
	if err != nil {
		return dst, err
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, m), nil
}

func appendString(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

// stringField returns the string field (camel or snake), "" when absent.
func stringField(o map[string]any, camel, snake string) (string, error) {
	v := get(o, camel, snake)
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &pathError{camel, "want a string, got " + kind(v)}
	}
	return s, nil
}

func (t *transcoder) request(dst []byte, o map[string]any) ([]byte, error) {
	err := each(o, "resourceLogs", "resource_logs", func(rl map[string]any) error {
		var err error
		dst, err = appendMsg(dst, otlpproto.RequestResourceLogs, func(b []byte) ([]byte, error) { return t.resourceLogs(b, rl) })
		return err
	})
	return dst, err
}

func (t *transcoder) resourceLogs(dst []byte, o map[string]any) ([]byte, error) {
	res, err := object(o, "resource", "")
	if err != nil {
		return dst, err
	}
	if res != nil {
		dst, err = appendMsg(dst, otlpproto.RLResource, func(b []byte) ([]byte, error) {
			b, err := t.keyValues(b, otlpproto.ResourceAttributes, res)
			if err != nil {
				return b, at("resource", err)
			}
			return b, nil
		})
		if err != nil {
			return dst, err
		}
	}
	err = each(o, "scopeLogs", "scope_logs", func(sl map[string]any) error {
		var err error
		dst, err = appendMsg(dst, otlpproto.RLScopeLogs, func(b []byte) ([]byte, error) { return t.scopeLogs(b, sl) })
		return err
	})
	return dst, err
}

func (t *transcoder) keyValues(dst []byte, num protowire.Number, o map[string]any) ([]byte, error) {
	err := each(o, "attributes", "", func(kv map[string]any) error {
		var err error
		dst, err = appendMsg(dst, num, func(b []byte) ([]byte, error) { return t.keyValue(b, kv, 0) })
		return err
	})
	return dst, err
}

func (t *transcoder) keyValue(dst []byte, o map[string]any, depth int) ([]byte, error) {
	k, err := stringField(o, "key", "")
	if err != nil {
		return dst, err
	}
	dst = appendString(dst, otlpproto.KVKey, k)
	v, err := object(o, "value", "")
	if err != nil || v == nil {
		return dst, err
	}
	return appendMsg(dst, otlpproto.KVValue, func(b []byte) ([]byte, error) {
		b, err := t.anyValue(b, v, depth)
		if err != nil {
			return b, at("value", err)
		}
		return b, nil
	})
}

func (t *transcoder) scopeLogs(dst []byte, o map[string]any) ([]byte, error) {
	sc, err := object(o, "scope", "")
	if err != nil {
		return dst, err
	}
	if sc != nil {
		dst, err = appendMsg(dst, otlpproto.SLScope, func(b []byte) ([]byte, error) {
			for _, f := range []struct {
				name string
				num  protowire.Number
			}{{"name", otlpproto.ScopeName}, {"version", otlpproto.ScopeVersion}} {
				s, err := stringField(sc, f.name, "")
				if err != nil {
					return b, at("scope", err)
				}
				b = appendString(b, f.num, s)
			}
			b, err := t.keyValues(b, otlpproto.ScopeAttributes, sc)
			if err != nil {
				return b, at("scope", err)
			}
			return b, nil
		})
		if err != nil {
			return dst, err
		}
	}
	err = each(o, "logRecords", "log_records", func(lr map[string]any) error {
		var err error
		dst, err = appendMsg(dst, otlpproto.SLLogRecords, func(b []byte) ([]byte, error) { return t.logRecord(b, lr) })
		return err
	})
	return dst, err
}

func (t *transcoder) logRecord(dst []byte, o map[string]any) ([]byte, error) {
	for _, f := range []struct {
		camel, snake string
		num          protowire.Number
	}{{"timeUnixNano", "time_unix_nano", otlpproto.LRTime}, {"observedTimeUnixNano", "observed_time_unix_nano", otlpproto.LRObservedTime}} {
		v := get(o, f.camel, f.snake)
		if v == nil {
			continue
		}
		n, err := uintValue(v)
		if err != nil {
			return dst, &pathError{f.camel, err.Error()}
		}
		dst = protowire.AppendTag(dst, f.num, protowire.Fixed64Type)
		dst = binary.LittleEndian.AppendUint64(dst, n)
	}
	if v := get(o, "severityNumber", "severity_number"); v != nil {
		n, err := severityValue(v)
		if err != nil {
			return dst, &pathError{"severityNumber", err.Error()}
		}
		dst = protowire.AppendTag(dst, otlpproto.LRSeverityNumber, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(n))
	}
	for _, f := range []struct {
		camel, snake string
		num          protowire.Number
	}{{"severityText", "severity_text", otlpproto.LRSeverityText}, {"eventName", "event_name", otlpproto.LREventName}} {
		s, err := stringField(o, f.camel, f.snake)
		if err != nil {
			return dst, err
		}
		dst = appendString(dst, f.num, s)
	}
	body, err := object(o, "body", "")
	if err != nil {
		return dst, err
	}
	if body != nil {
		dst, err = appendMsg(dst, otlpproto.LRBody, func(b []byte) ([]byte, error) {
			b, err := t.anyValue(b, body, 0)
			if err != nil {
				return b, at("body", err)
			}
			return b, nil
		})
		if err != nil {
			return dst, err
		}
	}
	if dst, err = t.keyValues(dst, otlpproto.LRAttributes, o); err != nil {
		return dst, err
	}
	for _, f := range []struct {
		camel, snake string
		num          protowire.Number
		n            int
	}{{"traceId", "trace_id", otlpproto.LRTraceID, 16}, {"spanId", "span_id", otlpproto.LRSpanID, 8}} {
		s, err := stringField(o, f.camel, f.snake)
		if err != nil || s == "" {
			if err != nil {
				return dst, err
			}
			continue
		}
		id, err := hex.DecodeString(s)
		if err != nil || len(id) != f.n {
			return dst, &pathError{f.camel, fmt.Sprintf("want %d hex digits, got %q", 2*f.n, s)}
		}
		dst = protowire.AppendTag(dst, f.num, protowire.BytesType)
		dst = protowire.AppendBytes(dst, id)
	}
	return dst, nil
}

// anyValue transcodes an AnyValue object (the last of its value fields
// that is set wins, as a protobuf oneof decodes).
func (t *transcoder) anyValue(dst []byte, o map[string]any, depth int) ([]byte, error) {
	if depth >= maxDepth {
		return dst, fmt.Errorf("values nested deeper than %d", maxDepth)
	}
	for _, name := range sortedFieldNames(o) {
		v := o[name]
		if v == nil {
			continue
		}
		var err error
		switch name {
		case "stringValue", "string_value":
			s, ok := v.(string)
			if !ok {
				return dst, &pathError{name, "want a string, got " + kind(v)}
			}
			dst = protowire.AppendTag(dst, otlpproto.AnyString, protowire.BytesType)
			dst = protowire.AppendString(dst, s)
		case "boolValue", "bool_value":
			b, ok := v.(bool)
			if !ok {
				return dst, &pathError{name, "want a boolean, got " + kind(v)}
			}
			dst = protowire.AppendTag(dst, otlpproto.AnyBool, protowire.VarintType)
			dst = protowire.AppendVarint(dst, protowire.EncodeBool(b))
		case "intValue", "int_value":
			n, err := intValue(v)
			if err != nil {
				return dst, &pathError{name, err.Error()}
			}
			dst = protowire.AppendTag(dst, otlpproto.AnyInt, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(n))
		case "doubleValue", "double_value":
			f, err := doubleValue(v)
			if err != nil {
				return dst, &pathError{name, err.Error()}
			}
			dst = protowire.AppendTag(dst, otlpproto.AnyDouble, protowire.Fixed64Type)
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
		case "bytesValue", "bytes_value":
			s, ok := v.(string)
			if !ok {
				return dst, &pathError{name, "want a base64 string, got " + kind(v)}
			}
			b, err := decodeBase64(s)
			if err != nil {
				return dst, &pathError{name, "want a base64 string: " + err.Error()}
			}
			dst = protowire.AppendTag(dst, otlpproto.AnyBytes, protowire.BytesType)
			dst = protowire.AppendBytes(dst, b)
		case "arrayValue", "array_value", "kvlistValue", "kvlist_value":
			list, ok := v.(map[string]any)
			if !ok {
				return dst, &pathError{name, "want an object, got " + kind(v)}
			}
			num := protowire.Number(otlpproto.AnyArray)
			if strings.HasPrefix(name, "kvlist") {
				num = otlpproto.AnyKVList
			}
			dst, err = appendMsg(dst, num, func(b []byte) ([]byte, error) {
				err := each(list, "values", "", func(item map[string]any) error {
					var err error
					b, err = appendMsg(b, otlpproto.ListValues, func(c []byte) ([]byte, error) {
						if num == otlpproto.AnyKVList {
							return t.keyValue(c, item, depth+1)
						}
						return t.anyValue(c, item, depth+1)
					})
					return err
				})
				return b, err
			})
			if err != nil {
				return dst, at(name, err)
			}
		}
	}
	return dst, nil
}

// sortedFieldNames returns o's keys in a fixed order, so which of two
// value fields wins does not depend on map order.
func sortedFieldNames(o map[string]any) []string {
	names := make([]string, 0, len(o))
	for k := range o {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// numberText is the text of a JSON number or of a string holding one.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case string:
		return x, true
	}
	return "", false
}

func uintValue(v any) (uint64, error) {
	s, ok := numberText(v)
	if !ok {
		return 0, fmt.Errorf("want an integer, got %s", kind(v))
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an unsigned 64-bit integer, got %q", s)
	}
	return n, nil
}

func intValue(v any) (int64, error) {
	s, ok := numberText(v)
	if !ok {
		return 0, fmt.Errorf("want an integer, got %s", kind(v))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a 64-bit integer, got %q", s)
	}
	return n, nil
}

func doubleValue(v any) (float64, error) {
	s, ok := numberText(v)
	if !ok {
		return 0, fmt.Errorf("want a number, got %s", kind(v))
	}
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return f, nil
}

// severityNames are the SeverityNumber enum's value names.
var severityNames = func() map[string]int32 {
	m := map[string]int32{"SEVERITY_NUMBER_UNSPECIFIED": 0}
	for i, r := range severityRanges {
		for j := int32(0); j < 4; j++ {
			name := "SEVERITY_NUMBER_" + strings.ToUpper(r)
			if j > 0 {
				name += strconv.Itoa(int(j + 1))
			}
			m[name] = int32(i)*4 + j + 1
		}
	}
	return m
}()

func severityValue(v any) (int32, error) {
	if s, ok := v.(string); ok {
		if n, ok := severityNames[s]; ok {
			return n, nil
		}
	}
	n, err := intValue(v)
	if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("want a severity number, got %v", v)
	}
	return int32(n), nil
}
