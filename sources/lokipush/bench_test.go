package lokipush

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources/receiver/receivertest"
)

type discardSink struct{}

func (discardSink) Name() string                             { return "discard" }
func (discardSink) Close() error                             { return nil }
func (discardSink) Send(context.Context, *sinks.Batch) error { return nil }

// BenchmarkPushProtobuf is the figure: protobuf pushes of 1 MiB
// (before snappy; 4 streams of 256-byte lines, as a Promtail client's
// batch) from 4 concurrent clients into a real pipeline with sync: batch
// (every group commit fsynced before the 204), a sink that discards.
// MB/s is of uncompressed request bodies; p50/p99 are push latencies
// (request sent to 204 received).
func BenchmarkPushProtobuf(b *testing.B) {
	p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: b.TempDir(), Sync: pipeline.SyncBatch,
		SegmentSize: 16 << 20, Sinks: []pipeline.SinkOptions{{Sink: discardSink{}}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.Start(ctx)
	c := NewConfig()
	c.ListenAddress = "127.0.0.1:0"
	c.UseIncomingTimestamp = true
	src, err := New(depsFor("bench", map[string]string{"env": "bench"}, p), c)
	if err != nil {
		b.Fatal(err)
	}
	if err := src.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { src.Close(); cancel(); p.Close() }()
	url := "http://" + src.Addr().String() + PushPath

	line := bytes.Repeat([]byte("x"), 200)
	var req push.PushRequest
	t0 := time.Now()
	size := 0
	for s := 0; size < 1<<20; s++ {
		st := push.Stream{Labels: fmt.Sprintf(`{job="bench", pod="pod-%d"}`, s%4)}
		for i := 0; i < 1000 && size < 1<<20; i++ {
			l := fmt.Sprintf("%s ts=%d level=info msg=%q", t0.Format(time.RFC3339Nano), i, line[:200])
			st.Entries = append(st.Entries, push.Entry{Timestamp: t0.Add(time.Duration(i)), Line: l[:min(len(l), 256)]})
			size += min(len(l), 256) + 40
		}
		req.Streams = append(req.Streams, st)
	}
	raw, err := req.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	body := snappy.Encode(nil, raw)
	receivertest.Load(b, url, "application/x-protobuf", body, http.StatusNoContent, int64(len(raw)))
	b.ReportMetric(float64(len(raw))/float64(len(body)), "snappy-ratio")
}
