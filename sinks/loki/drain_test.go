package loki_test

import (
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/sinks/sinkbench"
)

// BenchmarkDrain is the loki sink alone (protobuf, snappy; 2 workers,
// 1 MiB batches) draining a WAL filled beforehand with 128 MiB of 200-byte
// lines to lokitest in a child process, which decodes and checks every
// push with Loki's own types. See package sinkbench; the otlp sink's
// BenchmarkDrain is the same.
func BenchmarkDrain(b *testing.B) {
	sinkbench.Drain(b, sinkbench.Options{NewSink: func(url string) (sinks.Sink, error) {
		return loki.New(nil, nil, loki.Options{URL: url, Labels: map[string]string{"host": "edge-01"}, Timeout: 10 * time.Second})
	}})
}

// TestDrainReceiver is BenchmarkDrain's receiver child; in a normal test
// run it skips.
func TestDrainReceiver(t *testing.T) {
	sinkbench.ServeReceiver(t, func() sinkbench.Receiver {
		r := lokitest.NewReceiver()
		r.SetDiscard(true)
		return sinkbench.Receiver{URL: r.URL(), Wait: r.WaitEntries, Count: r.Count, Problems: r.Problems, Close: r.Close}
	})
}
