package lokipush

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
)

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
	b.SetBytes(int64(len(raw)))

	var mu sync.Mutex
	var lat []time.Duration
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	b.SetParallelism(2) // 2 x GOMAXPROCS clients
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			for {
				start := time.Now()
				r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/x-protobuf")
				resp, err := client.Do(r)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					time.Sleep(10 * time.Millisecond) // inflight bound: as a client, wait and resend
					continue
				}
				if resp.StatusCode != 204 {
					b.Errorf("push: %d", resp.StatusCode)
					return
				}
				mine = append(mine, time.Since(start))
				break
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		// The machine may be shared: MB/s of the process's own CPU time
		// (receiver, pipeline and the in-process clients together).
		b.ReportMetric(float64(len(raw))*float64(b.N)/1e6/cpu, "MB/cpu-s")
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(len(raw))/float64(len(body)), "snappy-ratio")
}
