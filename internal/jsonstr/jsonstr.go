package jsonstr

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

const hexDigits = "0123456789abcdef"

// AppendBytes is Append for b's bytes, without the copy a string
// conversion makes.
func AppendBytes(dst, b []byte) []byte {
	return Append(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}

// Append appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by \ufffd. Runs of
// plain bytes are copied at once, and looked for eight at a time.
func Append(dst []byte, s string) []byte {
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
