package sources

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// interleavedDocker encodes the lines of text as Docker records of two
// streams (line i of text goes to stream i%2), each line cut into partial
// records of at most chunk bytes, and merges the two streams' records in
// the order order's bits give (each stream's records keep their order).
func interleavedDocker(text []byte, order []byte, chunk int) []byte {
	var recs [2][][]byte
	for i, line := range strings.Split(string(text), "\n") {
		s := strings.ToValidUTF8(line, "\uFFFD")
		for {
			part := s[:min(chunk, len(s))]
			s = s[len(part):]
			log := part
			if s == "" {
				log += "\n"
			}
			rec, _ := json.Marshal(map[string]string{"log": log, "stream": []string{"stdout", "stderr"}[i%2], "time": "2024-05-01T10:00:00Z"})
			recs[i%2] = append(recs[i%2], append(rec, '\n'))
			if s == "" {
				break
			}
		}
	}
	var file []byte
	for k := 0; len(recs[0])+len(recs[1]) > 0; k++ {
		s := 0
		if len(order) > 0 {
			s = int(order[k/8%len(order)]>>(k%8)) & 1
		}
		if len(recs[s]) == 0 {
			s = 1 - s
		}
		file = append(file, recs[s][0]...)
		recs[s] = recs[s][1:]
	}
	return file
}

// readInParts parses buf as the tailer reads a file: in reads that end at
// cuts, each from the offset the last one left (the start of the first
// entry under way), skipping the lines of entries emitted already (see
// streamSkip) as a restart from the position's Cursor does; the last read
// flushes. It returns each stream's entries.
func readInParts(t *testing.T, a *assembler, buf []byte, cuts []int) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	tf := &tailedFile{}
	slices.Sort(cuts)
	for _, c := range append(cuts, len(buf)) {
		base := int(tf.offset)
		if c < base {
			continue
		}
		last := c == len(buf)
		a.setSkip(tf.skip, tf.offset)
		used, _ := a.parse(buf[base:c], last, last)
		for _, e := range a.out {
			got[e.stream] = append(got[e.stream], string(e.line))
		}
		tf.offset = int64(base + used)
		// As a restart from the position would: through its Cursor.
		tf.skip = decodeSkips(encodeSkips(skipAfter(tf.skip, int64(base), a.out, tf.offset)), tf.offset)
	}
	if int(tf.offset) != len(buf) {
		t.Fatalf("flushed reads left %d of %d bytes", len(buf)-int(tf.offset), len(buf))
	}
	return got
}

// FuzzInterleavedStreams: a Docker file whose two streams interleave at any
// record (partial records of one line mixed with the other stream's, and
// with multiline entries when multi is set), read in several reads as the
// tailer reads it, gives each stream the entries one read gives: none
// twice, none lost. Before streamSkip, an entry that began before another
// stream's entry under way and ended after its start had its later lines
// read a second time, as an entry of their own.
func FuzzInterleavedStreams(f *testing.F) {
	// stdout "00" ends after stderr "11" began; the first read ends
	// before stderr's end.
	f.Add([]byte("00\n11"), []byte{0b1010}, 1, false, uint16(182), uint16(0))
	f.Add([]byte("Exception\nout 1\n  at x\nout 2\nException 2"), []byte{0b0110}, 64, true, uint16(40), uint16(200))
	f.Add([]byte("abcdefgh\nxy\nijklmnop\nzz"), []byte{0b1010_0110}, 3, false, uint16(90), uint16(0))
	f.Add([]byte("a\n b\n c\nd\n e\nf"), []byte{0xff, 0}, 1, true, uint16(10), uint16(300))
	f.Fuzz(func(t *testing.T, text, order []byte, chunk int, multi bool, cut1, cut2 uint16) {
		if chunk < 1 || chunk > 1<<10 || len(text) > 1<<12 || len(order) > 64 {
			return
		}
		file := interleavedDocker(text, order, chunk)
		start := ""
		if multi {
			start = `^\S` // lines that begin with a space continue an entry
		}
		one := readInParts(t, fuzzAssembler(TypeDocker, 1<<20, start, 1000), file, nil)
		cuts := []int{int(cut1) % (len(file) + 1), int(cut2) % (len(file) + 1)}
		parts := readInParts(t, fuzzAssembler(TypeDocker, 1<<20, start, 1000), file, cuts)
		for _, s := range []string{"stdout", "stderr"} {
			if !slices.Equal(one[s], parts[s]) {
				t.Fatalf("%s: read at %v: %q; in one read: %q", s, cuts, parts[s], one[s])
			}
		}
	})
}

