package pipeline

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// requestLines returns n request log lines that S2 shrinks about 10 times.
func requestLines(n, seq int) []string {
	var lines []string
	for j := range n {
		lines = append(lines, fmt.Sprintf("ts=2026-12-06T03:00:%02d.%03dZ level=info path=/api/v1/items status=200 msg=\"request served\" seq=%d", j%60, j, seq+j))
	}
	return lines
}

// randomLines returns n lines of 60 random printable bytes.
func randomLines(r *rand.Rand, n int) []string {
	var lines []string
	for range n {
		b := make([]byte, 60)
		for k := range b {
			b[k] = byte('!' + r.Intn(90))
		}
		lines = append(lines, string(b))
	}
	return lines
}

// TestCompressPerStream: a block too small to try does not stop the next
// ones of its stream from being compressed, and a file of one source whose
// lines do not compress does not stop another file of that source from
// being compressed.
func TestCompressPerStream(t *testing.T) {
	dir := t.TempDir()
	a := &memSink{name: "a"}
	p := openTest(t, dir, nil, Options{Compress: true}, a)
	r := rand.New(rand.NewSource(2))
	n := 0
	for i := range 16 {
		emit(t, p, "app", "1:1", int64(2*i+1), "one short line")
		emit(t, p, "app", "1:1", int64(2*i+2), requestLines(100, i*100)...)
		emit(t, p, "app", "3:3", int64(i+1), randomLines(r, 20)...)
		n += 1 + 100 + 20
	}
	waitFor(t, "every line at the sink", func() bool { return len(a.lines()) == n })
	if got := testutil.ToFloat64(p.m.walCompression.WithLabelValues("compressed")); got != 16 {
		t.Errorf("%v blocks compressed, want the 16 of file 1:1", got)
	}
	// Small blocks of a skipping stream use up none of its skips: after
	// a random block, compressProbe-1 small ones, then a random one that
	// is still skipped.
	tried := testutil.ToFloat64(p.m.walCompression.WithLabelValues("tried"))
	skipped := testutil.ToFloat64(p.m.walCompression.WithLabelValues("skipped"))
	emit(t, p, "other", "4:4", 1, randomLines(r, 20)...)
	for i := range compressProbe - 1 {
		emit(t, p, "other", "4:4", int64(i+2), "one short line")
	}
	emit(t, p, "other", "4:4", compressProbe+1, randomLines(r, 20)...)
	n += 20 + compressProbe - 1 + 20
	waitFor(t, "every line at the sink", func() bool { return len(a.lines()) == n })
	if got := testutil.ToFloat64(p.m.walCompression.WithLabelValues("tried")) - tried; got != 1 {
		t.Errorf("stream 4:4: %v blocks tried, want 1", got)
	}
	if got := testutil.ToFloat64(p.m.walCompression.WithLabelValues("skipped")) - skipped; got != 1 {
		t.Errorf("stream 4:4: %v blocks skipped, want 1", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if streamSlot("app", "1:1") == streamSlot("app", "3:3") {
		t.Fatal("the test's two streams share a slot: rename one")
	}
}

// walBytes returns the size of the WAL's segment files in dir.
func walBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && !strings.Contains(e.Name(), ".") {
			n += fi.Size()
		}
	}
	return n
}

// TestEmitCompresses: with Compress, a block of log lines that shrinks at
// least minCompressRatio times is stored compressed (the WAL on disk is a
// fraction of the lines), one that does not is stored as it is and the
// next compressProbe-1 blocks of its source are not tried; every line
// reaches the sink byte for byte, also after a restart without Compress.
func TestEmitCompresses(t *testing.T) {
	dir := t.TempDir()
	a := &memSink{name: "a"}
	p := openTest(t, dir, nil, Options{Compress: true}, a)
	var want []string
	var lineBytes int64
	// 20 blocks of 100 request logs each: S2 shrinks them about 10 times.
	for i := range 20 {
		lines := requestLines(100, i*100)
		emit(t, p, "app", "1:1", int64(i+1)*1000, lines...)
		want = append(want, lines...)
		for _, l := range lines {
			lineBytes += int64(len(l))
		}
	}
	waitFor(t, "the app lines at the sink", func() bool { return len(a.lines()) == len(want) })
	if got := testutil.ToFloat64(p.m.walCompression.WithLabelValues("compressed")); got != 20 {
		t.Fatalf("%v blocks compressed, want 20", got)
	}
	if n := walBytes(t, dir); n*4 > lineBytes {
		t.Fatalf("the WAL holds %d bytes for %d bytes of lines: not compressed", n, lineBytes)
	}
	// Random lines: tried once, then compressProbe-1 skipped, then tried.
	r := rand.New(rand.NewSource(1))
	for i := range compressProbe + 1 {
		lines := randomLines(r, 20)
		emit(t, p, "rand", "2:2", int64(i+1)*1000, lines...)
		want = append(want, lines...)
	}
	waitFor(t, "every line at the sink", func() bool { return len(a.lines()) == len(want) })
	tried := testutil.ToFloat64(p.m.walCompression.WithLabelValues("tried"))
	skipped := testutil.ToFloat64(p.m.walCompression.WithLabelValues("skipped"))
	if tried != 2 || skipped != compressProbe-1 {
		t.Fatalf("random blocks: %v tried, %v skipped; want 2 and %d", tried, skipped, compressProbe-1)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := a.lines(); !slices.Equal(got, want) {
		t.Fatalf("delivered %d lines, not the %d emitted, in order", len(got), len(want))
	}
	if streamSlot("app", "1:1") == streamSlot("rand", "2:2") {
		t.Fatal("the test's two streams share a slot: rename one")
	}

	// Without Compress, a new sink reads the compressed blocks.
	b := &memSink{name: "b"}
	p = openTest(t, dir, nil, Options{}, b)
	waitFor(t, "every line at a new sink", func() bool { return len(b.lines()) == len(want) })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.lines(); !slices.Equal(got, want) {
		t.Fatal("the new sink got other lines")
	}
}
