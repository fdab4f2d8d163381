package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memSink records what it was sent; fail decides each Send's outcome.
type memSink struct {
	name string
	mu   sync.Mutex
	got  []string
	sent int
	fail func(n int, b *sinks.Batch) error // n counts calls from 1
	call int
}

func (s *memSink) Name() string { return s.name }
func (s *memSink) Close() error { return nil }
func (s *memSink) Send(ctx context.Context, b *sinks.Batch) error {
	s.mu.Lock()
	s.call++
	n, fail := s.call, s.fail
	s.mu.Unlock()
	if fail != nil {
		if err := fail(n, b); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, blk := range b.Blocks {
		for _, e := range blk.Entries {
			s.got = append(s.got, string(e.Line))
		}
	}
	s.sent++
	return nil
}

func (s *memSink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// failures sums logcapturer_sink_send_failures_total of sink and class over
// every reason.
func failures(p *Pipeline, sink, class string) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { p.m.sinkFailures.Collect(ch); close(ch) }()
	var sum float64
	for m := range ch {
		var pb dto.Metric
		if m.Write(&pb) != nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range pb.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["sink"] == sink && labels["class"] == class {
			sum += pb.GetCounter().GetValue()
		}
	}
	return sum
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

// emit sends one block of lines from source src, file id, ending at offset.
func emit(t *testing.T, p *Pipeline, src, fileID string, offset int64, lines ...string) {
	t.Helper()
	blk := wal.Block{Source: src, Position: wal.Position{FileID: fileID, Path: "/" + fileID, Offset: offset},
		Labels: []wal.Label{{Name: "job", Value: src}}}
	n := 0
	for _, l := range lines {
		blk.Entries = append(blk.Entries, wal.Entry{Time: time.Now().UnixNano(), Line: []byte(l)})
		n += len(l)
	}
	rec := sources.Record{Source: src, Position: blk.Position, Entries: len(lines), Bytes: n, Data: wal.EncodeBlock(nil, &blk)}
	if err := p.Emit(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

func openTest(t *testing.T, dir string, reg prometheus.Registerer, opts Options, ss ...*memSink) *Pipeline {
	t.Helper()
	opts.DataDir = dir
	for _, s := range ss {
		so := SinkOptions{Sink: s, MaxWait: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
		opts.Sinks = append(opts.Sinks, so)
	}
	if opts.CommitInterval == 0 {
		opts.CommitInterval = 5 * time.Millisecond
	}
	p, err := Open(nil, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	return p
}

func TestDeliverRestartAndPositions(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewPedanticRegistry()
	a := &memSink{name: "a"}
	p := openTest(t, dir, reg, Options{}, a)
	for i := 0; i < 100; i++ {
		emit(t, p, "app", "f1", int64(10*(i+1)), fmt.Sprintf("line-%d", i))
	}
	emit(t, p, "web", "f2", 7, "web-0")
	waitFor(t, "101 lines at sink a", func() bool { return len(a.lines()) == 101 })
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metric lint: %v %v", err, problems)
	}
	if got := testutil.ToFloat64(p.m.ingestEntries); got != 101 {
		t.Fatalf("ingest entries metric %v", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	// Reopen: positions come back, the cursor holds, nothing is resent.
	a2 := &memSink{name: "a"}
	b := &memSink{name: "b"} // a new sink gets what the WAL still holds
	p = openTest(t, dir, reg, Options{}, a2, b)
	if got := p.Positions("app"); got["f1"] != 1000 {
		t.Fatalf("positions of app: %v", got)
	}
	if got := p.Positions("web"); got["f2"] != 7 {
		t.Fatalf("positions of web: %v", got)
	}
	emit(t, p, "app", "f1", 1010, "line-100")
	waitFor(t, "new line at a", func() bool { return len(a2.lines()) == 1 })
	waitFor(t, "all lines at b", func() bool { return len(b.lines()) == 102 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := a2.lines(); got[0] != "line-100" {
		t.Fatalf("a after restart got %v", got)
	}
}

func TestPositionsFromBlocksAfterCheckpoint(t *testing.T) {
	dir := t.TempDir()
	a := &memSink{name: "a"}
	// A commit interval longer than the test: the checkpoint is never
	// written while running, so positions must come from the WAL scan.
	p := openTest(t, dir, nil, Options{CommitInterval: time.Hour}, a)
	emit(t, p, "app", "f1", 5, "aaaa")
	emit(t, p, "app", "f1", 10, "bbbb")
	waitFor(t, "lines at a", func() bool { return len(a.lines()) == 2 })
	// Simulate a crash: skip Close's commit by closing the parts by hand.
	p.closeOnce.Do(func() {
		close(p.stopIngest)
		p.ingestWG.Wait()
		p.cancelReaders()
		p.cancel()
		<-p.loopsDone
		p.wg.Wait()
		p.log.Close()
		p.st.close()
	})
	p2, err := Open(nil, nil, Options{DataDir: dir, Sinks: []SinkOptions{{Sink: &memSink{name: "a"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if got := p2.Positions("app")["f1"]; got != 10 {
		t.Fatalf("recovered offset %d, want 10", got)
	}
}

func TestSlowSinkDoesNotHoldBackOthers(t *testing.T) {
	release := make(chan struct{})
	stuck := &memSink{name: "stuck", fail: func(_ int, _ *sinks.Batch) error {
		<-release
		return nil
	}}
	fast := &memSink{name: "fast"}
	p := openTest(t, t.TempDir(), nil, Options{}, stuck, fast)
	for i := 0; i < 50; i++ {
		emit(t, p, "app", "f1", int64(i+1), fmt.Sprint(i))
	}
	waitFor(t, "fast sink has everything", func() bool { return len(fast.lines()) == 50 })
	if n := len(stuck.lines()); n != 0 {
		t.Fatalf("stuck sink got %d", n)
	}
	close(release)
	waitFor(t, "stuck sink catches up", func() bool { return len(stuck.lines()) == 50 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRetryQueueAndDeadLetters(t *testing.T) {
	var rejectBad atomic.Bool
	rejectBad.Store(true)
	s := &memSink{name: "s", fail: func(n int, b *sinks.Batch) error {
		line := string(b.Blocks[0].Entries[0].Line)
		switch {
		case line == "bad" && rejectBad.Load():
			return &sinks.Permanent{Reason: "rejected", Err: errors.New("400 bad line")}
		case n <= 3:
			return &sinks.Retryable{Err: errors.New("503")}
		}
		return nil
	}}
	reg := prometheus.NewPedanticRegistry()
	p := openTest(t, t.TempDir(), reg, Options{}, s)
	emit(t, p, "app", "f", 1, "first")
	waitFor(t, "first delivered after retries", func() bool { return len(s.lines()) == 1 })
	emit(t, p, "app", "f", 2, "bad")
	waitFor(t, "bad in the dlq", func() bool { return len(p.DeadLetters("s")) == 1 })
	if d := p.DeadLetters("s")[0]; d.Reason != "rejected" || d.Entries != 1 || d.Attempts != 1 {
		t.Fatalf("dead letter %+v", d)
	}
	emit(t, p, "app", "f", 3, "after")
	waitFor(t, "later data not held back", func() bool { return len(s.lines()) == 2 })
	if got := failures(p, "s", "retryable"); got != 3 {
		t.Fatalf("retryable failures %v", got)
	}
	// The dead letter pins its WAL block; replayed once the cause is fixed,
	// it is delivered exactly once more.
	if low, ok := p.sched.Low("s"); !ok || low != 2 {
		t.Fatalf("retention low %d %v", low, ok)
	}
	rejectBad.Store(false)
	if n, err := p.ReplayDLQ("s", 0); err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	waitFor(t, "replayed line delivered", func() bool { return len(s.lines()) == 3 })
	waitFor(t, "retry queue empty", func() bool { n, _, _ := p.sched.Stats("s"); return n == 0 })
	if got := s.lines(); got[2] != "bad" || len(p.DeadLetters("s")) != 0 {
		t.Fatalf("after replay: %v, dlq %v", got, p.DeadLetters("s"))
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metric lint: %v %v", err, problems)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRoutingAndRetention(t *testing.T) {
	dir := t.TempDir()
	onlyWeb := &memSink{name: "web"}
	all := &memSink{name: "all"}
	p, err := Open(nil, nil, Options{
		DataDir: dir, SegmentSize: 64 << 10, CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{
			{Sink: onlyWeb, Sources: []string{"web"}, MaxWait: time.Millisecond},
			{Sink: all, MaxWait: time.Millisecond},
		}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	line := strings.Repeat("x", 1000)
	for i := 0; i < 400; i++ {
		src := "app"
		if i%4 == 0 {
			src = "web"
		}
		emit(t, p, src, src, int64(i), line)
	}
	waitFor(t, "all delivered", func() bool { return len(all.lines()) == 400 })
	waitFor(t, "web delivered", func() bool { return len(onlyWeb.lines()) == 100 })
	// Every sink is past all but the tail: old segments go.
	waitFor(t, "delivered segments deleted", func() bool { return p.log.FirstIndex() > 1 && len(p.log.Segments()) <= 2 })
	// More data after the truncations reads back intact.
	for i := 0; i < 100; i++ {
		emit(t, p, "app", "app", int64(400+i), line)
	}
	waitFor(t, "later data delivered", func() bool { return len(all.lines()) == 500 })
	for _, sink := range []string{"all", "web"} {
		if n := testutil.ToFloat64(p.m.corruptRecords.WithLabelValues(sink)); n != 0 {
			t.Fatalf("sink %s skipped %v corrupt blocks", sink, n)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSecondProcessLocked(t *testing.T) {
	dir := t.TempDir()
	p := openTest(t, dir, nil, Options{}, &memSink{name: "a"})
	defer p.Close()
	_, err := Open(nil, nil, Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "is in use by another logcapturer (state.db locked)") {
		t.Fatalf("second open: %v", err)
	}
}

func TestCursorClampedToWALEnd(t *testing.T) {
	dir := t.TempDir()
	a := &memSink{name: "a"}
	p := openTest(t, dir, nil, Options{}, a)
	for i := 0; i < 5; i++ {
		emit(t, p, "app", "f", int64(i+1), fmt.Sprint(i))
	}
	waitFor(t, "delivered", func() bool { return len(a.lines()) == 5 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Lose the WAL (as damage would): new blocks reuse indexes 1..., and
	// the old cursor (5) must not make the sink skip them.
	if err := os.RemoveAll(filepath.Join(dir, "wal")); err != nil {
		t.Fatal(err)
	}
	a2 := &memSink{name: "a"}
	p = openTest(t, dir, nil, Options{}, a2)
	emit(t, p, "app", "f", 10, "new")
	waitFor(t, "new line delivered", func() bool { return len(a2.lines()) == 1 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWALFullBlocksUntilDelivered(t *testing.T) {
	release := make(chan struct{})
	s := &memSink{name: "s", fail: func(int, *sinks.Batch) error { <-release; return nil }}
	p := openTest(t, t.TempDir(), nil, Options{SegmentSize: 64 << 10, MaxBytes: 256 << 10}, s)
	line := strings.Repeat("y", 4000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ { // 800 KB > MaxBytes
			emit(t, p, "app", "f", int64(i), line)
		}
	}()
	waitFor(t, "wal full", func() bool { return testutil.ToFloat64(p.m.walFull) == 1 })
	close(release)
	<-done
	waitFor(t, "everything delivered", func() bool { return len(s.lines()) == 200 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPrunePositions(t *testing.T) {
	st, err := openState(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	pos := map[posKey]posVal{
		{"app", "1-2-10-aa"}:  {Index: 3, Offset: 10, Path: "/live.log"},   // same file (1-2), older FileID: deleted
		{"app", "1-2-900-bb"}: {Index: 7, Offset: 900, Path: "/live.log"},  // newest of its file: kept
		{"app", "1-3-50-cc"}:  {Index: 4, Offset: 50, Path: "/gone.log"},   // file gone, block gone: deleted
		{"app", "1-4-50-dd"}:  {Index: 20, Offset: 50, Path: "/gone2.log"}, // file gone, block still in the WAL: kept
		{"web", "1-5-10-ee"}:  {Index: 2, Offset: 10, Path: "/live.log"},   // other source: its own newest, kept
		// Rotated: 1-6 was read as /rot.log, renamed away (still alive
		// under another name), and a newer file 1-7 has its path now. The
		// rotated file's position is not superseded by the newer path.
		{"app", "1-6-40-ff"}: {Index: 5, Offset: 40, Path: "/rot.log"},
		{"app", "1-7-20-01"}: {Index: 8, Offset: 20, Path: "/rot.log"},
		// A Docker file's position with skips in its Cursor goes with its
		// file like any file's: kept while the file lives, deleted after.
		{"docker", "1-8-70-02"}: {Index: 6, Offset: 70, Path: "/c.log", Cursor: "skip 209 6:stderr"},
		{"docker", "1-9-70-03"}: {Index: 6, Offset: 70, Path: "/gone3.log", Cursor: "skip 209 6:stderr"},
		// A cursor source's position (journald: no FileID) stays.
		{"journal", ""}: {Index: 1, Cursor: "s=1;i=b"},
	}
	if err := st.save(nil, pos, 0); err != nil {
		t.Fatal(err)
	}
	dead := map[string]bool{"1-3-50-cc": true, "1-4-50-dd": true, "1-9-70-03": true, "": true}
	n, err := st.prunePositions(10, func(k posKey, _ posVal) bool { return !dead[k.FileID] })
	if err != nil || n != 3 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	_, left, _, err := st.load()
	if err != nil {
		t.Fatal(err)
	}
	want := []posKey{{"app", "1-2-900-bb"}, {"app", "1-4-50-dd"}, {"web", "1-5-10-ee"}, {"app", "1-6-40-ff"}, {"app", "1-7-20-01"},
		{"docker", "1-8-70-02"}, {"journal", ""}}
	for _, k := range want {
		if _, ok := left[k]; !ok {
			t.Errorf("position %v was pruned", k)
		}
	}
	if len(left) != len(want) {
		t.Errorf("%d positions left: %v", len(left), left)
	}
}

// TestOpenSyncsDataDir: the first Open creates the data directory (and a
// missing parent), state.db and wal/, and fsyncs the directories that name
// them once they exist, so a power cut right after a first start loses
// neither; a failed fsync fails Open.
func TestOpenSyncsDataDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "parent", "data")
	var synced []string
	seam := func(f *os.File) error {
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			if f.Name() == dir {
				for _, name := range []string{"state.db", "wal"} {
					if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
						t.Errorf("data dir fsynced before %s exists: %v", name, err)
					}
				}
			}
			synced = append(synced, f.Name())
		}
		return f.Sync()
	}
	p, err := Open(nil, prometheus.NewRegistry(), Options{DataDir: dir, Fsync: seam, Sinks: []SinkOptions{{Sink: &memSink{name: "s"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{dir, filepath.Dir(dir), root} {
		if !slices.Contains(synced, want) {
			t.Errorf("%s was not fsynced; fsynced directories: %v", want, synced)
		}
	}

	failing := func(f *os.File) error {
		if f.Name() == dir {
			return errors.New("injected EIO")
		}
		return f.Sync()
	}
	if _, err := Open(nil, prometheus.NewRegistry(), Options{DataDir: dir, Fsync: failing}); err == nil || !strings.Contains(err.Error(), "injected EIO") {
		t.Errorf("Open with a failing data dir fsync: %v, want the error", err)
	}
}

// TestRemovedSinkReleasesItsBlocks: a sink removed from the config no
// longer pins WAL blocks (retention follows the configured sinks only);
// while it is out, its dead letters whose blocks went show as expired
// offline, and when it is added again those dead letters are dropped
// (counted as dropped{reason="removed"}), never left pointing at deleted
// blocks, and it resumes from the oldest block the WAL holds.
func TestRemovedSinkReleasesItsBlocks(t *testing.T) {
	dir := t.TempDir()
	line := strings.Repeat("x", 1000)
	a := &memSink{name: "a"}
	b := &memSink{name: "b", fail: func(int, *sinks.Batch) error {
		return &sinks.Permanent{Reason: "rejected", Err: errors.New("400 bad line")}
	}}
	opts := Options{SegmentSize: 64 << 10}
	p := openTest(t, dir, nil, opts, a, b)
	for i := range 100 {
		emit(t, p, "app", "f", int64(i), fmt.Sprintf("old %03d %s", i, line))
	}
	waitFor(t, "b dead-lettered everything", func() bool {
		n := 0
		for _, d := range p.DeadLetters("b") {
			n += d.Entries
		}
		return n == 100 && len(a.lines()) == 100
	})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// b is removed: a alone decides what is retained.
	a = &memSink{name: "a"}
	p = openTest(t, dir, nil, opts, a)
	for i := range 400 {
		emit(t, p, "app", "f", int64(100+i), fmt.Sprintf("new %03d %s", i, line))
	}
	waitFor(t, "b's blocks deleted", func() bool { return len(a.lines()) == 400 && p.log.FirstIndex() > 100 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	o, err := OpenOffline(dir)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := o.DLQ("b")
	if err != nil || len(ds) == 0 {
		t.Fatalf("offline dead letters of b: %v %v", ds, err)
	}
	for _, d := range ds {
		if !d.Expired {
			t.Errorf("dead letter %d..%d of the removed sink is not shown as expired", d.From, d.To)
		}
	}
	if _, _, err := o.DLQEntries("b", ds[0].From, 10); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("entries of an expired dead letter: %v, want an error saying it expired", err)
	}
	o.Close()

	// b comes back, accepting now.
	a, b = &memSink{name: "a"}, &memSink{name: "b"}
	reg := prometheus.NewRegistry()
	p = openTest(t, dir, reg, opts, a, b)
	defer p.Close()
	if ds := p.DeadLetters("b"); len(ds) != 0 {
		t.Errorf("the re-added sink still has %d dead letters pointing at deleted blocks", len(ds))
	}
	if got := testutil.ToFloat64(p.m.sinkDropped.WithLabelValues("b", "removed")); got != 100 {
		t.Errorf("dropped{reason=removed} = %v, want 100", got)
	}
	emit(t, p, "app", "f", 600, "after re-add")
	waitFor(t, "b delivers from the oldest block the wal holds", func() bool {
		got := b.lines()
		return len(got) > 0 && got[len(got)-1] == "after re-add"
	})
	for _, l := range b.lines() {
		if strings.HasPrefix(l, "old ") {
			t.Fatalf("b was sent a line from a deleted block: %.10s", l)
		}
	}
}

// TestRetainDue: while the WAL is appended to, retention gathers 32MiB of
// deletable segments (at least 8) before a cut, since each cut makes
// tidwall rewrite the first kept segment; an idle WAL, or one at half its
// max_bytes, is cut at once.
func TestRetainDue(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		deletable int
		bytes     int64
		idle      bool
		size      int64
		want      bool
	}{
		{8, 8 * mib, false, 40 * mib, false}, // 8 segments of 1MiB: not yet
		{31, 31 * mib, false, 40 * mib, false},
		{32, 32 * mib, false, 40 * mib, true},
		{7, 448 * mib, false, 500 * mib, false}, // 64MiB segments: 8 of them
		{8, 512 * mib, false, 600 * mib, true},
		{1, mib, true, 2 * mib, true},     // idle
		{1, mib, false, 1024 * mib, true}, // half of max_bytes
	} {
		if got := retainDue(tc.deletable, tc.bytes, tc.idle, tc.size, 2048*mib); got != tc.want {
			t.Errorf("retainDue(%d segments, %d bytes, idle %v, size %d) = %v, want %v",
				tc.deletable, tc.bytes, tc.idle, tc.size, got, tc.want)
		}
	}
}
