package kafka_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestBrokerOutage closes the kfake cluster mid-stream while lines keep
// coming, and starts it again on the same port with the same DataDir:
// every line arrives, nothing is dead-lettered, and during the outage
// goroutines and heap stay flat and the producer's buffer within
// max_buffered_bytes.
func TestBrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("outage")
	}
	kdir := t.TempDir()
	c1, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DataDir(kdir), kfake.SeedTopics(3, "outage"))
	if err != nil {
		t.Fatal(err)
	}
	brokers := c1.ListenAddrs()
	var port int
	fmt.Sscanf(brokers[0][strings.LastIndexByte(brokers[0], ':')+1:], "%d", &port)

	logDir := t.TempDir()
	reg := prometheus.NewRegistry()
	cfg := kafka.NewConfig()
	cfg.Brokers, cfg.Topic = brokers, "outage"
	cfg.Timeout = time.Second
	cfg.MaxBufferedBytes = 2 << 20
	ch := startChain(t, t.TempDir(), logDir, cfg, chainOptions{reg: reg, maxBytes: 256 << 10})

	// A writer appends numbered lines at about 10,000 a second.
	const total = 60_000
	wdone := make(chan struct{})
	written := make(chan int, 1)
	go func() {
		defer close(wdone)
		f, err := os.Create(filepath.Join(logDir, "app.log"))
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < total; {
			<-tick.C
			for j := 0; j < 100 && i < total; j, i = j+1, i+1 {
				fmt.Fprintf(w, "line %d %s\n", i, strings.Repeat("o", 100))
			}
			w.Flush()
			select {
			case written <- i:
			default:
				<-written
				written <- i
			}
		}
	}()

	cons := newConsumer(t, brokers, "outage")
	cons.wait(t, 5_000, 30*time.Second)
	cons.close() // it would only retry against the closed cluster
	c1.Close()
	outageStart := time.Now()

	// The baseline is taken once the sink has timed out and its breaker is
	// open; then sample until the outage ends.
	waitFor(t, 20*time.Second, "the breaker to open", func() bool {
		return metricValue(t, reg, "logcapturer_sink_circuit_open") == 1
	})
	baseG, baseHeap := runtime.NumGoroutine(), heapInUse()
	maxG, maxHeap := baseG, baseHeap
	var maxBuffered float64
	for time.Since(outageStart) < 8*time.Second {
		maxG, maxHeap = max(maxG, runtime.NumGoroutine()), max(maxHeap, heapInUse())
		maxBuffered = max(maxBuffered, metricValue(t, reg, "logcapturer_kafka_buffered_bytes"))
		time.Sleep(100 * time.Millisecond)
	}
	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DataDir(kdir), kfake.Ports(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	<-wdone
	t.Logf("outage of %s: goroutines %d -> max %d, heap in use %.1f -> max %.1f MiB, producer buffer max %.0f KiB",
		time.Since(outageStart).Round(time.Second), baseG, maxG, float64(baseHeap)/(1<<20), float64(maxHeap)/(1<<20), maxBuffered/1024)
	if maxG > baseG+10 {
		t.Errorf("goroutines grew during the outage: %d -> %d", baseG, maxG)
	}
	if maxHeap > 2*baseHeap+8<<20 {
		t.Errorf("heap grew during the outage: %d -> %d", baseHeap, maxHeap)
	}
	if maxBuffered > float64(cfg.MaxBufferedBytes) {
		t.Errorf("producer buffered %.0f bytes, over max_buffered_bytes %d", maxBuffered, cfg.MaxBufferedBytes)
	}

	recs := newConsumer(t, brokers, "outage").waitLines(t, total, 60*time.Second)
	seen := make([]int, total)
	for _, r := range recs {
		if i := lineIndex(r.Value); i >= 0 && i < total {
			seen[i]++
		}
	}
	dups := 0
	for i, n := range seen {
		if n == 0 {
			t.Fatalf("line %d never arrived", i)
		}
		dups += n - 1
	}
	t.Logf("%d records for %d lines: %d duplicates", len(recs), total, dups)
	// At most the batches in flight when the brokers went away (2 workers
	// of 256 KiB of 111-byte lines) arrive twice: a timed-out range is not
	// produced again while its first copy is buffered.
	if bound := 2 * (256 << 10) / 111; dups > bound {
		t.Errorf("%d duplicates, more than the batches in flight (%d lines)", dups, bound)
	}
	if dl := ch.p.DeadLetters("kafka"); len(dl) > 0 {
		t.Errorf("dead letters after an outage: %+v", dl)
	}
}

// waitFor polls cond every 20ms until it holds, or fails the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// metricValue returns the value of the gauge name (summed over labels).
func metricValue(t testing.TB, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Gauge != nil:
				v += m.Gauge.GetValue()
			case m.Counter != nil:
				v += m.Counter.GetValue()
			}
		}
	}
	return v
}
