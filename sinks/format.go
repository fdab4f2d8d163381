package sinks

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
	"unsafe"

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
	dst = AppendJSONBytes(dst, e.Line)
	if len(e.Metadata) > 0 {
		dst = append(dst, `,"metadata":`...)
		dst = AppendJSONLabels(dst, e.Metadata)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendJSONBytes is AppendJSONString for a line's bytes, without the
// copy a string conversion makes (about one byte allocated per byte sent).
func AppendJSONBytes(dst, b []byte) []byte {
	return AppendJSONString(dst, BytesString(b))
}

// BytesString returns b's bytes as a string without copying them, for a
// call that only reads the string while b is not written.
func BytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// AppendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by \ufffd. Runs of
// plain bytes are copied at once, and looked for eight at a time.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	bs := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs escaping: none below
		// 0x20, a quote or a backslash, and none of 0x80 or above (those
		// are checked as UTF-8 a rune at a time below). Each term sets the
		// high bit of a byte where one is (the zero-byte test of "Bit
		// Twiddling Hacks", exact for whether any byte matches).
		for ; i+8 <= len(bs); i += 8 {
			const lo, hi = 0x0101010101010101, 0x8080808080808080
			x := binary.LittleEndian.Uint64(bs[i:])
			q, b := x^lo*'"', x^lo*'\\'
			if (x|(x-lo*0x20)&^x|(q-lo)&^q|(b-lo)&^b)&hi != 0 {
				break
			}
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendJSONLabels appends labels as a JSON object.
func AppendJSONLabels(dst []byte, ls []wal.Label) []byte {
	dst = append(dst, '{')
	for i, l := range ls {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, l.Name)
		dst = append(dst, ':')
		dst = AppendJSONString(dst, l.Value)
	}
	return append(dst, '}')
}
