package otlp

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/slim/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/slim/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/slim/otlp/logs/v1"
	respb "go.opentelemetry.io/proto/slim/otlp/resource/v1"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/receiver/receivertest"
)

type discardSink struct{}

func (discardSink) Name() string                             { return "discard" }
func (discardSink) Close() error                             { return nil }
func (discardSink) Send(context.Context, *sinks.Batch) error { return nil }

// benchRequest is an ExportLogsServiceRequest of about 1 MiB: one
// resource (service.name, host.name), one scope, records of a 200-byte
// body, a severity, two attributes, and a trace id on every other one,
// as an SDK's batch.
func benchRequest(tb testing.TB, rich bool) []byte {
	t0 := uint64(time.Now().UnixNano())
	sl := &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: "bench"}}
	req := &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  &respb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", sv("checkout")), kv("host.name", sv("edge-1"))}},
		ScopeLogs: []*logspb.ScopeLogs{sl},
	}}}
	for i := 0; ; i++ {
		lr := &logspb.LogRecord{TimeUnixNano: t0 + uint64(i), ObservedTimeUnixNano: t0 + uint64(i),
			SeverityText: "INFO", SeverityNumber: 9,
			Body:       sv(fmt.Sprintf("request %08d served %s", i, strings.Repeat("x", 170))),
			Attributes: []*commonpb.KeyValue{kv("http.route", sv("/api/v1/orders")), kv("http.status_code", sv("200"))}}
		if !rich {
			lr.Attributes, lr.SeverityText, lr.SeverityNumber = nil, "", 0
		}
		if rich && i%2 == 0 {
			lr.TraceId = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(i)}
			lr.SpanId = []byte{1, 2, 3, 4, 5, 6, 7, byte(i)}
		}
		sl.LogRecords = append(sl.LogRecords, lr)
		if i%64 == 0 && len(marshal(tb, req)) >= 1<<20 {
			return marshal(tb, req)
		}
	}
}

// BenchmarkReceiverProtobuf is the figure: 1 MiB protobuf export
// requests from 2 x GOMAXPROCS concurrent clients into a real pipeline
// with sync: batch (every group commit fsynced before the 200) and a sink
// that discards. MB/s is of request bodies; p50/p99-ms are the times from
// a request sent to its 200 received.
func BenchmarkReceiverProtobuf(b *testing.B) {
	// rich: attributes, severity and ids (about 160 bytes of structured
	// metadata per entry in the WAL); plain: bodies only.
	for _, rich := range []bool{true, false} {
		name := "plain"
		if rich {
			name = "rich"
		}
		b.Run(name, func(b *testing.B) { benchReceiver(b, rich) })
	}
}

func benchReceiver(b *testing.B, rich bool) {
	p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: b.TempDir(), Sync: pipeline.SyncBatch,
		SegmentSize: 16 << 20, Sinks: []pipeline.SinkOptions{{Sink: discardSink{}}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.Start(ctx)
	c := NewConfig()
	c.ListenAddress = "127.0.0.1:0"
	src, err := New(sources.Deps{Name: "bench", Labels: map[string]string{"env": "bench"}, Emitter: p}, c)
	if err != nil {
		b.Fatal(err)
	}
	if err := src.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { src.Close(); cancel(); p.Close() }()
	url := "http://" + src.Addr().String() + LogsPath
	body := benchRequest(b, rich)
	receivertest.Load(b, url, contentProtobuf, body, http.StatusOK, int64(len(body)))
}

// BenchmarkDecode is the decoder alone: a 1 MiB request into WAL blocks.
func BenchmarkDecode(b *testing.B) {
	body := benchRequest(b, true)
	d := testDecoder(map[string]string{"env": "bench"}, nil, DefaultSeverityLabel)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(body, now); err != nil {
			b.Fatal(err)
		}
	}
}
