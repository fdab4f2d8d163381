package journald

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// exportField is one field for exportEntry: binary forces the binary form.
type exportField struct {
	name, value string
	binary      bool
}

// appendExport appends an entry in the export format, as journalctl
// writes it: values that are not printable UTF-8 without newlines in the
// binary form.
func appendExport(dst []byte, fields ...exportField) []byte {
	for _, f := range fields {
		if f.binary || !printableNoNewline(f.value) {
			dst = append(dst, f.name...)
			dst = append(dst, '\n')
			dst = binary.LittleEndian.AppendUint64(dst, uint64(len(f.value)))
			dst = append(dst, f.value...)
			dst = append(dst, '\n')
			continue
		}
		dst = append(dst, f.name...)
		dst = append(dst, '=')
		dst = append(dst, f.value...)
		dst = append(dst, '\n')
	}
	return append(dst, '\n')
}

func printableNoNewline(s string) bool {
	return printable([]byte(s)) && !strings.ContainsRune(s, '\n')
}

// testEntry builds a typical entry number i with message msg.
func testEntry(i int, msg string, extra ...exportField) []exportField {
	fs := []exportField{
		{name: "__CURSOR", value: fmt.Sprintf("s=abc;i=%x;b=0;m=0;t=%x;x=1", i+1, 1700000000000000+i)},
		{name: "__REALTIME_TIMESTAMP", value: fmt.Sprint(1700000000000000 + int64(i)*1000)},
		{name: "__MONOTONIC_TIMESTAMP", value: "12345"},
		{name: "_SYSTEMD_UNIT", value: "app.service"},
		{name: "PRIORITY", value: "6"},
		{name: "_HOSTNAME", value: "h1"},
		{name: "MESSAGE", value: msg},
	}
	return append(fs, extra...)
}

type parsed struct {
	fields []exportField
	cursor string
	us     int64
	err    error
}

func readAll(r io.Reader, maxEntry int) []parsed {
	x := exportReader{br: bufio.NewReaderSize(r, 16), maxEntry: maxEntry}
	var out []parsed
	var e entry
	for {
		err := x.next(&e)
		if err == io.EOF {
			return out
		}
		p := parsed{err: err}
		if err == nil {
			p.cursor, p.us = string(e.cursor), e.realtime
			for _, f := range e.fields {
				p.fields = append(p.fields, exportField{name: string(e.name(f)), value: string(e.value(f)), binary: f.binary})
			}
		}
		out = append(out, p)
		if err != nil && !errors.Is(err, errTooLarge) {
			return out
		}
	}
}

func TestExportReader(t *testing.T) {
	bin := "bin\xff\x00line\nnext\r\n"
	var in []byte
	in = appendExport(in, testEntry(0, "hello")...)
	in = appendExport(in, testEntry(1, bin)...)
	in = append(in, '\n') // a stray empty line between entries is tolerated
	in = appendExport(in, testEntry(2, "two values",
		exportField{name: "TAG", value: "a"}, exportField{name: "TAG", value: "b\nc"},
		exportField{name: "__FUTURE_ADDRESS", value: "skipped"},
		exportField{name: "__SEQNUM", value: "7"},
		exportField{name: "EMPTY", value: ""},
		exportField{name: "UTF8", value: "café ☕", binary: true})...)
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(in)},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(in))},
		{"half reads", iotest.HalfReader(bytes.NewReader(in))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(tc.r, 1<<20)
			if len(got) != 3 {
				t.Fatalf("got %d entries, want 3: %+v", len(got), got)
			}
			for i, p := range got {
				if p.err != nil {
					t.Fatalf("entry %d: %v", i, p.err)
				}
				if want := int64(1700000000000000 + i*1000); p.us != want {
					t.Errorf("entry %d: realtime %d, want %d", i, p.us, want)
				}
				if !strings.HasPrefix(p.cursor, "s=abc;i=") {
					t.Errorf("entry %d: cursor %q", i, p.cursor)
				}
			}
			msg := got[1].fields[6]
			if msg.name != "MESSAGE" || msg.value != bin || !msg.binary {
				t.Errorf("binary MESSAGE = %+v, want %q byte for byte", msg, bin)
			}
			var names []string
			for _, f := range got[2].fields {
				names = append(names, f.name+"="+f.value)
			}
			want := "__CURSOR __REALTIME_TIMESTAMP __MONOTONIC_TIMESTAMP _SYSTEMD_UNIT PRIORITY _HOSTNAME MESSAGE TAG TAG __SEQNUM EMPTY UTF8"
			var gotNames []string
			for _, n := range names {
				gotNames = append(gotNames, strings.SplitN(n, "=", 2)[0])
			}
			if strings.Join(gotNames, " ") != want {
				t.Errorf("fields %q, want %q (unknown __ fields skipped, repeated kept in order)", gotNames, want)
			}
			if got[2].fields[8].value != "b\nc" || got[2].fields[11].value != "café ☕" {
				t.Errorf("values: %q", names)
			}
		})
	}
}

