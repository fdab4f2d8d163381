package sources

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
)

// encodeUTF16 encodes s as UTF-16 of the byte order, with a mark if bom.
func encodeUTF16(t *testing.T, s string, le, bom bool) string {
	t.Helper()
	order := unicode.BigEndian
	if le {
		order = unicode.LittleEndian
	}
	b, err := unicode.UTF16(order, unicode.IgnoreBOM).NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if bom {
		mark := []byte{0xFE, 0xFF}
		if le {
			mark = []byte{0xFF, 0xFE}
		}
		b = append(mark, b...)
	}
	return string(b)
}

// Characters whose UTF-16 code units hold the byte 0x0A: U+010A "Ċ"
// (0A 01 in UTF-16LE, 01 0A in UTF-16BE) and U+0A05 "ਅ" (05 0A, 0A 05).
const wideTricky = "Ċਅ 日本 é"

func TestNextLineUTF16(t *testing.T) {
	for _, le := range []bool{true, false} {
		nl := newlineBE
		if le {
			nl = newlineLE
		}
		text := encodeUTF16(t, wideTricky+"\n"+"b\n", le, false)
		line, adv, cut, ok := nextLine([]byte(text), 1024, nl, false)
		if !ok || cut || string(line) != encodeUTF16(t, wideTricky, le, false) || adv != len(line)+2 {
			t.Errorf("le=%v: first line %x adv %d cut %v ok %v", le, line, adv, cut, ok)
		}
		rest := text[adv:]
		// The newline's first byte only: no line yet.
		if _, _, _, ok := nextLine([]byte(rest[:len(rest)-1]), 1024, nl, false); ok {
			t.Errorf("le=%v: a line without its newline's second byte", le)
		}
		// A line longer than max_line_bytes is cut at an even length.
		long := encodeUTF16(t, strings.Repeat("x", 600)+"\n", le, false)
		line, adv, cut, ok = nextLine([]byte(long), 1001, nl, false)
		if !ok || !cut || len(line) != 1000 || adv != 1000 {
			t.Errorf("le=%v: long line: len %d adv %d cut %v ok %v", le, len(line), adv, cut, ok)
		}
		// A cut does not fall between the halves of a surrogate pair.
		emoji := encodeUTF16(t, strings.Repeat("x", 499)+"😀x\n", le, false)
		line, _, cut, _ = nextLine([]byte(emoji), 1000, nl, false)
		if !cut || len(line) != 998 {
			t.Errorf("le=%v: cut before a surrogate pair at %d, want 998", le, len(line))
		}
		// max_line_bytes below a character still moves on.
		if _, adv, _, ok := nextLine([]byte(text), 1, nl, false); !ok || adv != 2 {
			t.Errorf("le=%v: max_line_bytes 1: adv %d ok %v", le, adv, ok)
		}
		// A flushed tail is whole characters, then a lone last byte.
		if _, adv, _, _ := nextLine([]byte("abc"), 1024, nl, true); adv != 2 {
			t.Errorf("le=%v: flush of 3 bytes took %d", le, adv)
		}
		// A line of exactly max_line_bytes is not cut.
		exact := encodeUTF16(t, strings.Repeat("x", 500)+"\n", le, false)
		if line, _, cut, ok := nextLine([]byte(exact), 1000, nl, false); !ok || cut || len(line) != 1000 {
			t.Errorf("le=%v: line of max_line_bytes: len %d cut %v ok %v", le, len(line), cut, ok)
		}
	}
}

func TestParseEncoding(t *testing.T) {
	for _, name := range []string{"", "UTF-8", "utf-8"} {
		if c, err := parseEncoding(name); c != nil || err != nil {
			t.Errorf("%q: %v %v, want no conversion", name, c, err)
		}
	}
	for name, want := range map[string]string{
		"bogus":   "not an IANA character set name",
		"UTF-32":  "cannot be converted here",
		"UTF-7":   "cannot be converted here",
		"IBM037":  "does not end its lines with the byte '\\n'",
		"latin-1": "not an IANA character set name",
	} {
		if _, err := parseEncoding(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", name, err, want)
		}
	}
	for _, name := range []string{"UTF-16", "utf-16le", "UTF-16BE", "ISO-8859-1", "latin1", "windows-1252", "Shift_JIS", "GB18030", "Big5", "EUC-KR", "KOI8-R"} {
		if c, err := parseEncoding(name); c == nil || err != nil {
			t.Errorf("%q: %v %v", name, c, err)
		}
	}
}

func TestEncodingRules(t *testing.T) {
	o := FileOptions{Name: "d", Type: TypeDocker, Encoding: "ISO-8859-1", Emitter: &recorder{t: t}}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "encoding: Docker's json-file logs are UTF-8") {
		t.Errorf("docker: %v", err)
	}
	o = FileOptions{Name: "c", Type: TypeCRI, Encoding: "UTF-16LE", Emitter: &recorder{t: t}}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "encoding: \"UTF-16LE\": CRI log lines") {
		t.Errorf("cri: %v", err)
	}
	o = FileOptions{Name: "f", Paths: []string{"/x/*.log"}, Encoding: "nope", Emitter: &recorder{t: t}}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), `encoding: "nope" is not an IANA character set name`) {
		t.Errorf("file: %v", err)
	}
}

