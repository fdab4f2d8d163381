package loki_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/sources"
)

// The end-to-end tests run the real chain: file source → pipeline (WAL,
// cursors) → loki sink → lokitest receiver.

const e2eLines = 100_000

// writeLogs writes n numbered lines spread over files in dir and returns
// their paths. Line i reads "line <i> <padding>".
func writeLogs(t *testing.T, dir string, files, n int) []string {
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
			fmt.Fprintf(w, "line %d %s\n", i, strings.Repeat("x", 60))
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		paths = append(paths, p)
	}
	return paths
}

// zoneClock is a source clock in a zone 3 hours off UTC that hands out
// distinct, increasing instants and remembers them.
type zoneClock struct {
	mu   sync.Mutex
	next time.Time
	seen map[int64]bool
}

func newZoneClock() *zoneClock {
	return &zoneClock{next: time.Date(2026, 6, 1, 12, 0, 0, 123456789, time.FixedZone("UTC+3", 3*3600)),
		seen: make(map[int64]bool)}
}

func (c *zoneClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next = c.next.Add(time.Microsecond + 7)
	c.seen[c.next.UnixNano()] = true
	return c.next
}

// issued reports whether ns is an instant the clock handed out or, since
// the source times a read's lines 1 ns apart from it (sources.EntryClock),
// one of the 16,384 (a block's most entries) after one.
func (c *zoneClock) issued(ns int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range int64(16384) {
		if c.seen[ns-k] {
			return true
		}
	}
	return false
}

// runChain runs source + pipeline + sink until stop is closed; it returns
// after closing them in reverse order.
func runChain(dataDir, logDir, url string, clock func() time.Time, ready chan<- struct{}, stop <-chan struct{}) error {
	return runChainBatch(dataDir, logDir, url, 256<<10, clock, ready, stop)
}

func runChainBatch(dataDir, logDir, url string, maxBatch int, clock func() time.Time, ready chan<- struct{}, stop <-chan struct{}) error {
	s, err := loki.New(nil, nil, loki.Options{URL: url, Labels: map[string]string{"host": "edge-01"}, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer s.Close()
	p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: dataDir, CommitInterval: 20 * time.Millisecond,
		Sinks: []pipeline.SinkOptions{{Sink: s, MaxBytes: maxBatch, MaxWait: 10 * time.Millisecond, Workers: 2,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}}})
	if err != nil {
		return err
	}
	defer p.Close()
	src, err := sources.NewFile(nil, nil, sources.FileOptions{Name: "app", Paths: []string{filepath.Join(logDir, "*.log")},
		Labels: map[string]string{"job": "e2e"}, Positions: p.Positions("app"), Emitter: p, Now: clock})
	if err != nil {
		return err
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	if err := src.Start(ctx); err != nil {
		return err
	}
	if ready != nil {
		close(ready)
	}
	<-stop
	return nil
}

// lineIndex parses "line <i> ...".
func lineIndex(t *testing.T, line string) int {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "line" {
		t.Fatalf("unexpected line %q", line)
	}
	i, err := strconv.Atoi(f[1])
	if err != nil || i < 0 || i >= e2eLines {
		t.Fatalf("unexpected line %q", line)
	}
	return i
}

func TestEndToEndFileToLoki(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	r := newReceiver(t)
	logDir := t.TempDir()
	paths := writeLogs(t, logDir, 4, e2eLines)
	clock := newZoneClock()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- runChain(t.TempDir(), logDir, r.URL(), clock.Now, nil, stop) }()
	werr := r.WaitEntries(e2eLines, 60*time.Second)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if werr != nil {
		t.Fatal(werr)
	}
	got := r.Entries()
	if len(got) != e2eLines {
		t.Fatalf("received %d entries, want exactly %d (no crash, no duplicates)", len(got), e2eLines)
	}
	times := make([]int64, e2eLines)
	seen := make([]bool, e2eLines)
	for _, e := range got {
		i := lineIndex(t, e.Line)
		if seen[i] {
			t.Fatalf("line %d received twice", i)
		}
		seen[i] = true
		want := lokitest.Labels(kv("filename", paths[i%4]), kv("host", "edge-01"), kv("job", "e2e"))
		if e.Labels != want {
			t.Fatalf("line %d labels %s, want %s", i, e.Labels, want)
		}
		if !clock.issued(e.Time) {
			t.Fatalf("line %d time %d is not one the source stamped", i, e.Time)
		}
		times[i] = e.Time
	}
	// Pushes of two workers interleave, so arrival order proves nothing
	// across pushes; the times do: within a file they follow the lines.
	for i := 4; i < e2eLines; i++ {
		if times[i] < times[i-4] {
			t.Fatalf("line %d stamped %d, before line %d (%d) of the same file", i, times[i], i-4, times[i-4])
		}
	}
}

