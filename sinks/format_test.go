package sinks

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/wal"
)

// TestAppendJSONEntryAllocates: with room in dst, encoding an entry as JSON
// allocates nothing (the kafka and http sinks encode every entry with it;
// a copy of each line made one byte of garbage per byte sent).
func TestAppendJSONEntryAllocates(t *testing.T) {
	e := &wal.Entry{Time: 1_700_000_000_123_456_789, Line: []byte("level=info msg=\"a \\ quoted\" caf\xc3\xa9 \xff tab\tend"),
		Metadata: []wal.Label{{Name: "trace_id", Value: "abc"}}}
	labels := AppendJSONLabels(nil, []wal.Label{{Name: "job", Value: "app"}})
	dst := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AppendJSONEntry(dst[:0], labels, e)
	})
	if allocs != 0 {
		t.Errorf("AppendJSONEntry allocates %.0f times per entry, want 0", allocs)
	}
	var got struct {
		TS       string            `json:"ts"`
		Labels   map[string]string `json:"labels"`
		Line     string            `json:"line"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(dst, &got); err != nil {
		t.Fatalf("%s: %v", dst, err)
	}
	if want := "level=info msg=\"a \\ quoted\" café \ufffd tab\tend"; got.Line != want || got.TS != "2023-11-14T22:13:20.123456789Z" ||
		got.Labels["job"] != "app" || got.Metadata["trace_id"] != "abc" {
		t.Errorf("decoded %+v, want line %q", got, want)
	}
}

// appendJSONStringByByte is AppendJSONString as it was before it looked
// for plain bytes eight at a time: the reference for FuzzAppendJSONString.
func appendJSONStringByByte(dst []byte, s string) []byte {
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

// FuzzAppendJSONString: the eight-at-a-time scan escapes exactly what a
// byte-by-byte one does, and the result decodes as JSON to s with invalid
// UTF-8 replaced.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain ascii line of forty bytes or so!!", "0123456\"89abcdef", "01234567\\9abcdef",
		"\x00\x01\x1f\x20\x7f", "tab\there\nnewline\r", "café ünïcödé 日本語 😀 mixed in 8-byte runs", "bad \xff\xfe utf8 \xc3",
		"aaaaaaa\x1f", "aaaaaaaa\"", "\x80aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaa\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendJSONString(nil, s)
		if want := appendJSONStringByByte(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSONString(%q) = %s, want %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != strings.ToValidUTF8(s, "\ufffd") && utf8.ValidString(s) {
			t.Fatalf("%s decodes to %q (%v), want %q", got, back, err, s)
		}
	})
}

// BenchmarkAppendJSONString: a 200-byte logfmt line with a quoted field.
func BenchmarkAppendJSONString(b *testing.B) {
	line := `ts=2026-12-05T12:00:00.123Z level=info msg="request served" path=/api/v1/items/12345 status=200 dur=1.234ms ` +
		`bytes=5321 user=alice trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7 region=eu-west`
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		dst = AppendJSONString(dst[:0], line)
	}
}
