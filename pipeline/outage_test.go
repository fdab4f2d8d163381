package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/sinktest"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// generator emits blocks of numbered lines at a steady rate until stopped.
type generator struct {
	p     *Pipeline
	n     atomic.Int64
	stop  chan struct{}
	done  chan struct{}
	perMS int
}

func startGenerator(t *testing.T, p *Pipeline, linesPerSec int) *generator {
	g := &generator{p: p, stop: make(chan struct{}), done: make(chan struct{}), perMS: linesPerSec / 100}
	go func() {
		defer close(g.done)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		var offset int64
		for {
			select {
			case <-g.stop:
				return
			case <-tk.C:
			}
			blk := wal.Block{Source: "gen", Labels: []wal.Label{{Name: "job", Value: "gen"}}}
			now := time.Now().UnixNano()
			bytes := 0
			for i := 0; i < g.perMS; i++ {
				line := fmt.Sprintf("L%09d some payload to make the line about one hundred bytes long, like a real log line", g.n.Add(1))
				blk.Entries = append(blk.Entries, wal.Entry{Time: now, Line: []byte(line)})
				bytes += len(line)
				offset += int64(len(line) + 1)
			}
			blk.Position = wal.Position{FileID: "gen", Path: "/gen.log", Offset: offset}
			rec := sources.Record{Source: "gen", Position: blk.Position, Entries: len(blk.Entries), Bytes: bytes, Data: wal.EncodeBlock(nil, &blk)}
			if err := p.Emit(context.Background(), rec); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	return g
}

func (g *generator) finish() int {
	close(g.stop)
	<-g.done
	return int(g.n.Load())
}

// ourGoroutines counts the process's goroutines but the in-process HTTP
// target's server side, which a real deployment does not have, and the HTTP
// client's per-connection goroutines, which the transport bounds
// (MaxConnsPerHost) and httpConnGoroutines counts.
func ourGoroutines() int {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		panic(err)
	}
	n := 0
	for _, g := range strings.Split(buf.String(), "\n\n") {
		if strings.TrimSpace(g) == "" || strings.Contains(g, "net/http.(*conn).serve") || strings.Contains(g, "net/http.(*connReader)") ||
			strings.Contains(g, "net/http.(*Server).Serve") || strings.Contains(g, "sinktest.") ||
			strings.Contains(g, "net/http.(*persistConn).readLoop") || strings.Contains(g, "net/http.(*persistConn).writeLoop") ||
			strings.Contains(g, "net/http.(*Transport).dialConnFor") {
			continue
		}
		n++
	}
	return n
}

func httpConnGoroutines() int {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		panic(err)
	}
	s := buf.String()
	return strings.Count(s, "net/http.(*persistConn).readLoop(") + strings.Count(s, "net/http.(*persistConn).writeLoop(") +
		strings.Count(s, "net/http.(*Transport).dialConnFor(")
}

