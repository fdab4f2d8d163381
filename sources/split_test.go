package sources

import (
	"bytes"
	"testing"
)

// FuzzSplit checks split's invariants on any input: it never panics, lines
// never exceed MaxLineBytes, a block keeps to BlockBytes unless it is one
// line, and the lines with the newlines that were dropped rebuild exactly
// the bytes consumed.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("a\nb\r\n\x00\xff\n\npartial"), 4, 8, false)
	f.Add([]byte("0123456789012345678901234567890123456789"), 16, 64, false)
	f.Add([]byte("0123456789\n"), 10, 5, true)
	f.Fuzz(func(t *testing.T, buf []byte, maxLine, maxBlock int, flush bool) {
		if maxLine < 1 || maxLine > 1<<16 || maxBlock < 1 || maxBlock > 1<<16 {
			return
		}
		m, err := newMetrics(nil, "fuzz", false)
		if err != nil {
			t.Fatal(err)
		}
		tl := &tailer{opts: &FileOptions{MaxLineBytes: maxLine, BlockBytes: maxBlock}, m: m}
		used, lineBytes := tl.split(buf, flush)
		if used < 0 || used > len(buf) {
			t.Fatalf("used %d of %d", used, len(buf))
		}
		var rebuilt []byte
		n := 0
		for _, e := range tl.entries {
			if len(e.Line) > maxLine {
				t.Fatalf("line of %d bytes, max %d", len(e.Line), maxLine)
			}
			n += len(e.Line)
			rebuilt = append(rebuilt, e.Line...)
			if len(buf) > len(rebuilt) && buf[len(rebuilt)] == '\n' && len(rebuilt) < used {
				rebuilt = append(rebuilt, '\n')
			}
		}
		if n != lineBytes {
			t.Fatalf("line bytes %d, reported %d", n, lineBytes)
		}
		if len(tl.entries) > 1 && lineBytes > maxBlock {
			t.Fatalf("block of %d line bytes in %d lines, max %d", lineBytes, len(tl.entries), maxBlock)
		}
		if !bytes.Equal(rebuilt, buf[:used]) {
			t.Fatalf("rebuilt %q, consumed %q", rebuilt, buf[:used])
		}
		if used == 0 && len(buf) > maxLine && bytes.IndexByte(buf, '\n') < 0 {
			t.Fatalf("no progress on %d bytes without newline, max line %d", len(buf), maxLine)
		}
	})
}