// TestSkipCursor: the skips a file position records in its Cursor come
// back as they were, whatever the stream's name; those the offset passed
// are dropped; a cursor that is not one yields none (lines read twice,
// never skipped by mistake).
func TestSkipCursor(t *testing.T) {
	skips := []streamSkip{{"stderr", 209}, {"a b:c 7:", 300}, {"", 250}, {"café", 1 << 40}}
	c := encodeSkips(skips)
	if got := decodeSkips(c, 100); !slices.Equal(got, skips) {
		t.Errorf("%q decodes as %+v, want %+v", c, got, skips)
	}
	if got := decodeSkips(c, 250); !slices.Equal(got, []streamSkip{{"a b:c 7:", 300}, {"café", 1 << 40}}) {
		t.Errorf("at offset 250: %+v", got)
	}
	if encodeSkips(nil) != "" {
		t.Error("no skips must leave the cursor empty")
	}
	for _, bad := range []string{"", "s=1;i=b", "skip", "skip 1", "skip 1 9:ab", "skip x 1:a", "skip 5 -1:", "skip 5 1:a6 1:b", "skip 5 1:a  6 1:b"} {
		if got := decodeSkips(bad, 0); got != nil {
			t.Errorf("%q decodes as %+v, want none", bad, got)
		}
	}
}

// TestAssemblerStreamsBounded: a file that names a stream per record (not
// Docker's: it writes stdout and stderr) must not grow the assembler's
// streams, which it keeps from one read to the next and searches on every
// record, with its size; with more streams under way than maxStreams, the
// entry that began first ends early. Every line is read once either way.
func TestAssemblerStreamsBounded(t *testing.T) {
	rec := func(stream, log string) []byte {
		b, _ := json.Marshal(map[string]string{"log": log, "stream": stream, "time": "2024-05-01T10:00:00Z"})
		return append(b, '\n')
	}
	cuts := func(n, every int) []int {
		var c []int
		for i := every; i < n; i += every {
			c = append(c, i)
		}
		return c
	}

	t.Run("a stream per line", func(t *testing.T) {
		var file []byte
		want := map[string][]string{}
		for i := range 5000 {
			s, l := fmt.Sprintf("s%d", i), fmt.Sprintf("line %d", i)
			file = append(file, rec(s, l+"\n")...)
			want[s] = []string{l}
		}
		a := fuzzAssembler(TypeDocker, 1024, "", 0)
		got := readInParts(t, a, file, cuts(len(file), 4096))
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("got %d streams' entries, want %d, one line each", len(got), len(want))
		}
		if len(a.streams) > maxStreams {
			t.Fatalf("the assembler tracks %d streams, want at most %d", len(a.streams), maxStreams)
		}
	})

	t.Run("more streams under way than the bound", func(t *testing.T) {
		// 20 streams each write a multiline entry in 3 partial records,
		// the streams taking turns record by record.
		const n = 20
		var file []byte
		for part := range 3 {
			for i := range n {
				log := fmt.Sprintf("%d-%d", i, part)
				if part == 2 {
					log += "\n"
				}
				file = append(file, rec(fmt.Sprintf("s%d", i), log)...)
			}
		}
		a := fuzzAssembler(TypeDocker, 1024, `^X`, 100)
		got := readInParts(t, a, file, cuts(len(file), 512))
		if len(a.streams) > maxStreams {
			t.Fatalf("the assembler tracks %d streams, want at most %d", len(a.streams), maxStreams)
		}
		for i := range n {
			s := fmt.Sprintf("s%d", i)
			if all := strings.Join(got[s], ""); all != fmt.Sprintf("%d-0%d-1%d-2", i, i, i) {
				t.Errorf("stream %s: entries %q, want its three parts once, in order", s, got[s])
			}
		}
	})
}