// rss returns the process's resident set size in bytes (0 if unknown).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestOutage: 20k lines/s with the HTTP target failing (500s, then refused
// connections, then hanging past the client timeout) for 60 s
// (LOGCAPTURER_OUTAGE_SECONDS), then healthy. Goroutines stay flat, the
// heap stays under twice its pre-outage size, every line arrives, and
// nothing ends in the dead-letter queue.
func TestOutage(t *testing.T) {
	outage := 60 * time.Second
	if v := os.Getenv("LOGCAPTURER_OUTAGE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("LOGCAPTURER_OUTAGE_SECONDS=%q: %v", v, err)
		}
		outage = time.Duration(n) * time.Second
	} else if testing.Short() {
		outage = 6 * time.Second
	}
	target := sinktest.NewTarget(t)
	target.ExpectNumbered(int(outage/time.Second+30) * 20000)
	hs, err := sinks.NewHTTP(nil, sinks.HTTPOptions{Name: "http", URL: target.URL(), Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	p, err := Open(nil, reg, Options{DataDir: t.TempDir(), Sinks: []SinkOptions{{
		Sink: hs, Workers: 2, MaxWait: 50 * time.Millisecond,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	defer p.Close()
	gen := startGenerator(t, p, 20000)

	// Healthy first: the baseline.
	waitFor(t, "lines flowing", func() bool { d, _ := target.Distinct(); return d > 40000 })
	var baseGoroutines int
	var baseHeap uint64
	// Sample for longer than a WAL segment takes to fill (4 MiB at ~2 MB/s),
	// so the baseline includes the in-memory tail at its largest.
	for i := 0; i < 16; i++ {
		time.Sleep(250 * time.Millisecond) // sampling period
		baseGoroutines = max(baseGoroutines, ourGoroutines())
		baseHeap = max(baseHeap, heapInUse())
	}
	walBase, linesBase := p.log.Size(), gen.n.Load()
	var rssEarly, rssLate uint64
	walBefore := p.log.Size()

	var maxGoroutines, maxConnG int
	var maxHeap uint64
	start := time.Now()
	for i, m := range []sinktest.Mode{sinktest.Fail500, sinktest.Refuse, sinktest.Hang} {
		target.SetMode(t, m)
		phaseEnd := start.Add(outage * time.Duration(i+1) / 3)
		for time.Now().Before(phaseEnd) {
			time.Sleep(250 * time.Millisecond) // sampling period, not a wait for a condition
			maxGoroutines = max(maxGoroutines, ourGoroutines())
			maxConnG = max(maxConnG, httpConnGoroutines())
			maxHeap = max(maxHeap, heapInUse())
			// RSS over the first and the last tenth of the outage.
			if el := time.Since(start); el < outage/10 {
				rssEarly = max(rssEarly, rss())
			} else if el > outage*9/10 {
				rssLate = max(rssLate, rss())
			}
		}
	}
	ranges, entries, _ := p.sched.Stats("http")
	walDuring := p.log.Size()
	// Every line written during the outage is in the WAL (lines are 100
	// bytes; a block adds its header and a few bytes an entry).
	walGrowth, dataWritten := walDuring-walBase, (gen.n.Load()-linesBase)*100
	target.SetMode(t, sinktest.Healthy)
	total := gen.finish()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if d, _ := target.Distinct(); d == total {
			break
		}
		if time.Now().After(deadline) {
			d, _ := target.Distinct()
			t.Fatalf("after recovery %d of %d lines arrived", d, total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 1; i <= total; i++ {
		if target.NumberedCount(i) == 0 {
			t.Fatalf("line %d never arrived", i)
		}
	}
	_, received := target.Distinct()
	t.Logf("wal growth %.1f MiB for %.1f MiB of lines (ratio %.3f); RSS first tenth of the outage %.1f MiB, last tenth %.1f MiB (%+.1f%%)",
		float64(walGrowth)/(1<<20), float64(dataWritten)/(1<<20), float64(walGrowth)/float64(dataWritten),
		float64(rssEarly)/(1<<20), float64(rssLate)/(1<<20), 100*(float64(rssLate)/float64(rssEarly)-1))
	if os.Getenv("LOGCAPTURER_OUTAGE_SECONDS") != "" && outage >= 10*time.Minute && rssLate > rssEarly*105/100 {
		t.Errorf("RSS grew more than 5%% during the soak")
	}
	t.Logf("outage %s at 20k lines/s: %d lines, goroutines baseline %d max %d (+ http connections max %d), heap in use baseline %.1f MiB max %.1f MiB, retry heap at end of outage %d ranges (%d entries), wal %0.1f -> %0.1f MiB, duplicates after recovery %d",
		outage, total, baseGoroutines, maxGoroutines, maxConnG, float64(baseHeap)/(1<<20), float64(maxHeap)/(1<<20),
		ranges, entries, float64(walBefore)/(1<<20), float64(walDuring)/(1<<20), received-total)
	if maxGoroutines > baseGoroutines+2 {
		t.Errorf("goroutines grew from %d to %d during the outage", baseGoroutines, maxGoroutines)
	}
	if maxConnG > 3*sinks.HTTPMaxConns {
		t.Errorf("%d HTTP connection goroutines, more than the pool's bound %d", maxConnG, 3*sinks.HTTPMaxConns)
	}
	if maxHeap > 2*baseHeap {
		t.Errorf("heap in use grew from %d to %d during the outage", baseHeap, maxHeap)
	}
	if n := len(p.DeadLetters("http")); n != 0 {
		t.Errorf("%d dead letters", n)
	}
	if got := failures(p, "http", "retryable"); got == 0 {
		t.Error("the outage caused no failures: the test tested nothing")
	}
}

// TestHTTPRejectionAndMaxAttempts: a 400 goes to the dead-letter queue
// after one attempt without holding back later data and is delivered once
// more when replayed; a range failing max_attempts times goes there too.
func TestHTTPRejectionAndMaxAttempts(t *testing.T) {
	target := sinktest.NewTarget(t)
	hs, err := sinks.NewHTTP(nil, sinks.HTTPOptions{Name: "http", URL: target.URL(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(nil, nil, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond, Sinks: []SinkOptions{{
		Sink: hs, MaxWait: time.Millisecond, MaxAttempts: 3,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	defer p.Close()

	target.Reject("poison")
	emit(t, p, "app", "f", 1, "poison pill")
	waitFor(t, "rejected range in the dlq", func() bool { return len(p.DeadLetters("http")) == 1 })
	if all, _ := target.Requests(); all != 1 {
		t.Fatalf("a permanent rejection was tried %d times", all)
	}
	emit(t, p, "app", "f", 2, "fine")
	waitFor(t, "later line delivered", func() bool { return target.Count("fine") == 1 })

	target.SetMode(t, sinktest.Fail500)
	emit(t, p, "app", "f", 3, "unlucky")
	waitFor(t, "max_attempts range in the dlq", func() bool { return len(p.DeadLetters("http")) == 2 })
	dl := p.DeadLetters("http")
	if dl[0].Reason != "http_400" || dl[1].Reason != "max_attempts" || dl[1].Attempts != 3 || !strings.Contains(dl[1].LastError, "500") {
		t.Fatalf("dead letters %+v", dl)
	}

	target.SetMode(t, sinktest.Healthy)
	target.Reject("")
	if n, err := p.ReplayDLQ("http", 0); err != nil || n != 2 {
		t.Fatalf("replay %d %v", n, err)
	}
	waitFor(t, "replayed lines delivered", func() bool {
		return target.Count("poison pill") == 1 && target.Count("unlucky") == 1
	})
	// Exactly once more: nothing is still queued to send them again.
	waitFor(t, "retry queue empty", func() bool { n, _, _ := p.sched.Stats("http"); return n == 0 })
	if target.Count("poison pill") != 1 || target.Count("unlucky") != 1 || target.Count("fine") != 1 {
		t.Fatalf("counts %d %d %d", target.Count("poison pill"), target.Count("unlucky"), target.Count("fine"))
	}
}

// TestDropOldestCounts: with full_policy drop_oldest and a stuck sink, the
// entries dropped plus those delivered are exactly those written.
func TestDropOldestCounts(t *testing.T) {
	var release sync.Once
	gate := make(chan struct{})
	s := &memSink{name: "s", fail: func(int, *sinks.Batch) error { <-gate; return nil }}
	p := openTest(t, t.TempDir(), nil, Options{SegmentSize: 64 << 10, MaxBytes: 256 << 10, FullPolicy: FullDropOldest}, s)
	line := strings.Repeat("z", 1000)
	const n = 1000 // 1 MB through a 256 KB WAL
	for i := 0; i < n; i++ {
		emit(t, p, "app", "f", int64(i), fmt.Sprintf("%04d %s", i, line))
	}
	waitFor(t, "segments dropped", func() bool { return testutil.ToFloat64(p.m.sinkDropped.WithLabelValues("s", "wal_full")) > 0 })
	release.Do(func() { close(gate) })
	dropped := func() int { return int(testutil.ToFloat64(p.m.sinkDropped.WithLabelValues("s", "wal_full"))) }
	waitFor(t, "everything delivered or counted", func() bool { return len(s.lines())+dropped() >= n })
	seen := map[string]bool{}
	for _, l := range s.lines() {
		seen[l] = true
	}
	if len(seen)+dropped() != n {
		t.Fatalf("delivered %d distinct + dropped %d != %d written", len(seen), dropped(), n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
