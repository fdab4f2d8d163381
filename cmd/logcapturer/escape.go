package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// terminalSafe is s as the tables print log content (a WAL entry's line, a
// dead letter's error): every byte a terminal could act on is written as
// an escape, as journalctl does, so a log line cannot move the cursor,
// recolour, retitle or rewrite the operator's terminal (ESC and OSC
// sequences) nor break the table. Escaped:
//
//	\t \n \r                        as \t \n \r
//	other C0 controls and DEL       as \xNN (ESC is \x1b, NUL \x00, BEL \x07, DEL \x7f)
//	C1 controls U+0080..U+009F      as \u0080..\u009f (U+009B is a one-rune CSI)
//	bidirectional overrides         U+202A..U+202E and U+2066..U+2069 as \uNNNN
//	                                (they make a shown line read other than it is)
//	a byte that is not UTF-8        as \xNN, one per byte
//
// Everything else, a backslash included, is printed as it is: -o json
// gives the exact bytes. wal cat and dlq show print through it.
func terminalSafe(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case !needsEscape(r, n):
			b.WriteString(s[i : i+n])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError || r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, s[i]) // n is 1: a C0 control, DEL or a byte that is not UTF-8
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

// needsEscape reports whether the rune r, n bytes long, is escaped by
// terminalSafe. A U+FFFD written as such (n is 3) is printed.
func needsEscape(r rune, n int) bool {
	switch {
	case r == utf8.RuneError:
		return n == 1
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