// TestEncodingUTF16: UTF-16 files, with and without a mark, either byte
// order, on the fast path and with multiline, are shipped as UTF-8 line by
// line; the mark is not shipped; a restart resumes at the position, and a
// position of Promtail's (odd in UTF-16LE) resumes at the next line.
func TestEncodingUTF16(t *testing.T) {
	lines := []string{wideTricky, "second line", "", "ünïcödé 😀"}
	for _, tc := range []struct {
		name, enc string
		le, bom   bool
		multiline bool
	}{
		{"LE with mark", "UTF-16LE", true, true, false},
		{"BE", "UTF-16BE", false, false, false},
		{"UTF-16 marked LE", "UTF-16", true, true, false},
		{"UTF-16 marked BE", "UTF-16", false, true, false},
		{"UTF-16 unmarked", "UTF-16", false, false, false},
		{"LE multiline", "UTF-16LE", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			var ml MultilineOptions
			if tc.multiline {
				ml = MultilineOptions{Start: `^\S`, MaxWait: 50 * time.Millisecond}
			}
			appendFile(t, path, encodeUTF16(t, strings.Join(lines, "\n")+"\n", tc.le, tc.bom))
			opts := FileOptions{Paths: []string{path}, Encoding: tc.enc, Multiline: ml}
			h := newHarness(t, opts)
			h.start(t)
			want := lines
			if tc.multiline {
				want = []string{wideTricky, "second line\n", "ünïcödé 😀"}
			}
			h.rec.waitLines(t, "", want...)
			h.f.Close()

			appendFile(t, path, encodeUTF16(t, "after restart\n", tc.le, false))
			opts.Positions = positionsOf(h.rec)
			h2 := newHarness(t, opts)
			h2.start(t)
			h2.rec.waitLines(t, "", "after restart")
			if n := h2.errors(reasonEncoding); n != 0 {
				t.Errorf("encoding errors: %v", n)
			}
		})
	}
}

// TestEncodingPromtailOffset: Promtail splits UTF-16LE on the byte '\n',
// so its position is one byte short of the line after: taken over, the
// source starts at that line, not at half a newline.
func TestEncodingPromtailOffset(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	first := encodeUTF16(t, "first\n", true, true)
	appendFile(t, path, first+encodeUTF16(t, "second\n", true, false))
	id := idOf(t, path)
	h := newHarness(t, FileOptions{Paths: []string{path}, Encoding: "UTF-16LE",
		Positions: map[string]int64{id: int64(len(first) - 1)}})
	h.start(t)
	h.rec.waitLines(t, "", "second")
}

// TestEncodingSingleByte: Latin-1, windows-1252 and Shift_JIS lines, with
// and without stages, become UTF-8; '\r' stays as in a UTF-8 file.
func TestEncodingSingleByte(t *testing.T) {
	latin, _ := charmap.ISO8859_1.NewEncoder().String("café crème\r\nnaïve\n")
	cp1252, _ := charmap.Windows1252.NewEncoder().String("price: 5 € – “quoted”\n")
	sjis, _ := japanese.ShiftJIS.NewEncoder().String("ログ 表示\n")
	for _, tc := range []struct {
		enc, data string
		want      []string
	}{
		{"ISO-8859-1", latin, []string{"café crème\r", "naïve"}},
		{"windows-1252", cp1252, []string{"price: 5 € – “quoted”"}},
		{"Shift_JIS", sjis, []string{"ログ 表示"}},
	} {
		for _, staged := range []bool{false, true} {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			appendFile(t, path, tc.data)
			opts := FileOptions{Paths: []string{path}, Encoding: tc.enc}
			if staged {
				opts.Relabel = func(map[string]string) bool { return true }
			}
			h := newHarness(t, opts)
			h.start(t)
			h.rec.waitLines(t, "", tc.want...)
			h.f.Close()
		}
	}
}

// TestEncodingLongLine: a UTF-16 line over max_line_bytes is shipped in
// chunks of whole characters.
func TestEncodingLongLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, encodeUTF16(t, strings.Repeat("é", 700)+"\nend\n", true, false))
	h := newHarness(t, FileOptions{Paths: []string{path}, Encoding: "UTF-16LE", MaxLineBytes: 1001})
	h.start(t)
	h.rec.waitLines(t, "", strings.Repeat("é", 500), strings.Repeat("é", 200), "end")
	if got := bytes.Count([]byte(strings.Join(h.rec.lines(""), "")), []byte("\uFFFD")); got != 0 {
		t.Errorf("%d replacement characters", got)
	}
}
