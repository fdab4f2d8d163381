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