func TestExportReaderBadInput(t *testing.T) {
	good := appendExport(nil, testEntry(0, "ok")...)
	huge := appendExport(nil, testEntry(1, strings.Repeat("x", 5000))...)
	hugeBin := appendExport(nil, testEntry(2, strings.Repeat("\x00", 5000))...)
	for _, tc := range []struct {
		name string
		in   []byte
		want []string // per entry: "ok", "too large", or the start of the error
	}{
		{"garbage line", append(append([]byte{}, good...), "hello world\n"...), []string{"ok", "not journal export format: field name"}},
		{"no separator in 256 bytes", append(append([]byte{}, good...), strings.Repeat("A", 300)...), []string{"ok", "not journal export format: no '='"}},
		{"no cursor", []byte("__REALTIME_TIMESTAMP=1\nMESSAGE=x\n\n"), []string{"not journal export format: an entry without __CURSOR"}},
		{"no realtime", []byte("__CURSOR=c\nMESSAGE=x\n\n"), []string{"not journal export format: an entry without __REALTIME"}},
		{"bad realtime", []byte("__CURSOR=c\n__REALTIME_TIMESTAMP=-4\n\n"), []string{"not journal export format: __REALTIME"}},
		{"empty name", []byte("=x\n\n"), []string{"not journal export format: a field with an empty name"}},
		{"binary length absurd", []byte("__CURSOR=c\nMESSAGE\n\xff\xff\xff\xff\xff\xff\xff\xff"), []string{"not journal export format: binary field"}},
		{"binary without newline", []byte("__CURSOR=c\nMESSAGE\n\x01\x00\x00\x00\x00\x00\x00\x00xy"), []string{"not journal export format: binary field"}},
		{"cut in a field", good[:20], []string{"unexpected EOF"}},
		{"cut in a binary length", []byte("__CURSOR=c\nMESSAGE\n\x01\x00"), []string{"unexpected EOF"}},
		{"too large then ok", append(append(append(append([]byte{}, huge...), good...), hugeBin...), good...), []string{"too large", "ok", "too large", "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(bytes.NewReader(tc.in), 4096)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d results %+v, want %v", len(got), got, tc.want)
			}
			for i, p := range got {
				switch w := tc.want[i]; {
				case w == "ok" && p.err != nil, w == "too large" && !errors.Is(p.err, errTooLarge):
					t.Errorf("entry %d: err %v, want %s", i, p.err, w)
				case w != "ok" && w != "too large" && (p.err == nil || !strings.HasPrefix(p.err.Error(), w)):
					t.Errorf("entry %d: err %v, want %q...", i, p.err, w)
				}
			}
		})
	}
}

// The arena never holds more than the maximum, however large the entry.
func TestExportReaderBoundedMemory(t *testing.T) {
	in := appendExport(nil, testEntry(0, strings.Repeat("y", 10<<20))...)
	in = appendExport(in, testEntry(1, strings.Repeat("\x01", 10<<20))...)
	x := exportReader{br: bufio.NewReaderSize(bytes.NewReader(in), 4096), maxEntry: 64 << 10}
	var e entry
	for i := 0; i < 2; i++ {
		if err := x.next(&e); !errors.Is(err, errTooLarge) {
			t.Fatalf("entry %d: %v, want errTooLarge", i, err)
		}
		if cap(e.arena) > 256<<10 {
			t.Fatalf("entry %d: arena grew to %d bytes for a maximum of 64KiB", i, cap(e.arena))
		}
	}
}

func FuzzExport(f *testing.F) {
	f.Add(appendExport(nil, testEntry(0, "hello")...), uint16(0))
	f.Add(appendExport(nil, testEntry(1, "bin\xff\n")...), uint16(3))
	f.Add([]byte("__CURSOR=c\n__REALTIME_TIMESTAMP=1\nMESSAGE\n\x02\x00\x00\x00\x00\x00\x00\x00ab\n\n"), uint16(17))
	f.Add([]byte("garbage\n\n\n=\x00"), uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, maxEntry uint16) {
		limit := int(maxEntry) + 64
		x := exportReader{br: bufio.NewReaderSize(bytes.NewReader(in), 16), maxEntry: limit}
		var e entry
		for i := 0; i < len(in)+1; i++ {
			err := x.next(&e)
			if err == nil {
				if e.size > limit || len(e.arena) > limit {
					t.Fatalf("entry of %d bytes kept, max %d", e.size, limit)
				}
				if len(e.cursor) == 0 || !e.hasRealtime {
					t.Fatalf("entry without cursor or time accepted")
				}
				for _, fl := range e.fields {
					if len(e.name(fl)) == 0 {
						t.Fatalf("empty field name")
					}
				}
				continue
			}
			if errors.Is(err, errTooLarge) {
				continue
			}
			return
		}
		t.Fatalf("more entries than input bytes")
	})
}

// FuzzExportRoundTrip: entries written in the export format read back
// equal, whatever their values and however the stream is cut.
func FuzzExportRoundTrip(f *testing.F) {
	f.Add("hello", []byte("bin\x00\xff\n"), "A", true)
	f.Add("", []byte{}, "X_Y", false)
	f.Fuzz(func(t *testing.T, text string, bin []byte, name string, oneByte bool) {
		if !validName([]byte(name)) || name == "" || strings.HasPrefix(name, "__") || len(name) > maxNameLen {
			return
		}
		fields := testEntry(0, text, exportField{name: name, value: string(bin), binary: true},
			exportField{name: name, value: text})
		in := appendExport(nil, fields...)
		var r io.Reader = bytes.NewReader(in)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		got := readAll(r, 1<<20)
		if len(got) != 1 || got[0].err != nil {
			t.Fatalf("got %+v", got)
		}
		if len(got[0].fields) != len(fields) {
			t.Fatalf("%d fields, want %d", len(got[0].fields), len(fields))
		}
		for i, fl := range got[0].fields {
			if fl.name != fields[i].name || fl.value != fields[i].value {
				t.Fatalf("field %d = %q=%q, want %q=%q", i, fl.name, fl.value, fields[i].name, fields[i].value)
			}
		}
	})
}

// printable reports whether v is valid UTF-8 without control characters
// other than newline and tab.
func printable(v []byte) bool {
	for len(v) > 0 {
		r, n := utf8.DecodeRune(v)
		if r == utf8.RuneError && n == 1 || r < ' ' && r != '\n' && r != '\t' || r == 0x7f {
			return false
		}
		v = v[n:]
	}
	return true
}
