package sinks

import (
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/wal"
)

// Format is how the file and stdout sinks write an entry.
type Format int

const (
	// FormatRaw writes the line as read, then "\n".
	FormatRaw Format = iota
	// FormatJSON writes one object a line:
	// {"ts":"<RFC3339Nano UTC>","labels":{...},"line":"..."}. Invalid UTF-8
	// in the line becomes U+FFFD, as JSON requires.
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
	var n int64
	buf = buf[:0]
	for i := range b.Blocks {
		blk := &b.Blocks[i]
		for j := range blk.Entries {
			e := &blk.Entries[j]
			if f == FormatJSON {
				buf = appendJSONEntry(buf, blk.Labels, e)
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

func appendJSONEntry(dst []byte, labels []wal.Label, e *wal.Entry) []byte {
	dst = append(dst, `{"ts":"`...)
	dst = time.Unix(0, e.Time).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","labels":{`...)
	for i, l := range labels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, l.Name)
		dst = append(dst, ':')
		dst = appendJSONString(dst, l.Value)
	}
	dst = append(dst, `},"line":`...)
	dst = appendJSONString(dst, string(e.Line))
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping quotes, backslashes
// and control characters and replacing invalid UTF-8 with U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
