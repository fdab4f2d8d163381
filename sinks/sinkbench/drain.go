package sinkbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// Defaults of Options.
const (
	DefaultBytes      = 128 << 20 // line bytes in the WAL
	DefaultLineLen    = 200
	DefaultBlockBytes = 64 << 10 // line bytes per block, as the file source cuts them
	DefaultMaxBatch   = 1 << 20
	DefaultWorkers    = 2
)

// Options configures Drain. Zero fields take the defaults above.
type Options struct {
	// NewSink makes the sink under test, sending to url. Drain closes it.
	NewSink func(url string) (sinks.Sink, error)
	// ChildTest is the name of the package's test function that calls
	// ServeReceiver (default TestDrainReceiver).
	ChildTest string
	// Bytes is how many line bytes the WAL holds; LineLen the length of
	// each line; BlockBytes the line bytes of a block.
	Bytes, LineLen, BlockBytes int
	// MaxBatch is the sink's batch limit in line bytes and Workers its
	// workers (pipeline.SinkOptions MaxBytes, Workers).
	MaxBatch, Workers int
}

func (o *Options) setDefaults() {
	if o.ChildTest == "" {
		o.ChildTest = "TestDrainReceiver"
	}
	if o.Bytes <= 0 {
		o.Bytes = DefaultBytes
	}
	if o.LineLen <= 0 {
		o.LineLen = DefaultLineLen
	}
	if o.BlockBytes <= 0 {
		o.BlockBytes = DefaultBlockBytes
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
}

// Drain runs the benchmark described in the package documentation: it
// fills a WAL, starts the receiver child, and times the sink draining the
// WAL to it, once per b.Loop iteration. It fails b when the receiver could
// not decode a request or did not get every entry within 5 minutes.
func Drain(b *testing.B, o Options) {
	b.Helper()
	o.setDefaults()
	template := b.TempDir()
	lines := Fill(b, template, o.Bytes, o.LineLen, o.BlockBytes)
	rc := startReceiver(b, o.ChildTest)

	b.SetBytes(int64(lines * o.LineLen))
	b.ReportAllocs()
	var (
		cpu, rcpu        time.Duration
		mallocs, alloced uint64
		runs             int
	)
	for b.Loop() {
		b.StopTimer()
		dataDir := filepath.Join(b.TempDir(), "data")
		if err := os.CopyFS(dataDir, os.DirFS(template)); err != nil {
			b.Fatalf("copy the filled data dir: %v", err)
		}
		s, err := o.NewSink(rc.url)
		if err != nil {
			b.Fatal(err)
		}
		p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: dataDir,
			Sinks: []pipeline.SinkOptions{{Sink: s, MaxBytes: o.MaxBatch, MaxWait: 10 * time.Millisecond,
				Workers: o.Workers, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}}})
		if err != nil {
			s.Close()
			b.Fatal(err)
		}
		base, rcpu0, err := rc.wait(0)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		cpu0 := selfCPU()
		b.StartTimer()

		p.Start(context.Background())
		_, rcpu1, werr := rc.wait(base + lines)

		b.StopTimer()
		cpu += selfCPU() - cpu0
		runtime.ReadMemStats(&m1)
		mallocs += m1.Mallocs - m0.Mallocs
		alloced += m1.TotalAlloc - m0.TotalAlloc
		rcpu += rcpu1 - rcpu0
		runs++
		cerr := p.Close()
		s.Close()
		if werr != nil {
			b.Fatal(werr)
		}
		if cerr != nil {
			b.Fatal(cerr)
		}
		os.RemoveAll(dataDir)
		b.StartTimer()
	}
	gib := float64(runs) * float64(lines*o.LineLen) / (1 << 30)
	mib := gib * 1024
	b.ReportMetric(cpu.Seconds()/gib, "cpu-s/GiB")
	b.ReportMetric(rcpu.Seconds()/gib, "receiver-cpu-s/GiB")
	b.ReportMetric(float64(mallocs)/mib, "allocs/MiB")
	b.ReportMetric(float64(alloced)/mib, "B/MiB")
}

// Fill writes about bytes of line bytes, in lines of lineLen bytes and
// blocks of blockBytes, into a new data directory dir, and returns the
// number of lines. Every line is distinct (it carries its number) and
// times rise by a microsecond a line. The blocks go through the pipeline's
// Emit, with one sink that never delivers (its first send waits until the
// pipeline's Close cancels it), so retention deletes nothing and the
// sink's cursor stays at the start; a pipeline opened on dir without that
// sink releases its blocks, and a new sink delivers them all.
func Fill(tb testing.TB, dir string, bytes, lineLen, blockBytes int) int {
	tb.Helper()
	p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: dir, Sync: pipeline.SyncNone,
		ShutdownTimeout: time.Millisecond, Sinks: []pipeline.SinkOptions{{Sink: holdSink{}}}})
	if err != nil {
		tb.Fatal(err)
	}
	p.Start(context.Background())
	per := max(blockBytes/lineLen, 1)
	total := max(bytes/lineLen, 1)
	labels := []wal.Label{{Name: "filename", Value: "/var/log/app.log"}, {Name: "host", Value: "edge-01"}, {Name: "job", Value: "app"}}
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	var data []byte
	for n := 0; n < total; {
		blk := wal.Block{Source: "app", Labels: labels, Entries: make([]wal.Entry, min(per, total-n))}
		for i := range blk.Entries {
			blk.Entries[i] = wal.Entry{Time: t0 + int64(n)*1000, Line: Line(n, lineLen)}
			n++
		}
		blk.Position = wal.Position{FileID: "bench", Path: "/var/log/app.log", Offset: int64(n * (lineLen + 1))}
		data = wal.EncodeBlock(nil, &blk)
		rec := sources.Record{Source: blk.Source, Position: blk.Position, Entries: len(blk.Entries), Bytes: blk.Size(), Data: data}
		if err := p.Emit(context.Background(), rec); err != nil {
			p.Close()
			tb.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		tb.Fatal(err)
	}
	return total
}

// Line returns line number n, lineLen bytes long: a logfmt access log line
// padded with x.
func Line(n, lineLen int) []byte {
	s := fmt.Sprintf("2026-06-01T12:00:00.%06dZ level=info msg=\"request served\" path=/api/v1/items/%d status=200 ", n%1000000, n)
	line := make([]byte, lineLen)
	c := copy(line, s)
	for i := c; i < lineLen; i++ {
		line[i] = 'x'
	}
	if lineLen > 12 {
		copy(line[lineLen-12:], " "+strconv.FormatInt(int64(100000000000+n%100000000000), 10)[1:])
	}
	return line
}

// selfCPU is this process's CPU time so far (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// holdSink is Fill's sink: every Send waits for its context to end.
type holdSink struct{}

func (holdSink) Name() string { return "sinkbench-fill" }

func (holdSink) Send(ctx context.Context, _ *sinks.Batch) error {
	<-ctx.Done()
	return &sinks.Retryable{Err: ctx.Err()}
}

func (holdSink) Close() error { return nil }
