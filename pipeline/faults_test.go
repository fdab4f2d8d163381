package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/wal/waltest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testAdmin serves p's health endpoints as the admin server mounts them
// (HealthHandlers), on a loopback port.
type testAdmin struct{ srv *httptest.Server }

func (a *testAdmin) Addr() string { return a.srv.Listener.Addr().String() }

// startAdmin serves p's readiness on a loopback port.
func startAdmin(t *testing.T, p *Pipeline) *testAdmin {
	t.Helper()
	mux := http.NewServeMux()
	HealthHandlers(mux, nil, prometheus.NewRegistry(), p.Readiness)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testAdmin{srv: srv}
}

// waitReason waits until /readyz lists reason for component (or, with
// want false, until it no longer does).
func waitReason(t *testing.T, a *testAdmin, component, reason string, want bool) {
	t.Helper()
	waitFor(t, fmt.Sprintf("/readyz %s %s = %v", component, reason, want), func() bool {
		code, b := readyz(t, a.Addr())
		has := hasReason(b, component, reason)
		return has == want && (has == (code == http.StatusServiceUnavailable) || !want && code == http.StatusServiceUnavailable)
	})
}

// TestDropOldestThenRecovery: with full_policy drop_oldest and a sink down
// long enough that its retry ranges were dropped with their segments, the
// breaker has nothing left to probe with; once the sink is back, new lines
// must be delivered (the reader probes by itself).
func TestDropOldestThenRecovery(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	s := &memSink{name: "s", fail: func(int, *sinks.Batch) error {
		if down.Load() {
			return &sinks.Retryable{Err: errors.New("connection refused"), Reason: "connection"}
		}
		return nil
	}}
	p, err := Open(nil, nil, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond,
		SegmentSize: 64 << 10, MaxBytes: 256 << 10, FullPolicy: FullDropOldest,
		Sinks: []SinkOptions{{Sink: s, MaxWait: time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: time.Hour,
			ProbeInterval: 300 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t.Context())
	defer p.Close()
	line := strings.Repeat("z", 1000)
	for i := 0; i < 1000; i++ { // 1 MB through a 256 KB WAL
		emit(t, p, "app", "f", int64(i), fmt.Sprintf("%04d %s", i, line))
	}
	waitFor(t, "retry ranges dropped", func() bool {
		n, _, _ := p.sched.Stats("s")
		return n == 0 && testutil.ToFloat64(p.m.sinkDropped.WithLabelValues("s", "wal_full")) > 0 && p.loops[0].circuitOpen()
	})
	down.Store(false)
	emit(t, p, "app", "f", 2000, "after recovery")
	waitFor(t, "a line written after recovery delivered", func() bool {
		for _, l := range s.lines() {
			if l == "after recovery" {
				return true
			}
		}
		return false
	})
	// The sink records the line before the pipeline sees the success.
	waitFor(t, "breaker closed after a delivery", func() bool { return !p.loops[0].circuitOpen() })
}

// TestRecoveryDrainsRetriesAtOnce: ranges that failed during an outage, with
// backoffs grown towards a long max_backoff, become due as soon as a probe
// succeeds (handed out lowest index first), instead of waiting out their backoff
// with the circuit closed.
func TestRecoveryDrainsRetriesAtOnce(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	s := &memSink{name: "s", fail: func(_ int, b *sinks.Batch) error {
		if down.Load() {
			return &sinks.Retryable{Err: errors.New("503 Service Unavailable"), Reason: "server_error"}
		}
		return nil
	}}
	p, err := Open(nil, nil, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond, Sinks: []SinkOptions{{
		Sink: s, MaxWait: time.Millisecond, MaxEntries: 1, Workers: 4,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Hour, ProbeInterval: 50 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t.Context())
	defer p.Close()
	const n = 20
	for i := 0; i < n; i++ {
		emit(t, p, "app", "f", int64(i), fmt.Sprintf("line %02d", i))
	}
	// A long outage: the ranges have failed many times and their backoffs
	// have grown to most of max_backoff (written here rather than waited
	// for: full jitter makes the real growth random).
	var ranges int
	waitFor(t, "retry ranges waiting", func() bool {
		ranges, _, _ = p.sched.Stats("s")
		waiting, _, _ := p.sched.Waiting("s")
		return ranges >= 3 && waiting == ranges
	})
	stored, _, err := retry.NewStore(p.st.db).Load("s")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range stored {
		long := r
		long.Attempts, long.Due = 20, time.Now().Add(50*time.Minute)
		if err := p.sched.Retry("s", r, long); err != nil {
			t.Fatal(err)
		}
	}
	down.Store(false)
	recovered := time.Now()
	waitFor(t, "the retry queue drained", func() bool { r, _, _ := p.sched.Stats("s"); return r == 0 })
	took := time.Since(recovered)
	t.Logf("retry queue of %d ranges empty %s after the sink returned", ranges, took)
	// Distinct lines: a range in flight when its backoff was rewritten above
	// may be sent twice (delivery is at least once).
	waitFor(t, "every line delivered", func() bool {
		seen := map[string]bool{}
		for _, l := range s.lines() {
			seen[l] = true
		}
		return len(seen) == n
	})
	// Without the fix the ranges wait out backoffs of more than a minute.
	if took > 30*time.Second {
		t.Fatalf("the retry queue took %s to drain after recovery", took)
	}
}

// TestUnauthorizedHoldsAndResumes: Loki (behind a gateway) answers 401: the
// sink is unauthorized in /readyz and the metrics, nothing goes to the DLQ
// however many attempts, and once the credentials work every line arrives,
// probed at the probe interval although max_backoff is an hour.
func TestUnauthorizedHoldsAndResumes(t *testing.T) {
	r := lokitest.NewReceiver()
	defer r.Close()
	// nginx's 401 page (ngx_http_special_response.c), as a gateway in front
	// of Loki answers it.
	r.SetDefault(lokitest.Reply{Status: http.StatusUnauthorized, Body: "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"})
	ls, err := loki.New(nil, nil, loki.Options{Name: "loki", URL: r.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	var logs syncBuffer
	p, err := Open(slog.New(slog.NewTextHandler(&logs, nil)), nil, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: ls, MaxWait: time.Millisecond, MaxEntries: 100, MaxAttempts: 2,
			MinBackoff: time.Millisecond, MaxBackoff: time.Hour, ProbeInterval: 100 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t.Context())
	defer p.Close()
	a := startAdmin(t, p)
	const n = 2000
	for i := 0; i < n; i++ {
		emit(t, p, "app", "f", int64(i), fmt.Sprintf("line %d", i))
	}
	waitReason(t, a, "sink/loki", ReasonSinkUnauthorized, true)
	waitFor(t, "several refused pushes", func() bool { return len(r.Requests()) >= 5 })
	if d := p.DeadLetters("loki"); len(d) != 0 {
		t.Fatalf("dead letters %+v: refused credentials must not dead-letter data", d)
	}
	if testutil.ToFloat64(p.m.degraded.WithLabelValues("sink/loki", ReasonSinkUnauthorized)) != 1 {
		t.Fatal("logcapturer_component_degraded{reason=sink_unauthorized} is not 1")
	}
	fixed := time.Now()
	r.SetDefault(lokitest.Reply{})
	if err := r.WaitEntries(n, 10*time.Second); err != nil {
		t.Fatalf("after the fix: %v (%d of %d)", err, r.Count(), n)
	}
	t.Logf("all %d lines delivered %s after the credentials were fixed", n, time.Since(fixed))
	waitReason(t, a, "sink/loki", ReasonSinkUnauthorized, false)
	if d := p.DeadLetters("loki"); len(d) != 0 {
		t.Fatalf("dead letters %+v", d)
	}
	if c := strings.Count(logs.String(), "degraded: sink_unauthorized"); c != 1 {
		t.Errorf("%d 'degraded: sink_unauthorized' lines, want 1 (once per state change)", c)
	}
	if !strings.Contains(logs.String(), "401 Authorization Required") {
		t.Errorf("the log never says why the sink failed:\n%s", logs.String())
	}
}

// TestFailureReasonLoggedAndCounted: a retryable failure's error appears
// in the breaker's log line, in the sink's last error, and in the failure
// metric's reason label; sink_failing shows after UnreadyAfter.
func TestFailureReasonLoggedAndCounted(t *testing.T) {
	r := lokitest.NewReceiver()
	defer r.Close()
	r.SetDefault(lokitest.Unavailable())
	ls, err := loki.New(nil, nil, loki.Options{Name: "loki", URL: r.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	var logs syncBuffer
	p, err := Open(slog.New(slog.NewTextHandler(&logs, nil)), nil, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond,
		UnreadyAfter: 200 * time.Millisecond,
		Sinks:        []SinkOptions{{Sink: ls, MaxWait: time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t.Context())
	defer p.Close()
	a := startAdmin(t, p)
	emit(t, p, "app", "f", 1, "x")
	waitReason(t, a, "sink/loki", ReasonSinkFailing, true)
	_, b := readyz(t, a.Addr())
	for _, c := range b.Reasons {
		if c.Reason == ReasonSinkFailing && !strings.Contains(c.Detail, "live replicas") {
			t.Errorf("sink_failing detail %q lacks Loki's message", c.Detail)
		}
	}
	if !strings.Contains(logs.String(), "live replicas") {
		t.Errorf("no log line names Loki's answer:\n%s", logs.String())
	}
	if got := testutil.ToFloat64(p.m.sinkFailures.WithLabelValues("loki", "retryable", loki.ReasonServerError)); got == 0 {
		t.Error("failures not counted by reason server_error")
	}
	r.SetDefault(lokitest.Reply{})
	waitReason(t, a, "sink/loki", ReasonSinkFailing, false)
	if c := strings.Count(logs.String(), "degraded: sink_failing"); c != 1 {
		t.Errorf("%d 'degraded: sink_failing' lines, want 1", c)
	}
}

// TestReaderErrorRecovers: the sink's WAL reader cannot open a segment
// (EMFILE: the process is out of file descriptors); it must report
// sink_reader_stopped, keep trying, and deliver everything once
// descriptors are free again, instead of returning for good.
func TestReaderErrorRecovers(t *testing.T) {
	dir := t.TempDir()
	const n = 50
	first := openTest(t, dir, nil, Options{}) // no sink: the blocks wait in the WAL
	for i := 0; i < n; i++ {
		emit(t, first, "app", "f", int64(i), fmt.Sprintf("line %d", i))
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	s := &memSink{name: "s"}
	p, err := Open(nil, nil, Options{DataDir: dir, CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: s, MaxWait: time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a := startAdmin(t, p)
	if code, _ := readyz(t, a.Addr()); code != http.StatusServiceUnavailable { // not started yet; opens the client's connection
		t.Fatalf("/readyz before Start = %d", code)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	low := lim
	low.Cur = uint64(len(fds)) // ReadDir's own descriptor is closed again: exactly one free
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	// Use up every descriptor left, so the reader's open of the segment
	// fails.
	var hogs []*os.File
	closeHogs := func() {
		for _, f := range hogs {
			f.Close()
		}
		hogs = nil
	}
	defer closeHogs()
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil || len(hogs) > 100 {
			t.Fatalf("using up descriptors: %v (%d open)", err, len(hogs))
		}
		hogs = append(hogs, f)
	}
	p.Start(t.Context())
	waitFor(t, "sink_reader_stopped", func() bool { return p.health.has("sink/s", ReasonSinkReaderStopped) })
	code, b := readyz(t, a.Addr()) // over the connection opened before the limit
	if code != http.StatusServiceUnavailable || !hasReason(b, "sink/s", ReasonSinkReaderStopped) {
		t.Fatalf("/readyz during the fault = %d %+v", code, b)
	}
	closeHogs()
	restore()
	waitFor(t, "every line delivered after the fault", func() bool { return len(s.lines()) == n })
	waitReason(t, a, "sink/s", ReasonSinkReaderStopped, false)
}

// TestSinkStuck: a sink with durable blocks to read, its breaker closed and
// nothing in flight for stuckAfter is stuck (here its loops never started,
// the state a lost wake-up or a dead goroutine would leave); any send ends
// it.
func TestSinkStuck(t *testing.T) {
	dir := t.TempDir()
	first := openTest(t, dir, nil, Options{})
	emit(t, first, "app", "f", 1, "waiting")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := Open(nil, nil, Options{DataDir: dir, Sinks: []SinkOptions{{Sink: &memSink{name: "s"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sl, now := p.loops[0], time.Now()
	sl.evaluate(now, p.durable.Load(), time.Hour)
	sl.evaluate(now.Add(stuckAfter-time.Second), p.durable.Load(), time.Hour)
	if p.health.has("sink/s", ReasonSinkStuck) {
		t.Fatal("stuck before stuckAfter")
	}
	sl.evaluate(now.Add(stuckAfter), p.durable.Load(), time.Hour)
	if ok, conds := p.Readiness(); ok || !p.health.has("sink/s", ReasonSinkStuck) {
		t.Fatalf("not stuck after %s: %+v", stuckAfter, conds)
	}
	sl.sendStart()
	sl.evaluate(now.Add(stuckAfter+time.Second), p.durable.Load(), time.Hour)
	if p.health.has("sink/s", ReasonSinkStuck) {
		t.Fatal("still stuck with a send in flight")
	}
}

// TestCloseDrainsInFlight: a shutdown as run does it (SIGTERM cancels the
// context Start was given, then sources and the pipeline are closed) lets a
// send in flight finish within ShutdownTimeout instead of cancelling it, so
// its cursor is committed and a restart sends nothing again.
func TestCloseDrainsInFlight(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{}, 1)
	slow := &memSink{name: "s"}
	p, err := Open(nil, nil, Options{DataDir: dir, ShutdownTimeout: 5 * time.Second,
		Sinks: []SinkOptions{{Sink: ctxSink{slow, started}, MaxWait: time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, signal := context.WithCancel(context.Background())
	defer signal()
	p.Start(ctx)
	emit(t, p, "app", "f", 1, "in flight at shutdown")
	<-started
	signal() // SIGTERM: the instance's context ends first
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := slow.lines(); len(got) != 1 {
		t.Fatalf("delivered %v, want the in-flight line", got)
	}
	again := &memSink{name: "s"}
	p2 := openTest(t, dir, nil, Options{}, again)
	emit(t, p2, "app", "f", 2, "next")
	waitFor(t, "next delivered", func() bool { return len(again.lines()) >= 1 })
	if err := p2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := again.lines(); len(got) != 1 || got[0] != "next" {
		t.Fatalf("after restart the sink got %v: the drained batch was sent again", got)
	}
}

// ctxSink is a receiver that takes 300 ms to acknowledge and gives up when
// ctx is done, as a network sink does.
type ctxSink struct {
	*memSink
	started chan struct{}
}

func (s ctxSink) Send(ctx context.Context, b *sinks.Batch) error {
	notify(s.started)
	select {
	case <-time.After(300 * time.Millisecond):
		return s.memSink.Send(ctx, b)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestDropOldestCheckpointsFirst: full_policy drop_oldest deletes the
// oldest segment only once the positions checkpoint covers its blocks, so
// a crash right after the drop (before the committer's next tick, here
// an hour away) still finds every file's position: in the checkpoint, or
// in a block the WAL still holds.
func TestDropOldestCheckpointsFirst(t *testing.T) {
	s := &memSink{name: "s", fail: func(int, *sinks.Batch) error {
		return &sinks.Retryable{Err: errors.New("connection refused"), Reason: "connection"}
	}}
	p, err := Open(nil, nil, Options{DataDir: t.TempDir(), CommitInterval: time.Hour,
		SegmentSize: 64 << 10, MaxBytes: 256 << 10, FullPolicy: FullDropOldest,
		Sinks: []SinkOptions{{Sink: s, MaxWait: time.Millisecond, MinBackoff: time.Hour, MaxBackoff: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t.Context())
	defer p.Close()
	line := strings.Repeat("z", 1000)
	for i := 0; i < 1000; i++ { // 1 MB through a 256 KB WAL
		emit(t, p, "app", fmt.Sprintf("file-%d", i/100), int64(i), fmt.Sprintf("%04d %s", i, line))
	}
	if testutil.ToFloat64(p.m.truncations) == 0 {
		t.Fatal("nothing was dropped")
	}
	first := p.log.FirstIndex() // before the load: a later drop checkpoints first
	_, positions, checkpoint, err := p.st.load()
	if err != nil {
		t.Fatal(err)
	}
	if checkpoint+1 < first {
		t.Errorf("positions checkpoint %d, but the wal starts at %d: the positions of blocks %d..%d are nowhere", checkpoint, first, checkpoint+1, first-1)
	}
	for f := range 10 {
		if _, ok := positions[posKey{Source: "app", FileID: fmt.Sprintf("file-%d", f)}]; !ok && f < 5 {
			t.Errorf("no stored position for file-%d, whose blocks were dropped", f)
		}
	}
}

// TestRetentionFailureIsACondition: another process fills the disk while
// the WAL is idle, so deleting delivered segments fails (tidwall rewrites
// the first kept segment): wal_retention_failing is a readiness reason
// with the error, the metric counts every failed pass, and it is logged
// once when it starts and once when it ends, not at every pass; once
// space is freed the segments go and the condition clears.
func TestRetentionFailureIsACondition(t *testing.T) {
	fs := waltest.MountTmpfs(t, "16m")
	logs := &syncBuffer{}
	s := &memSink{name: "s"}
	p, err := Open(slog.New(slog.NewTextHandler(logs, nil)), nil, Options{DataDir: filepath.Join(fs, "data"), CommitInterval: 5 * time.Millisecond,
		SegmentSize: 64 << 10,
		Sinks:       []SinkOptions{{Sink: s, MaxWait: time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.pinned.Store(true) // no retention until the disk is full
	p.Start(t.Context())
	defer p.Close()
	a := startAdmin(t, p)
	line := strings.Repeat("r", 1000)
	for i := range 300 { // 300 KB: several 64 KB segments
		emit(t, p, "app", "f", int64(i), fmt.Sprintf("%04d %s", i, line))
	}
	waitFor(t, "everything delivered and committed", func() bool {
		return len(s.lines()) == 300 && p.log.LastIndex() > 0 && testutil.ToFloat64(p.m.sinkCursor.WithLabelValues("s")) == float64(p.log.LastIndex())
	})
	segs := p.log.SegmentCount()
	filler := filepath.Join(fs, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break // ENOSPC: the disk is full
		}
	}
	f.Close()
	p.pinned.Store(false)
	waitReason(t, a, "wal", ReasonWALRetentionFailing, true)
	// While quiet the committer passes once a second: let passes fail.
	waitFor(t, "several failed passes", func() bool { return testutil.ToFloat64(p.m.truncateErrors) >= 3 })
	if n := strings.Count(logs.String(), "degraded: "+ReasonWALRetentionFailing); n != 1 {
		t.Errorf("%d log lines for the condition's start, want 1:\n%s", n, logs.String())
	}
	if _, got := p.Readiness(); !strings.Contains(fmt.Sprint(got), "no space left") {
		t.Errorf("readiness %v does not carry the error", got)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitReason(t, a, "wal", ReasonWALRetentionFailing, false)
	waitFor(t, "delivered segments deleted", func() bool { return p.log.SegmentCount() < segs })
	if n := strings.Count(logs.String(), "recovered: "+ReasonWALRetentionFailing); n != 1 {
		t.Errorf("%d log lines for the condition's end, want 1", n)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("error lines logged:\n%s", logs.String())
	}
}
