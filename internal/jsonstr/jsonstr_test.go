package jsonstr

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// appendByByte escapes byte by byte, as the sinks and the OTLP source
// did before Append looked for plain bytes eight at a time: the reference
// for FuzzAppend.
func appendByByte(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

// FuzzAppend: the eight-at-a-time scan escapes exactly what a
// byte-by-byte one does, and the result decodes as JSON to s with invalid
// UTF-8 replaced.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain ascii line of forty bytes or so!!", "0123456\"89abcdef", "01234567\\9abcdef",
		"\x00\x01\x1f\x20\x7f", "tab\there\nnewline\r", "café ünïcödé 日本語 😀 mixed in 8-byte runs", "bad \xff\xfe utf8 \xc3",
		"aaaaaaa\x1f", "aaaaaaaa\"", "\x80aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaa\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Append(nil, s)
		if want := appendByByte(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("Append(%q) = %s, want %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != strings.ToValidUTF8(s, "\ufffd") && utf8.ValidString(s) {
			t.Fatalf("%s decodes to %q (%v), want %q", got, back, err, s)
		}
	})
}

// BenchmarkAppend: a 200-byte logfmt line with a quoted field.
func BenchmarkAppend(b *testing.B) {
	line := `ts=2026-12-05T12:00:00.123Z level=info msg="request served" path=/api/v1/items/12345 status=200 dur=1.234ms ` +
		`bytes=5321 user=alice trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7 region=eu-west`
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		dst = Append(dst[:0], line)
	}
}

func TestAppendUnescaped(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:                "plain",
		`a\"b\\c\/d\b\f\n\r\t`: "a\"b\\c/d\b\f\n\r\t",
		`\u00e9\ud83d\ude00`:   "é😀",
		"caf\xe9":              "caf\xe9", // bytes kept, as json-iterator
		`\ud800\ud83d\ude00`:   "\uFFFD\uFFFD\uFFFD",
		`\ud800\u0041`:         "\uFFFDA",
		`\ud800x`:              "\uFFFDx",
		`\u12`:                 `\u12`,
		`end\`:                 `end\`,
	} {
		if got := string(AppendUnescaped(nil, []byte(in))); got != want {
			t.Errorf("AppendUnescaped(%q) = %q, want %q", in, got, want)
		}
	}
}
