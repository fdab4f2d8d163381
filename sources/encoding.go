package sources

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// The encoding option (Promtail's scrape_configs encoding): the lines of a
// file written in another character set are converted to UTF-8 as they are
// read. Lines are split in the file's own bytes, so positions stay byte
// offsets of the file and max_line_bytes counts the file's bytes; the
// converted text may be longer (up to 3 bytes per byte of a single-byte
// set). Every encoding whose newline is the byte '\n' and never part of
// another character (ISO-8859-*, windows-125x, KOI8, Shift_JIS, EUC-*,
// GBK, GB18030, Big5, ...) is split as UTF-8 is; UTF-16 is split on its
// two-byte newline at even offsets. Promtail splits every encoding on the
// byte '\n', which cuts UTF-16 lines in the middle of a character, and
// converts each line on its own, so a byte order mark counts only in the
// first line; here a UTF-16 file without a stated byte order takes it from
// its mark, for all of its lines.

// newline is how a file's lines end.
type newline uint8

const (
	newlineByte newline = iota // '\n'
	newlineLE                  // "\n\x00" at an even offset (UTF-16LE)
	newlineBE                  // "\x00\n" at an even offset (UTF-16BE)
	newlineBOM                 // UTF-16, byte order not known yet: from the file's mark
)

// width is the bytes of a newline.
func (n newline) width() int {
	if n == newlineByte {
		return 1
	}
	return 2
}

// lineCodec converts lines of one encoding to UTF-8. A nil *lineCodec
// leaves them as they are (UTF-8, or no encoding set).
type lineCodec struct {
	nl newline // newlineByte, newlineLE, newlineBE or newlineBOM
	// dec converts a line; le and be are used instead for UTF-16, by the
	// byte order of the file.
	dec, le, be transform.Transformer
}

// parseEncoding returns the codec of an IANA character set name (as
// Promtail's encoding takes it: UTF-16LE, ISO-8859-1, windows-1252,
// Shift_JIS, ...). UTF-8 needs none: nil, nil.
func parseEncoding(name string) (*lineCodec, error) {
	if name == "" {
		return nil, nil
	}
	enc, err := ianaindex.IANA.Encoding(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA character set name (UTF-16LE, ISO-8859-1, windows-1252, Shift_JIS, ...)", name)
	}
	if enc == nil {
		return nil, fmt.Errorf("%q is a known character set that cannot be converted here (UTF-32 and UTF-7 are not supported)", name)
	}
	canon, _ := ianaindex.IANA.Name(enc)
	c := &lineCodec{}
	switch canon {
	case "UTF-8":
		return nil, nil
	case "UTF-16LE":
		c.nl = newlineLE
	case "UTF-16BE":
		c.nl = newlineBE
	case "UTF-16":
		c.nl = newlineBOM
	default:
		nl, err := enc.NewEncoder().Bytes([]byte("\n"))
		if err != nil || !bytes.Equal(nl, []byte("\n")) {
			return nil, fmt.Errorf("%q does not end its lines with the byte '\\n' (an EBCDIC code page?): files in it cannot be read", name)
		}
		c.dec = enc.NewDecoder()
		return c, nil
	}
	// UseBOM: a mark at the start of a line (the file's first) is
	// removed, not converted to U+FEFF.
	c.le = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()
	c.be = unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder()
	return c, nil
}

// CheckEncoding checks an encoding option's value as a file source does:
// convert is false for UTF-8 (or empty), whose lines are shipped as they
// are; err says what is wrong with a name that cannot be used.
func CheckEncoding(name string) (convert bool, err error) {
	c, err := parseEncoding(name)
	return c != nil, err
}

// wide reports whether the codec is UTF-16 (a two-byte newline, lines at
// even offsets). False for nil.
func (c *lineCodec) wide() bool { return c != nil && c.nl != newlineByte }

// fileNewline returns the newline of a file whose first two bytes are head
// (fewer if the file is shorter): for UTF-16 without a stated byte order,
// the file's mark says, and without one it is big-endian (RFC 2781).
func (c *lineCodec) fileNewline(head []byte) newline {
	if c == nil {
		return newlineByte
	}
	if c.nl != newlineBOM {
		return c.nl
	}
	if len(head) >= 2 && head[0] == 0xFF && head[1] == 0xFE {
		return newlineLE
	}
	return newlineBE
}

