package lokipush

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// got is one entry a sink received, with its whole label set.
type got struct {
	Labels   []wal.Label
	Time     int64
	Line     string
	Metadata []wal.Label
}

// captureSink keeps every entry it is sent; block makes Send wait for
// its ctx (a sink that is down: the WAL fills).
type captureSink struct {
	mu      sync.Mutex
	entries []got
	block   bool
}

func (s *captureSink) Name() string { return "capture" }
func (s *captureSink) Close() error { return nil }
func (s *captureSink) Send(ctx context.Context, b *sinks.Batch) error {
	if s.block {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, blk := range b.Blocks {
		for _, e := range blk.Entries {
			ls := e.Labels
			if ls == nil {
				ls = blk.Labels
			}
			s.entries = append(s.entries, got{Labels: slices.Clone(ls), Time: e.Time, Line: string(e.Line), Metadata: slices.Clone(e.Metadata)})
		}
	}
	return nil
}

func (s *captureSink) all() []got {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entries)
}

// env is a real pipeline and a started loki_push source on 127.0.0.1:0.
type env struct {
	p    *pipeline.Pipeline
	src  *Source
	sink *captureSink
	url  string
}

// newEnv starts the pipeline (popts with a test sink, sink when not nil)
// and a loki_push source of c (nil: the defaults) on 127.0.0.1:0; each of
// with changes the source's deps (pipeline_stages, relabel hook) first.
func newEnv(t *testing.T, c *Config, labels map[string]string, popts pipeline.Options, sink *captureSink, with ...func(*sources.Deps)) *env {
	t.Helper()
	if sink == nil {
		sink = &captureSink{}
	}
	popts.DataDir = t.TempDir()
	popts.Sinks = []pipeline.SinkOptions{{Sink: sink, MaxWait: 5 * time.Millisecond}}
	popts.ShutdownTimeout = 100 * time.Millisecond
	p, err := pipeline.Open(nil, nil, popts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.Start(ctx)
	if c == nil {
		c = NewConfig()
	}
	c.ListenAddress = "127.0.0.1:0"
	deps := depsFor("push", labels, p)
	for _, f := range with {
		f(&deps)
	}
	src, err := New(deps, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		src.Close()
		cancel()
		p.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return &env{p: p, src: src, sink: sink, url: "http://" + src.Addr().String() + PushPath}
}

type answer struct {
	code       int
	body       string
	retryAfter string
}

func postRaw(t *testing.T, url string, body []byte, hdr ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header.Get("Retry-After")}
}

// pushProto sends req as the Promtail client does: protobuf, snappy
// block, Content-Type application/x-protobuf.
func pushProto(t *testing.T, url string, req *push.PushRequest, hdr ...string) answer {
	t.Helper()
	buf, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return postRaw(t, url, snappy.Encode(nil, buf), append([]string{"Content-Type", "application/x-protobuf"}, hdr...)...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func snappyOf(b []byte) []byte { return snappy.Encode(nil, b) }
