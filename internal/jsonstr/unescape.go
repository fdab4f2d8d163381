package jsonstr

import (
	"unicode/utf16"
	"unicode/utf8"
)

// AppendUnescaped appends the value of a JSON string's body s (between
// its quotes, already checked to be a well-formed JSON string) to dst:
// escapes decoded, every other byte as it is, invalid UTF-8 included, as
// json-iterator (Promtail's JSON) reads strings; encoding/json would put
// U+FFFD in place of such bytes. A surrogate escape pairs with the next
// \u escape, which it takes in any case, as json-iterator does: one that
// does not pair is U+FFFD and that escape is taken as it is. A truncated
// escape is kept as it is.
func AppendUnescaped(dst, s []byte) []byte {
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\\' {
			i++
		}
		dst = append(dst, s[:i]...)
		if i+1 >= len(s) {
			return append(dst, s[i:]...)
		}
		c := s[i+1]
		s = s[i+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s)
			if !ok {
				dst = append(dst, '\\', 'u')
				continue
			}
			s = s[4:]
			if utf16.IsSurrogate(r) && len(s) >= 2 && s[0] == '\\' && s[1] == 'u' {
				if r2, ok := hex4(s[2:]); ok {
					s = s[6:]
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						dst = utf8.AppendRune(dst, d)
					} else {
						dst = utf8.AppendRune(utf8.AppendRune(dst, utf8.RuneError), r2)
					}
					continue
				}
			}
			dst = utf8.AppendRune(dst, r) // a surrogate alone is U+FFFD
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
	return dst
}

// hex4 decodes the 4 hex digits at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
