package sources

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// doneEmitter drops records and closes done when a record reaches size.
type doneEmitter struct {
	size int64
	done chan struct{}
}

func (e *doneEmitter) Emit(ctx context.Context, rec Record) error {
	if rec.Position.Offset == e.size {
		close(e.done)
	}
	return nil
}

// BenchmarkFileTail measures read, split and encode of 200-byte lines (199
// bytes and '\n') from a 64 MiB file in the page cache, through the whole
// source (start, fsnotify, metrics) with an Emitter that drops the records.
func BenchmarkFileTail(b *testing.B) {
	const size = 64 << 20
	path := filepath.Join(b.TempDir(), "bench.log")
	line := strings.Repeat("0123456789abcdef ", 12)[:199] + "\n"
	data := []byte(strings.Repeat(line, size/len(line)))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		em := &doneEmitter{size: int64(len(data)), done: make(chan struct{})}
		f, err := NewFile(nil, nil, FileOptions{Name: "bench", Paths: []string{path}, Emitter: em})
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		select {
		case <-em.done:
		case <-time.After(time.Minute):
			b.Fatal("the file was not read in a minute")
		}
		f.Close()
	}
	b.ReportMetric(float64(b.N)*float64(len(data)/len(line))/b.Elapsed().Seconds(), "lines/s")
}

// benchDecoded measures the decoding path (Docker, CRI, multiline) like
// BenchmarkFileTail, with 200-byte lines of text.
func benchDecoded(b *testing.B, opts FileOptions, line func(i int) string) {
	dir := filepath.Join(b.TempDir(), "c")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "bench-json.log")
	var sb strings.Builder
	for i := 0; sb.Len() < 32<<20; i++ {
		sb.WriteString(line(i))
	}
	data := []byte(sb.String())
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		em := &doneEmitter{size: int64(len(data)), done: make(chan struct{})}
		opts.Name, opts.Paths, opts.Emitter = "bench", []string{path}, em
		f, err := NewFile(nil, nil, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		select {
		case <-em.done:
		case <-time.After(time.Minute):
			b.Fatal("the file was not read in a minute")
		}
		f.Close()
	}
}

var benchText = strings.Repeat("0123456789abcdef ", 12)[:150]

func BenchmarkDockerTail(b *testing.B) {
	benchDecoded(b, FileOptions{Type: TypeDocker}, func(i int) string {
		return `{"log":"` + benchText + `\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}` + "\n"
	})
}

func BenchmarkCRITail(b *testing.B) {
	benchDecoded(b, FileOptions{Type: TypeCRI}, func(i int) string {
		return "2024-05-01T10:00:00.123456789Z stdout F " + benchText + "\n"
	})
}

func BenchmarkMultilineTail(b *testing.B) {
	benchDecoded(b, FileOptions{Multiline: MultilineOptions{Start: `^\d{4}-`, MaxWait: 10 * time.Millisecond}}, func(i int) string {
		if i%5 == 0 {
			return "2024-05-01 10:00:00 " + benchText + "\n"
		}
		return "    at " + benchText + "\n"
	})
}

// BenchmarkSplit measures the tailer's split of a 64 KiB read into lines
// (200 bytes, '\n' included) and their entries, without I/O.
func BenchmarkSplit(b *testing.B) {
	f, err := NewFile(nil, nil, FileOptions{Name: "bench", Paths: []string{filepath.Join(b.TempDir(), "*.log")}, Emitter: &doneEmitter{}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	t := newTailer(f, nil)
	buf := []byte(strings.Repeat("2026-11-24T06:00:00.000Z level=info msg="+strings.Repeat("x", 159)+"\n", 64<<10/200))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if used, _ := t.split(buf, false); used != len(buf) {
			b.Fatalf("split used %d of %d bytes", used, len(buf))
		}
	}
}
