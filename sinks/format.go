package sinks

import (
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/logcapturer/logcapturer/internal/jsonstr"
	"github.com/logcapturer/logcapturer/wal"
)

// Format is how the file and stdout sinks write an entry.
type Format int

const (
	// FormatRaw writes the line as read, then "\n".
	FormatRaw Format = iota
	// FormatJSON writes one object a line (AppendJSONEntry):
	// {"ts":"<RFC3339Nano UTC>","labels":{...},"line":"..."}, plus
	// "metadata":{...} when the entry has structured metadata. Invalid
	// UTF-8 becomes U+FFFD, as JSON requires.
	FormatJSON
)

// ParseFormat maps a config word to a Format.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "raw":
		return FormatRaw, nil
	case "json":
		return FormatJSON, nil
	}
	return 0, fmt.Errorf("unknown format %q: use raw or json", s)
}

// flushBytes is how much formatted output is buffered before a write, so a
// sink's memory does not grow with its batch size.
const flushBytes = 256 << 10

// writeBatch formats every entry of b in format f and writes it to w in
// chunks of about flushBytes, using buf as scratch space. It returns the
// bytes written and buf for reuse.
func writeBatch(w io.Writer, buf []byte, b *Batch, f Format) (int64, []byte, error) {
	var (
		n      int64
		labels []byte // the block's labels as JSON
	)
	buf = buf[:0]
	for i := range b.Blocks {
		blk := &b.Blocks[i]
		if f == FormatJSON {
			labels = AppendJSONLabels(labels[:0], blk.Labels)
		}
		for j := range blk.Entries {
			e := &blk.Entries[j]
			if f == FormatJSON {
				buf = AppendJSONEntry(buf, labels, e)
			} else {
				buf = append(buf, e.Line...)
			}
			buf = append(buf, '\n')
			if len(buf) >= flushBytes {
				m, err := w.Write(buf)
				n += int64(m)
				if err != nil {
					return n, buf[:0], err
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		m, err := w.Write(buf)
		n += int64(m)
		if err != nil {
			return n, buf[:0], err
		}
	}
	if cap(buf) > 4*flushBytes {
		buf = nil // one huge line must not pin its buffer
	}
	return n, buf[:0], nil
}

// AppendJSONEntry appends e as the JSON format's object:
//
//	{"ts":"<RFC3339Nano UTC>","labels":{...},"line":"..."[,"metadata":{...}]}
//
// labels is the entry's whole label set: e.Labels when not nil, else
// blockLabels, the block's labels already rendered by AppendJSONLabels;
// reserved labels such as wal.TenantLabel are included. "metadata" is the
// entry's structured metadata, present only when it has some.
func AppendJSONEntry(dst, blockLabels []byte, e *wal.Entry) []byte {
	dst = append(dst, `{"ts":"`...)
	dst = time.Unix(0, e.Time).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","labels":`...)
	if e.Labels != nil {
		dst = AppendJSONLabels(dst, e.Labels)
	} else {
		dst = append(dst, blockLabels...)
	}
	dst = append(dst, `,"line":`...)
	dst = jsonstr.AppendBytes(dst, e.Line) // no string copy of the line
	if len(e.Metadata) > 0 {
		dst = append(dst, `,"metadata":`...)
		dst = AppendJSONLabels(dst, e.Metadata)
	}
	return append(dst, '}')
}

// BytesString returns b's bytes as a string without copying them, for a
// call that only reads the string while b is not written.
func BytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// AppendJSONLabels appends labels as a JSON object.
func AppendJSONLabels(dst []byte, ls []wal.Label) []byte {
	dst = append(dst, '{')
	for i, l := range ls {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.Append(dst, l.Name)
		dst = append(dst, ':')
		dst = jsonstr.Append(dst, l.Value)
	}
	return append(dst, '}')
}
