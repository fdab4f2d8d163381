package sources

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzAssembler builds an assembler as NewFile would.
func fuzzAssembler(typ string, maxLine int, start string, maxLines int) *assembler {
	o := &FileOptions{Type: typ, MaxLineBytes: maxLine, Multiline: MultilineOptions{Start: start, MaxLines: maxLines}}
	var ml *regexp.Regexp
	if start != "" {
		ml = regexp.MustCompile(start)
	}
	return newAssembler(o, ml)
}

type fuzzEntry struct {
	start, end int
	line       string
	stream     string
	parseErr   bool
}

// parseAll parses buf as the tailer would: in reads ending at the cut
// points, each read starting where the previous one's finished entries
// ended, the last one flushed. Entries are returned with offsets in buf.
func parseAll(t *testing.T, a *assembler, buf []byte, cuts []int) []fuzzEntry {
	t.Helper()
	var out []fuzzEntry
	base := 0
	for _, c := range append(cuts, len(buf)) {
		if c < base {
			continue
		}
		last := c == len(buf)
		used, _ := a.parse(buf[base:c], last, last)
		if used < 0 || used > c-base {
			t.Fatalf("used %d of %d", used, c-base)
		}
		prevEnd := base
		for _, e := range a.out {
			if e.start+base != prevEnd || e.end < e.start {
				t.Fatalf("entry [%d,%d) after %d: entries must tile the bytes", e.start+base, e.end+base, prevEnd)
			}
			prevEnd = e.end + base
			out = append(out, fuzzEntry{e.start + base, e.end + base, string(e.line), e.stream, e.parseErr})
		}
		// Interleaved streams may emit in start order with gaps only
		// when entries of several streams are mixed.
		if len(a.out) > 0 && prevEnd != base+used {
			t.Fatalf("entries end at %d, used %d", prevEnd, base+used)
		}
		base += used
	}
	if base != len(buf) {
		t.Fatalf("flushed parse left %d of %d bytes", len(buf)-base, len(buf))
	}
	return out
}

// FuzzMultiline checks the multiline joiner on any input: no panic; the
// entries tile the input and each is its bytes with the newlines between
// lines kept and the last one dropped (every byte accounted for); no entry
// spans more than max_line_bytes+1; and parsing in several reads, each
// from where the previous one's finished entries ended (a restart from the
// recorded position), gives the same entries as one read: an entry is
// never split by a crash.
func FuzzMultiline(f *testing.F) {
	f.Add([]byte("2024 a\n  b\n  c\n2024 d\n"), `^2024`, 64, 3, uint16(9))
	f.Add([]byte("x\ny\nSTART\n\n\nSTART"), `^START`, 8, 2, uint16(3))
	f.Add([]byte("no newline at all, long"), `^\S`, 5, 500, uint16(0))
	f.Fuzz(func(t *testing.T, buf []byte, start string, maxLine, maxLines int, cut uint16) {
		if maxLine < 1 || maxLine > 4096 || maxLines < 1 || maxLines > 1000 {
			return
		}
		if _, err := regexp.Compile(start); err != nil || start == "" {
			return
		}
		one := parseAll(t, fuzzAssembler(TypeFile, maxLine, start, maxLines), buf, nil)
		for _, e := range one {
			raw := buf[e.start:e.end]
			if e.end-e.start > maxLine+1 && strings.Count(string(raw), "\n") > 1 {
				t.Fatalf("entry of %d lines spans %d bytes, max %d", strings.Count(string(raw), "\n"), e.end-e.start, maxLine)
			}
			want := strings.TrimSuffix(string(raw), "\n")
			if e.line != want {
				t.Fatalf("entry %q, bytes %q", e.line, raw)
			}
		}
		c := int(cut) % (len(buf) + 1)
		two := parseAll(t, fuzzAssembler(TypeFile, maxLine, start, maxLines), buf, []int{c, c + (len(buf)-c)/2})
		if len(one) != len(two) {
			t.Fatalf("one read: %d entries, reads cut at %d: %d", len(one), c, len(two))
		}
		for i := range one {
			if one[i] != two[i] {
				t.Fatalf("entry %d: one read %+v, cut at %d %+v", i, one[i], c, two[i])
			}
		}
	})
}

