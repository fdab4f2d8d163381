package otlp_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks/otlp"
	"github.com/logcapturer/logcapturer/sinks/otlp/otlptest"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/prometheus/client_golang/prometheus"
	logspb "go.opentelemetry.io/proto/slim/otlp/logs/v1"
)

// TestEndToEndPartialSuccess runs file source → pipeline → otlp sink →
// a receiver that rejects some records with a 200 partial success, as an
// OTLP backend does. The answer says how many, not which: the DLQ counts
// exactly the rejected records (never more), each dead letter is the
// batch's whole range with reason "partial", and every accepted line is
// stored once.
func TestEndToEndPartialSuccess(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	const lines = 20_000
	logDir := t.TempDir()
	f, err := os.Create(filepath.Join(logDir, "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	rejected := 0
	for i := 0; i < lines; i++ {
		tag := "ok"
		if i%7 == 3 {
			tag = "REJECT"
			rejected++
		}
		fmt.Fprintf(w, "line %d %s %s\n", i, tag, strings.Repeat("x", 40))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	r := newReceiver(t)
	r.SetDefault(otlptestReject())
	reg := prometheus.NewPedanticRegistry()
	s, err := otlp.New(nil, reg, otlp.Options{URL: r.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := pipeline.Open(nil, reg, pipeline.Options{DataDir: t.TempDir(), CommitInterval: 20 * time.Millisecond,
		Sinks: []pipeline.SinkOptions{{Sink: s, MaxBytes: 64 << 10, MaxWait: 10 * time.Millisecond, Workers: 2,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src, err := sources.NewFile(nil, nil, sources.FileOptions{Name: "app", Paths: []string{filepath.Join(logDir, "*.log")},
		Labels: map[string]string{"job": "t"}, Positions: p.Positions("app"), Emitter: p})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}

	dlq := func() (n int) {
		for _, d := range p.DeadLetters(otlp.DefaultName) {
			n += d.Entries
		}
		return n
	}
	accepted := lines - rejected
	waitUntil(t, 30*time.Second, func() bool { return r.Count() >= accepted && dlq() >= rejected },
		func() string { return fmt.Sprintf("%d stored, %d in the dlq", r.Count(), dlq()) })

	seen := map[string]int{}
	for _, rec := range r.Records() {
		body, _ := rec.Body()
		if strings.Contains(body, "REJECT") {
			t.Fatalf("a rejected line was stored: %q", body)
		}
		seen[body]++
	}
	if len(seen) != accepted {
		t.Fatalf("stored %d distinct lines, want %d", len(seen), accepted)
	}
	for l, n := range seen {
		if n != 1 {
			t.Fatalf("line %q stored %d times", l, n)
		}
	}
	if n := dlq(); n != rejected {
		t.Fatalf("the dlq counts %d entries, want exactly the %d rejected", n, rejected)
	}
	for _, d := range p.DeadLetters(otlp.DefaultName) {
		if d.Reason != otlp.ReasonPartial || !d.Picks.IsZero() || !strings.Contains(d.LastError, "partial success") {
			t.Fatalf("dead letter %+v: want reason partial over the whole range", d)
		}
	}
	if got := counter(t, reg, "logcapturer_sink_otlp_rejected_records_total"); int(got) != rejected {
		t.Fatalf("rejected records metric %v, want %d", got, rejected)
	}
}

// otlptestReject rejects the records whose body holds "REJECT".
func otlptestReject() otlptest.Reply {
	return otlptest.Reply{Reject: func(lr *logspb.LogRecord) bool {
		return strings.Contains(lr.GetBody().GetStringValue(), "REJECT")
	}, Message: "records refused"}
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, state())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counter returns the value of the counter name in g, summed over labels.
func counter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