// TestEndToEndCrash kills -9 a child process running the chain while it is
// pushing, restarts it, and checks that every line arrives at least once.
func TestEndToEndCrash(t *testing.T) {
	if os.Getenv("LOKI_E2E_CHILD") != "" {
		crashChild()
		return
	}
	if testing.Short() {
		t.Skip("end to end")
	}
	r := newReceiver(t)
	r.SetDefault(lokitest.Reply{Delay: 30 * time.Millisecond}) // slow enough to kill it mid-stream
	logDir, dataDir := t.TempDir(), t.TempDir()
	writeLogs(t, logDir, 4, e2eLines)
	start := func() *exec.Cmd { return startChild(t, dataDir, logDir, r.URL(), 256<<10) }
	cmd := start()
	if err := r.WaitEntries(e2eLines/3, 60*time.Second); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	cmd.Process.Kill() // SIGKILL: no Close, no final commit
	cmd.Wait()
	before := r.Count()
	if before >= e2eLines {
		t.Fatalf("the child delivered everything (%d) before it was killed; the test proves nothing", before)
	}
	r.SetDefault(lokitest.Reply{})
	cmd = start()
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Every line at least once; a line received twice is an exact
	// duplicate (same stream, time, line), which Loki drops.
	type key struct {
		labels string
		time   int64
	}
	first := make(map[int]key, e2eLines)
	for {
		got := r.Entries()
		for _, e := range got {
			i := lineIndex(t, e.Line)
			k := key{e.Labels, e.Time}
			if f, ok := first[i]; !ok {
				first[i] = k
			} else if f != k {
				t.Fatalf("line %d redelivered as %+v, first as %+v: Loki would keep both", i, k, f)
			}
		}
		if len(first) == e2eLines {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d lines never arrived", e2eLines-len(first))
		}
		n := len(got)
		r.Wait(ctx, func(c, _ int) bool { return c > n })
	}
	t.Logf("killed after %d entries; %d duplicate deliveries in all (Loki drops them); %d pushes cut short by the kill",
		before, r.Count()-e2eLines, r.Aborted())
}

// startChild runs the chain in a child process (this test binary, as
// crashChild) until it is killed.
func startChild(t testing.TB, dataDir, logDir, url string, maxBatch int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEndToEndCrash$")
	cmd.Env = append(os.Environ(), "LOKI_E2E_CHILD="+strings.Join([]string{dataDir, logDir, url, strconv.Itoa(maxBatch)}, "\n"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// crashChild is the child side of startChild: it runs the chain until it
// is killed.
func crashChild() {
	args := strings.Split(os.Getenv("LOKI_E2E_CHILD"), "\n")
	if os.Getenv("GOMEMLIMIT") == "" {
		// What the binary applies by default: memory_limit = 2 *
		// wal.segment_size (4 MiB) + 32 MiB.
		debug.SetMemoryLimit(40 << 20)
	}
	maxBatch, _ := strconv.Atoi(args[3])
	err := runChainBatch(args[0], args[1], args[2], maxBatch, nil, nil, make(chan struct{}))
	fmt.Fprintln(os.Stderr, "child:", err)
	os.Exit(1)
}
