package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/prometheus/client_golang/prometheus"
)

// chain is the real path: file source → pipeline (WAL, cursors, retry
// queue) → kafka sink.
type chain struct {
	p      *pipeline.Pipeline
	sink   *kafka.Sink
	src    *sources.File
	cancel context.CancelFunc
}

type chainOptions struct {
	workers  int
	maxBytes int
	maxWait  time.Duration
	labels   map[string]string
	glob     string // default *.log
	now      func() time.Time
	reg      prometheus.Registerer
}

func startChain(t testing.TB, dataDir, logDir string, cfg *kafka.Config, o chainOptions) *chain {
	t.Helper()
	c, err := openChain(dataDir, logDir, cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func openChain(dataDir, logDir string, cfg *kafka.Config, o chainOptions) (*chain, error) {
	if o.workers == 0 {
		o.workers = 2
	}
	if o.maxBytes == 0 {
		o.maxBytes = 1 << 20
	}
	if o.maxWait == 0 {
		o.maxWait = 10 * time.Millisecond
	}
	if o.glob == "" {
		o.glob = "*.log"
	}
	if o.labels == nil {
		o.labels = map[string]string{"job": "e2e"}
	}
	s, err := kafka.New(nil, o.reg, "kafka", *cfg)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.Open(nil, o.reg, pipeline.Options{DataDir: dataDir, CommitInterval: 20 * time.Millisecond,
		Sinks: []pipeline.SinkOptions{{Sink: s, MaxBytes: o.maxBytes, MaxWait: o.maxWait, Workers: o.workers,
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, ProbeInterval: 500 * time.Millisecond}}})
	if err != nil {
		s.Close()
		return nil, err
	}
	src, err := sources.NewFile(nil, nil, sources.FileOptions{Name: "app", Paths: []string{filepath.Join(logDir, o.glob)},
		Labels: o.labels, Positions: p.Positions("app"), Emitter: p, Now: o.now})
	if err != nil {
		p.Close()
		s.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &chain{p: p, sink: s, src: src, cancel: cancel}
	p.Start(ctx)
	if err := src.Start(ctx); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// close stops the chain in the reverse order of construction. Safe to
// call twice.
func (c *chain) close() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.cancel = nil
	c.src.Close()
	c.p.Close()
	c.sink.Close()
}

// writeLogs writes n numbered lines spread over files in dir and returns
// their paths: line i is in file i%files and reads "line <i> <padding>".
func writeLogs(t testing.TB, dir string, files, n, pad int) []string {
	t.Helper()
	var paths []string
	for f := 0; f < files; f++ {
		p := filepath.Join(dir, fmt.Sprintf("app-%d.log", f))
		fh, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(fh)
		for i := f; i < n; i += files {
			fmt.Fprintf(w, "line %d %s\n", i, strings.Repeat("x", pad))
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		paths = append(paths, p)
	}
	return paths
}

// lineIndex parses "line <i> ..." out of a value (raw, or a JSON object
// whose line it is); -1 when there is none.
func lineIndex(v []byte) int {
	s := string(v)
	if i := strings.Index(s, `"line":"line `); i >= 0 {
		s = s[i+len(`"line":"`):]
	}
	f := strings.Fields(s)
	if len(f) < 2 || f[0] != "line" {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSuffix(f[1], `"}`))
	if err != nil {
		return -1
	}
	return n
}
