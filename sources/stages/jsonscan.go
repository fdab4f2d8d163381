package stages

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/internal/jsonstr"
)

// This file is the json stage's fast path: a validating JSON scanner that
// accepts what encoding/json accepts (RFC 8259, nesting up to 10,000) and
// returns where the wanted fields' values are, without building the
// object. The json stage's fuzz target checks it against encoding/json
// plus go-jmespath.

// span is a value's bytes in the line; start < 0: absent.
type span struct{ start, end int }

var errJSON = errors.New("malformed json")

const maxJSONDepth = 10000

// plainPath splits a JMESPath expression made only of fields (foo,
// foo.bar, "quoted-name".x) into its field names.
func plainPath(expr string) ([]string, bool) {
	var path []string
	i := 0
	for {
		if i >= len(expr) {
			return nil, false
		}
		if expr[i] == '"' {
			j := i + 1
			for j < len(expr) && expr[j] != '"' {
				if expr[j] == '\\' || expr[j] < 0x20 {
					return nil, false
				}
				j++
			}
			if j >= len(expr) || !utf8.ValidString(expr[i+1:j]) {
				return nil, false
			}
			path = append(path, expr[i+1:j])
			i = j + 1
		} else {
			j := i
			for j < len(expr) && (expr[j] == '_' || (expr[j] >= 'a' && expr[j] <= 'z') || (expr[j] >= 'A' && expr[j] <= 'Z') || (j > i && expr[j] >= '0' && expr[j] <= '9')) {
				j++
			}
			if j == i {
				return nil, false
			}
			path = append(path, expr[i:j])
			i = j
		}
		if i == len(expr) {
			return path, true
		}
		if expr[i] != '.' {
			return nil, false
		}
		i++
	}
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanTopObject validates s as one JSON object (or null, which has no
// fields, as decoding null into a map gives) and sets spans[i] to the value
// of key want[i] (want sorted; the last of duplicate keys wins, as with
// encoding/json).
func scanTopObject(s string, want []string, spans []span) error {
	i := skipWS(s, 0)
	if i < len(s) && s[i] == 'n' {
		if len(s)-i >= 4 && s[i:i+4] == "null" && skipWS(s, i+4) == len(s) {
			return nil
		}
		return errJSON
	}
	if i >= len(s) || s[i] != '{' {
		return errJSON
	}
	end, err := scanObject(s, i, 1, want, spans)
	if err != nil {
		return err
	}
	if skipWS(s, end) != len(s) {
		return errJSON
	}
	return nil
}

// scanObject scans the object at s[i] == '{', returning the index after
// it. With want, it records the spans of the wanted keys.
func scanObject(s string, i, depth int, want []string, spans []span) (int, error) {
	if depth > maxJSONDepth {
		return 0, errJSON
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, errJSON
		}
		kstart := i
		kend, plain, err := scanString(s, i)
		if err != nil {
			return 0, err
		}
		key := s[kstart+1 : kend-1]
		i = skipWS(s, kend)
		if i >= len(s) || s[i] != ':' {
			return 0, errJSON
		}
		i = skipWS(s, i+1)
		vstart := i
		if i, err = scanValue(s, i, depth); err != nil {
			return 0, err
		}
		if len(want) > 0 {
			if !plain {
				key = unquoteKey(s[kstart:kend])
			}
			if j, ok := slices.BinarySearch(want, key); ok {
				spans[j] = span{vstart, i}
			}
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return 0, errJSON
		}
		if s[i] == '}' {
			return i + 1, nil
		}
		if s[i] != ',' {
			return 0, errJSON
		}
		i = skipWS(s, i+1)
	}
}

func unquoteKey(q string) string { return unquote(q) }

// decodeObject decodes s, one JSON object (or null: a nil map), as
// Promtail's json-iterator decodes it into map[string]interface{}:
// numbers as float64, strings with their bytes as they are (see
// unquote), the last of duplicate keys. It validates s first (as
// scanTopObject), so the walk below needs no checks.
func decodeObject(s string) (map[string]any, error) {
	if err := scanTopObject(s, nil, nil); err != nil {
		return nil, err
	}
	i := skipWS(s, 0)
	if s[i] == 'n' {
		return nil, nil
	}
	v, _, err := decodeValue(s, i)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// decodeValue decodes the valid JSON value at s[i]; it returns the index
// after it. A number out of float64's range is an error, as with
// encoding/json.
func decodeValue(s string, i int) (any, int, error) {
	switch s[i] {
	case '{':
		m := map[string]any{}
		i = skipWS(s, i+1)
		for s[i] != '}' {
			end, _, _ := scanString(s, i)
			k := unquote(s[i:end])
			i = skipWS(s, skipWS(s, end)+1) // past ':'
			v, j, err := decodeValue(s, i)
			if err != nil {
				return nil, 0, err
			}
			m[k] = v
			if i = skipWS(s, j); s[i] == ',' {
				i = skipWS(s, i+1)
			}
		}
		return m, i + 1, nil
	case '[':
		a := []any{}
		i = skipWS(s, i+1)
		for s[i] != ']' {
			v, j, err := decodeValue(s, i)
			if err != nil {
				return nil, 0, err
			}
			a = append(a, v)
			if i = skipWS(s, j); s[i] == ',' {
				i = skipWS(s, i+1)
			}
		}
		return a, i + 1, nil
	case '"':
		end, _, _ := scanString(s, i)
		return unquote(s[i:end]), end, nil
	case 't':
		return true, i + 4, nil
	case 'f':
		return false, i + 5, nil
	case 'n':
		return nil, i + 4, nil
	}
	end, _ := scanNumber(s, i)
	f, err := strconv.ParseFloat(s[i:end], 64)
	if err != nil {
		return nil, 0, err
	}
	return f, end, nil
}

// scanValue scans one value at s[i], returning the index after it.
func scanValue(s string, i, depth int) (int, error) {
	if i >= len(s) {
		return 0, errJSON
	}
	switch c := s[i]; {
	case c == '"':
		end, _, err := scanString(s, i)
		return end, err
	case c == '{':
		return scanObject(s, i, depth+1, nil, nil)
	case c == '[':
		return scanArray(s, i, depth+1)
	case c == 't':
		return literal(s, i, "true")
	case c == 'f':
		return literal(s, i, "false")
	case c == 'n':
		return literal(s, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(s, i)
	}
	return 0, errJSON
}

func literal(s string, i int, lit string) (int, error) {
	if len(s)-i >= len(lit) && s[i:i+len(lit)] == lit {
		return i + len(lit), nil
	}
	return 0, errJSON
}

func scanArray(s string, i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, errJSON
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = scanValue(s, i, depth); err != nil {
			return 0, err
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return 0, errJSON
		}
		if s[i] == ']' {
			return i + 1, nil
		}
		if s[i] != ',' {
			return 0, errJSON
		}
		i = skipWS(s, i+1)
	}
}

// scanString scans the string at s[i] == '"'. plain reports that it has no
// escapes and is valid UTF-8, so its bytes are its value.
func scanString(s string, i int) (end int, plain bool, err error) {
	plain = true
	ascii := true
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '"':
			if !ascii && !utf8.ValidString(s[i+1:j]) {
				plain = false
			}
			return j + 1, plain, nil
		case c < 0x20:
			return 0, false, errJSON
		case c >= 0x80:
			ascii = false
		case c == '\\':
			plain = false
			j++
			if j >= len(s) {
				return 0, false, errJSON
			}
			switch s[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s)-j < 5 {
					return 0, false, errJSON
				}
				for _, h := range []byte(s[j+1 : j+5]) {
					if !isHex(h) {
						return 0, false, errJSON
					}
				}
				j += 4
			default:
				return 0, false, errJSON
			}
		}
	}
	return 0, false, errJSON
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and, as
// encoding/json does when decoding into an interface, refuses a number
// out of float64 range.
func scanNumber(s string, i int) (int, error) {
	start := i
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, errJSON
	}
	exp := false
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return 0, errJSON
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		exp = true
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, errJSON
		}
	}
	if exp || i-start > 300 {
		if _, err := strconv.ParseFloat(s[start:i], 64); err != nil {
			return 0, errJSON
		}
	}
	return i, nil
}

// findField returns the span of field name in the object at sp (already
// validated), the last one if repeated; absent if sp is not an object.
func findField(s string, sp span, name string) span {
	if s[sp.start] != '{' {
		return span{-1, -1}
	}
	want := []string{name}
	out := []span{{-1, -1}}
	if _, err := scanObject(s[:sp.end], sp.start, 1, want, out); err != nil {
		return span{-1, -1}
	}
	return out[0]
}

// unquote returns the value of a quoted JSON string (already validated
// by the scanner) as Promtail's json-iterator reads it (see
// jsonstr.AppendUnescaped): escapes decoded, every other byte as it is,
// so a value that is not UTF-8 stays so (the labels stage then skips it,
// as Promtail's does), where encoding/json would put U+FFFD.
func unquote(q string) string {
	body := q[1 : len(q)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body
	}
	return string(jsonstr.AppendUnescaped(make([]byte, 0, len(body)), []byte(body)))
}
