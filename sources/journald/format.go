package journald

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/internal/jsonstr"
	"github.com/logcapturer/logcapturer/wal"
)

// formatter turns journal entries into WAL entries: the line (MESSAGE, or
// the entry as JSON), the labels taken from fields and the structured
// metadata. It is owned by the source's goroutine.
type formatter struct {
	json bool
	// labels are the configured stream labels, sorted: the block's labels.
	labels []wal.Label
	// fromFields and meta map label (metadata) names to fields, sorted by
	// name.
	fromFields []mapping
	meta       []mapping
	// strs interns label values (units, host names repeat).
	strs map[string]string
	// order is scratch for the JSON encoding: field indexes sorted by name.
	order []int
}

type mapping struct{ name, field string }

func newFormatter(o *Options, labels map[string]string) *formatter {
	f := &formatter{json: o.JSON, strs: make(map[string]string)}
	for _, k := range sortedKeys(labels) {
		f.labels = append(f.labels, wal.Label{Name: k, Value: labels[k]})
	}
	fl := o.fieldLabels()
	for _, k := range sortedKeys(fl) {
		if _, ok := labels[k]; ok {
			continue // a configured label wins over the field's
		}
		f.fromFields = append(f.fromFields, mapping{k, fl[k]})
	}
	for _, k := range sortedKeys(o.Metadata) {
		if o.Metadata[k] != "" {
			f.meta = append(f.meta, mapping{k, o.Metadata[k]})
		}
	}
	return f
}

// line appends e's line to dst: MESSAGE's first value, byte for byte, or
// the JSON object. ok is false for an entry without MESSAGE outside JSON
// mode (skipped, as Promtail does).
func (f *formatter) line(dst []byte, e *entry) (out []byte, ok bool) {
	if f.json {
		return f.appendJSON(dst, e), true
	}
	msg, ok := e.get("MESSAGE")
	if !ok {
		return dst, false
	}
	return append(dst, msg...), true
}

// entryLabels returns the entry's whole label set (configured labels and
// those from fields, sorted) or nil when no field gave one (the block's
// labels are the entry's).
func (f *formatter) entryLabels(e *entry) []wal.Label {
	var out []wal.Label
	for _, m := range f.fromFields {
		v, ok := e.get(m.field)
		if !ok {
			continue
		}
		if out == nil {
			out = make([]wal.Label, 0, len(f.labels)+len(f.fromFields))
			out = append(out, f.labels...)
		}
		val := ""
		if m.field == "PRIORITY" {
			val = levelName(v)
		} else {
			val = f.intern(v)
		}
		out = append(out, wal.Label{Name: m.name, Value: val})
	}
	if out != nil {
		slices.SortFunc(out, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	}
	return out
}

// metadata returns the entry's structured metadata, sorted, or nil.
func (f *formatter) metadata(e *entry) []wal.Label {
	var out []wal.Label
	for _, m := range f.meta {
		if v, ok := e.get(m.field); ok {
			out = append(out, wal.Label{Name: m.name, Value: f.intern(v)})
		}
	}
	return out
}

// intern returns v as a string, shared with earlier equal values; the
// table is emptied when it grows past 4096 values. Label values must be
// UTF-8: invalid bytes become U+FFFD.
func (f *formatter) intern(v []byte) string {
	if s, ok := f.strs[string(v)]; ok {
		return s
	}
	if len(f.strs) >= 4096 {
		clear(f.strs)
	}
	s := string(v)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	f.strs[string(v)] = s
	return s
}

// appendJSON appends the entry as a JSON object, keys sorted, in the
// Journal JSON Format's encoding (https://systemd.io/JOURNAL_EXPORT_FORMATS/):
// a value is a string when it is printable UTF-8 (newlines and tabs
// allowed), else an array of its bytes as numbers; a field with several
// values is an array of them.
func (f *formatter) appendJSON(dst []byte, e *entry) []byte {
	f.order = f.order[:0]
	for i := range e.fields {
		f.order = append(f.order, i)
	}
	slices.SortStableFunc(f.order, func(a, b int) int {
		return bytes.Compare(e.name(e.fields[a]), e.name(e.fields[b]))
	})
	dst = append(dst, '{')
	for i := 0; i < len(f.order); {
		name := e.name(e.fields[f.order[i]])
		j := i + 1
		for j < len(f.order) && bytes.Equal(e.name(e.fields[f.order[j]]), name) {
			j++
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.AppendBytes(dst, name)
		dst = append(dst, ':')
		if j-i > 1 {
			dst = append(dst, '[')
		}
		for k := i; k < j; k++ {
			if k > i {
				dst = append(dst, ',')
			}
			dst = appendJSONValue(dst, e.value(e.fields[f.order[k]]))
		}
		if j-i > 1 {
			dst = append(dst, ']')
		}
		i = j
	}
	return append(dst, '}')
}

func appendJSONValue(dst, v []byte) []byte {
	if printable(v) {
		return jsonstr.AppendBytes(dst, v)
	}
	dst = append(dst, '[')
	for i, c := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(c), 10)
	}
	return append(dst, ']')
}

// printable reports whether v is valid UTF-8 without control characters
// other than newline and tab.
func printable(v []byte) bool {
	for len(v) > 0 {
		r, n := utf8.DecodeRune(v)
		if r == utf8.RuneError && n == 1 || r < ' ' && r != '\n' && r != '\t' || r == 0x7f {
			return false
		}
		v = v[n:]
	}
	return true
}
