package syslog_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/syslog"
)

// BenchmarkTCPToFileSink measures the figure: RFC 5424 messages of
// 200 bytes over one TCP connection (octet counting), through the source,
// the real WAL (sync: batch) and the file sink, until the file holds them
// all. The issue asks for at least 200k messages/s on 2 cores.
//
//	go test -run '^$' -bench TCPToFileSink -benchtime 1000000x ./sources/syslog
func BenchmarkTCPToFileSink(b *testing.B) {
	dir := b.TempDir()
	out := filepath.Join(dir, "out.log")
	fs, err := sinks.NewFile(nil, nil, sinks.FileOptions{Name: "file", Path: out})
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: filepath.Join(dir, "data"), SegmentSize: 1 << 20,
		Sinks: []pipeline.SinkOptions{{Sink: fs, Type: "file", MaxBytes: 4 << 20, MaxEntries: 50000,
			MaxWait: 50 * time.Millisecond, Workers: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Second}}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	em := &timedEmitter{Emitter: p}
	src, err := syslog.New(nil, nil, syslog.Options{Name: "net", Labels: map[string]string{"job": "bench"},
		Config: syslog.Config{ListenAddress: "127.0.0.1:0"}, Emitter: em})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	if err := src.Start(ctx); err != nil {
		b.Fatal(err)
	}
	lineLen := 200 - len(syslog.BenchHead) + 1 // MSG and "\n"
	c, start := syslog.SendBench(b, src.Addr().String())
	defer c.Close()
	want := int64(b.N * lineLen)
	deadline := time.Now().Add(5*time.Minute + time.Duration(b.N)*time.Microsecond*10)
	for {
		fi, err := os.Stat(out)
		if err == nil && fi.Size() >= want {
			if fi.Size() != want {
				b.Fatalf("file has %d bytes, want %d", fi.Size(), want)
			}
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("file has %v bytes after %s, want %d", fi.Size(), time.Since(start), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(b.N)/em.last.Load().(time.Time).Sub(start).Seconds(), "wal-msgs/s")
}

// timedEmitter notes when the last block was taken by the pipeline: the
// rate into the WAL, apart from the file sink's.
type timedEmitter struct {
	sources.Emitter
	last atomic.Value
}

func (e *timedEmitter) Emit(ctx context.Context, rec sources.Record) error {
	err := e.Emitter.Emit(ctx, rec)
	e.last.Store(time.Now())
	return err
}