// dockerLines encodes text (its lines) as Docker json-file records the way
// Docker does: split into partial records of at most chunk bytes, the last
// of each line with its '\n'; records of the two streams interleaved.
func dockerLines(text []byte, chunk int) (file []byte, want map[string][]string) {
	want = make(map[string][]string)
	for i, line := range bytes.Split(text, []byte("\n")) {
		stream := []string{"stdout", "stderr"}[i%2]
		s := string(line)
		// What Docker's encoder makes of invalid UTF-8.
		s = strings.ToValidUTF8(s, "\uFFFD")
		want[stream] = append(want[stream], s)
		for {
			// Cut at a rune boundary: a record's text is valid UTF-8
			// once encoded, so a rune cut in two would be lost.
			n := min(chunk, len(s))
			for n < len(s) && n > 0 && !utf8.RuneStart(s[n]) {
				n--
			}
			if n == 0 {
				_, n = utf8.DecodeRuneInString(s)
			}
			part := s[:n]
			s = s[len(part):]
			log := part
			if s == "" {
				log += "\n"
			}
			rec, _ := json.Marshal(map[string]string{"log": log, "stream": stream, "time": "2024-05-01T10:00:00Z"})
			file = append(append(file, rec...), '\n')
			if s == "" {
				break
			}
		}
	}
	return file, want
}

// FuzzDocker: Docker records made from any text decode back to exactly
// that text, line by line and stream by stream, whatever the partial
// chunk size; and any bytes at all parse without panic, every line being
// accounted for (decoded or shipped raw).
func FuzzDocker(f *testing.F) {
	f.Add([]byte("hello\nworld \"quoted\" \\ \t \x00 \xff\ncafé 😀"), 4, uint16(10))
	f.Add([]byte(`{"log":"x\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}`+"\nnot json\n{\"log\":\"part"), 16384, uint16(3))
	f.Add([]byte("\r\n\r\n"), 1, uint16(0))
	f.Fuzz(func(t *testing.T, text []byte, chunk int, cut uint16) {
		if chunk < 1 || chunk > 1<<16 || len(text) > 1<<16 {
			return
		}
		const maxLine = 1 << 20
		file, want := dockerLines(text, chunk)
		got := make(map[string][]string)
		for _, e := range parseAll(t, fuzzAssembler(TypeDocker, maxLine, "", 0), file, []int{int(cut) % (len(file) + 1)}) {
			if e.parseErr {
				t.Fatalf("valid record not parsed: %q", file[e.start:e.end])
			}
			got[e.stream] = append(got[e.stream], e.line)
		}
		for _, s := range []string{"stdout", "stderr"} {
			if strings.Join(got[s], "\n") != strings.Join(want[s], "\n") || len(got[s]) != len(want[s]) {
				t.Fatalf("%s: got %q, want %q", s, got[s], want[s])
			}
		}
		// Any bytes: every raw line is a parse error shipped as is, or
		// decodes.
		for _, e := range parseAll(t, fuzzAssembler(TypeDocker, 64, "", 0), text, nil) {
			if e.parseErr && e.line != strings.TrimSuffix(string(text[e.start:e.end]), "\n") {
				t.Fatalf("raw line %q shipped as %q", text[e.start:e.end], e.line)
			}
		}
	})
}

// FuzzCRI: CRI lines made from any text decode back to it, partial lines
// joined; and any bytes parse without panic, raw lines kept as they are.
func FuzzCRI(f *testing.F) {
	f.Add([]byte("hello\nworld\r\n\n"), 3, uint16(5))
	f.Add([]byte("2024-05-01T10:00:00Z stdout P a\n2024-05-01T10:00:00Z stdout F b\ngarbage"), 100, uint16(1))
	f.Fuzz(func(t *testing.T, text []byte, chunk int, cut uint16) {
		if chunk < 1 || chunk > 1<<16 || len(text) > 1<<16 {
			return
		}
		var file []byte
		var want []string
		for _, line := range bytes.Split(text, []byte("\n")) {
			want = append(want, string(line))
			for {
				part := line[:min(chunk, len(line))]
				line = line[len(part):]
				tag := "P"
				if len(line) == 0 {
					tag = "F"
				}
				file = append(file, "2024-05-01T10:00:00.5Z stdout "+tag+" "...)
				file = append(append(file, part...), '\n')
				if len(line) == 0 {
					break
				}
			}
		}
		var got []string
		for _, e := range parseAll(t, fuzzAssembler(TypeCRI, 1<<20, "", 0), file, []int{int(cut) % (len(file) + 1)}) {
			if e.parseErr {
				t.Fatalf("valid line not parsed: %q", file[e.start:e.end])
			}
			got = append(got, e.line)
		}
		if len(got) != len(want) || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got %q, want %q", got, want)
		}
		for _, e := range parseAll(t, fuzzAssembler(TypeCRI, 64, "", 0), text, nil) {
			if e.parseErr && e.line != strings.TrimSuffix(string(text[e.start:e.end]), "\n") {
				t.Fatalf("raw line %q shipped as %q", text[e.start:e.end], e.line)
			}
		}
	})
}