// transformer returns the converter for a file's newline.
func (c *lineCodec) transformer(nl newline) transform.Transformer {
	switch nl {
	case newlineLE:
		return c.le
	case newlineBE, newlineBOM:
		return c.be
	}
	return c.dec
}

// errEncoding: a line the decoder refused is kept as it was read.
var errEncoding = errors.New("line not converted")

// appendUTF8 appends the conversion of line to dst. A decoder error (the
// x/text decoders replace what they cannot convert with U+FFFD, so this is
// not expected) appends line as it is and returns errEncoding.
func appendUTF8(dst []byte, tr transform.Transformer, line []byte) ([]byte, error) {
	tr.Reset()
	start := len(dst)
	src := line
	for {
		if cap(dst)-len(dst) < len(src)+8 {
			dst = append(dst[:cap(dst)], make([]byte, 2*len(src)+64)...)[:len(dst)]
		}
		nDst, nSrc, err := tr.Transform(dst[len(dst):cap(dst)], src, true)
		dst = dst[:len(dst)+nDst]
		src = src[nSrc:]
		switch {
		case err == nil:
			return dst, nil
		case errors.Is(err, transform.ErrShortDst):
			continue
		default:
			return append(dst[:start], line...), errEncoding
		}
	}
}

// findNewline returns the index of the first newline of b and its width,
// or -1 when b has none (a newline whose second byte is not in b yet is
// not one). b starts at an even offset of the file when nl is two bytes.
func findNewline(b []byte, nl newline) int {
	switch nl {
	case newlineByte:
		return bytes.IndexByte(b, '\n')
	case newlineLE:
		for from := 0; ; {
			i := bytes.IndexByte(b[from:], '\n')
			if i < 0 {
				return -1
			}
			j := from + i
			if j%2 == 0 && j+1 < len(b) && b[j+1] == 0 {
				return j
			}
			from = j + 1
		}
	default: // newlineBE, or newlineBOM not resolved yet
		for from := 0; ; {
			i := bytes.IndexByte(b[from:], '\n')
			if i < 0 {
				return -1
			}
			j := from + i
			if j%2 == 1 && b[j-1] == 0 {
				return j - 1
			}
			from = j + 1
		}
	}
}

// nextLine finds the line at the start of rest: its text (without the
// newline), the bytes it takes (with the newline), and whether it was cut
// at maxLine. A line is longer than maxLine as soon as maxLine bytes and a
// newline's width more are there without a newline; its first maxLine
// bytes (an even number for UTF-16) are then a chunk. An unterminated
// line is a line only when flush is set; ok is false when there is no
// line yet.
func nextLine(rest []byte, maxLine int, nl newline, flush bool) (text []byte, adv int, cut, ok bool) {
	w := nl.width()
	if w == 2 {
		maxLine = max(maxLine&^1, 2)
	}
	win := rest
	if len(win) > maxLine+w {
		win = win[:maxLine+w]
	}
	switch i := findNewline(win, nl); {
	case i >= 0:
		return rest[:i], i + w, false, true
	case len(rest) >= maxLine+w:
		if w == 2 && maxLine >= 4 && highSurrogate(rest[maxLine-2:maxLine], nl) {
			maxLine -= 2 // not between the two halves of a character
		}
		return rest[:maxLine], maxLine, true, true
	case flush:
		n := len(rest)
		if w == 2 && n > 1 {
			n &^= 1 // whole characters: a lone last byte goes alone
		}
		return rest[:n], n, false, true
	}
	return nil, 0, false, false
}

// highSurrogate reports whether the UTF-16 code unit u (two bytes in the
// file's order) is the first half of a surrogate pair.
func highSurrogate(u []byte, nl newline) bool {
	hi := u[0]
	if nl == newlineLE {
		hi = u[1]
	}
	return hi >= 0xD8 && hi <= 0xDB
}
