package journald

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

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

// line appends e's line to dst: MESSAGE's last value, byte for byte, or
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

// appendJSON appends the entry as Promtail's json: true writes it: its
// data fields (not the address fields __CURSOR, __REALTIME_TIMESTAMP...,
// which go-systemd's GetEntry keeps apart), a repeated one with its last
// value, every value a JSON string, as json-iterator's standard-library
// configuration marshals the map: keys sorted, <, > and & escaped,
// control characters escaped, invalid UTF-8 as \ufffd.
func (f *formatter) appendJSON(dst []byte, e *entry) []byte {
	m := make(map[string]string, len(e.fields))
	for _, fl := range e.fields {
		if name := e.name(fl); !bytes.HasPrefix(name, []byte("__")) {
			m[string(name)] = string(e.value(fl))
		}
	}
	b, err := json.Marshal(m)
	if err != nil { // cannot happen: a map of strings
		return append(dst, "{}"...)
	}
	return append(dst, b...)
}
