package otlp_test

import (
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/otlp"
	"github.com/logcapturer/logcapturer/sinks/otlp/otlptest"
	"github.com/logcapturer/logcapturer/sinks/sinkbench"
)

// BenchmarkDrain is the otlp sink alone (protobuf; 2 workers, 1 MiB
// batches) draining a WAL filled beforehand with 128 MiB of 200-byte
// lines to otlptest in a child process, which decodes every request with
// the official OTLP types. "gzip" is the default configuration; "none"
// sends uncompressed, which shows what gzip costs the sink (and gunzip
// the receiver). See package sinkbench for what is timed and reported;
// the loki sink's BenchmarkDrain is the same for comparison.
func BenchmarkDrain(b *testing.B) {
	for _, c := range []string{otlp.CompressionGzip, otlp.CompressionNone} {
		b.Run(c, func(b *testing.B) {
			sinkbench.Drain(b, sinkbench.Options{NewSink: func(url string) (sinks.Sink, error) {
				return otlp.New(nil, nil, otlp.Options{URL: url, Compression: c, Timeout: 10 * time.Second})
			}})
		})
	}
}

// TestDrainReceiver is BenchmarkDrain's receiver child; in a normal test
// run it skips.
func TestDrainReceiver(t *testing.T) {
	sinkbench.ServeReceiver(t, func() sinkbench.Receiver {
		r := otlptest.NewReceiver()
		r.SetDiscard(true)
		return sinkbench.Receiver{URL: r.URL(), Wait: r.WaitRecords, Count: r.Count, Problems: r.Problems, Close: r.Close}
	})
}
