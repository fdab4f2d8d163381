package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
)

// SyncMode is when appended blocks are fsynced.
type SyncMode int

const (
	// SyncBatch fsyncs every group commit (the default).
	SyncBatch SyncMode = iota
	// SyncInterval fsyncs every Options.SyncInterval.
	SyncInterval
	// SyncNone never fsyncs: blocks are durable only as far as the page
	// cache survives. Sinks read them at once.
	SyncNone
)

// SinkOptions wires one sink into the pipeline.
type SinkOptions struct {
	Sink sinks.Sink
	// Type is the sink's type as configured (loki, file, ...), for the
	// status.
	Type string
	// Sources routed to the sink; nil means every source.
	Sources []string
	// Batch limits: a batch is sent when it holds MaxEntries entries or
	// MaxBytes line bytes, or MaxWait after its first entry.
	MaxEntries int
	MaxBytes   int
	MaxWait    time.Duration
	// Workers is the fixed number of goroutines calling Send (default 1).
	Workers int
	// MaxAttempts bounds sends of one batch (0: forever); backoff between
	// attempts grows from MinBackoff to MaxBackoff with full jitter. A batch
	// out of attempts goes to the dead-letter queue.
	MaxAttempts int
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	// BreakerFailures consecutive retryable failures open the sink's
	// circuit breaker (default 3).
	BreakerFailures int
	// ProbeInterval is the longest pause between probes of a sink whose
	// breaker is open (default min(MaxBackoff, 30s)).
	ProbeInterval time.Duration
	// Timeout is the sink's own bound on one Send (its timeout option; 0:
	// it has none). A send in flight for 2*Timeout, and at least
	// Options.SendHungAfter, is hung (sink_send_hung).
	Timeout time.Duration
}

// FullPolicy is what happens when the WAL reaches MaxBytes.
type FullPolicy int

const (
	// FullBlock makes sources wait; the log files hold the backlog.
	FullBlock FullPolicy = iota
	// FullDropOldest deletes the oldest segment; every sink that had not
	// delivered it counts the entries as dropped (reason wal_full).
	FullDropOldest
)

// Options configures a Pipeline.
type Options struct {
	// DataDir holds state.db and the WAL (DataDir/wal).
	DataDir string
	// SegmentSize is the WAL segment size (default 1 MiB, as in config).
	SegmentSize int64
	// MaxBytes caps the WAL on disk (default 2 GiB); FullPolicy says what
	// happens at the cap.
	MaxBytes   int64
	FullPolicy FullPolicy
	// Compress stores blocks S2-compressed (wal.CompressBlock): Emit
	// compresses on the source's goroutine.
	Compress bool
	// DLQMaxBytes and DLQMaxAge bound how much WAL the dead-letter queue
	// keeps (line bytes, age since the last failure); the oldest dead
	// letters expire first. Zero: 512 MiB and 168h.
	DLQMaxBytes  int64
	DLQMaxAge    time.Duration
	Sync         SyncMode
	SyncInterval time.Duration // for SyncInterval; default 100ms
	Sinks        []SinkOptions
	// CommitInterval is how often cursors and positions are written to
	// state.db (default 100ms).
	CommitInterval time.Duration
	// QueueBlocks bounds the blocks waiting for the WAL writer (default 16).
	QueueBlocks int
	// UnreadyAfter is how long a sink may fail before it makes the
	// pipeline unready (reason sink_failing; default 5m).
	UnreadyAfter time.Duration
	// ShutdownTimeout is how long Close lets in-flight sends finish after
	// the readers stopped (default 10s); then they are cancelled, and
	// Close waits at most cancelGrace (1s) more for them before it leaves
	// behind the sends that ignore cancellation (AbandonedSinks).
	ShutdownTimeout time.Duration
	// SendHungAfter is the least time a send may be in flight before the
	// sink has the sink_send_hung condition (default 1m); a sink with a
	// Timeout gets 2*Timeout when that is longer.
	SendHungAfter time.Duration
	// Fsync is a test seam, passed to wal.Options.Fsync: every fsync of the
	// WAL's own files, and of the data directory and the directories Open
	// creates, goes through it. Nil means (*os.File).Sync.
	Fsync func(*os.File) error
}

func (o *Options) setDefaults() {
	if o.SegmentSize <= 0 {
		o.SegmentSize = 1 << 20
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 2 << 30
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 100 * time.Millisecond
	}
	if o.CommitInterval <= 0 {
		o.CommitInterval = 100 * time.Millisecond
	}
	if o.DLQMaxBytes <= 0 {
		o.DLQMaxBytes = 512 << 20
	}
	if o.DLQMaxAge <= 0 {
		o.DLQMaxAge = 168 * time.Hour
	}
	if o.QueueBlocks <= 0 {
		o.QueueBlocks = 16
	}
	if o.UnreadyAfter <= 0 {
		o.UnreadyAfter = 5 * time.Minute
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.SendHungAfter <= 0 {
		o.SendHungAfter = time.Minute
	}
	for i := range o.Sinks {
		s := &o.Sinks[i]
		if s.MaxEntries <= 0 {
			s.MaxEntries = 10000
		}
		if s.MaxBytes <= 0 {
			s.MaxBytes = 4 << 20
		}
		if s.MaxWait <= 0 {
			s.MaxWait = 200 * time.Millisecond
		}
		if s.Workers <= 0 {
			s.Workers = 1
		}
		if s.MinBackoff <= 0 {
			s.MinBackoff = 500 * time.Millisecond
		}
		if s.BreakerFailures <= 0 {
			s.BreakerFailures = 3
		}
		if s.MaxBackoff < s.MinBackoff {
			s.MaxBackoff = max(5*time.Minute, s.MinBackoff)
		}
		if s.ProbeInterval <= 0 {
			s.ProbeInterval = min(s.MaxBackoff, unauthorizedProbe)
		}
	}
}

// ErrClosed is returned by Emit after Close.
var ErrClosed = errors.New("pipeline closed")

// Pipeline is the engine: it appends source blocks to the WAL with group
// commit, runs one loop per sink that reads the WAL from the sink's cursor,
// commits cursors and positions to state.db, and deletes WAL segments every
// sink has settled.
type Pipeline struct {
	logger *slog.Logger
	reg    prometheus.Registerer
	opts   Options
	m      *metrics
	st     *state
	log    *wal.Log
	sched  *retry.Scheduler
	health *health
	// warnings are the conditions that do not touch readiness
	// (WarningSinkRefusing).
	warnings *health

	openedAt time.Time

	in         chan sources.Record
	stopIngest chan struct{}
	writerDone chan struct{}
	syncWake   chan struct{}
	appended   atomic.Uint64 // last index appended
	durable    atomic.Uint64 // last index fsynced (or appended, with SyncNone)
	compressor compressor
	spaceFreed chan struct{}
	walFault   chan struct{} // the syncer's fsync failed: the writer heals the WAL
	synced     chan struct{} // the syncer published a durable index

	// Writer-owned.
	datas      [][]byte
	nearlyFull bool // ReasonWALNearlyFull is raised

	// faultMu orders raising and clearing ReasonWALAppendFailing.
	faultMu sync.Mutex
	healAt  uint64 // 0: no fault; else the fault clears once this index is durable (MaxUint64: not healed yet)
	fault   error  // the last failed append, fsync or reopen: why push records were dropped

	// emitMu lets Close wait for the Emits in progress once stopIngest is
	// closed: Emit holds it for reading.
	emitMu sync.RWMutex

	posMu        sync.Mutex
	pending      []pendingPos      // handed to the WAL (or about to be), not yet durable
	pendingBytes int               // len(data) summed over pending
	dirtyPos     map[posKey]posVal // durable, not yet committed
	posIndex     uint64            // durable index the dirty positions are complete up to
	recovered    map[posKey]posVal // positions at Open, for Positions
	checkpoint   atomic.Uint64     // last committed positions checkpoint (written by the committer and recover)
	seedLow      uint64            // lowest cursor at Open: seedCounts counts from it
	retainSeen   uint64            // p.appended at the last retain pass (committer only)

	loops []*sinkLoop

	// Status and rewind (status.go, counts.go, rewind.go).
	view       *view
	counts     *counts
	rewindMu   sync.Mutex      // one rewind at a time
	pinned     atomic.Bool     // retention holds off while a rewind runs
	commitReq  chan chan error // commit at once, for a rewind
	commitWake chan struct{}   // publish wakes an idle committer

	cancel        context.CancelFunc // cancels sends in flight, stops the committer
	cancelReaders context.CancelFunc // stops the sink readers, workers and scheduler
	wg            sync.WaitGroup     // committer and lag seeding
	ingestWG      sync.WaitGroup     // writer and syncer
	loopsLeft     atomic.Int64       // sink readers and workers still running
	loopsDone     chan struct{}      // closed when the last of them returned
	abandoned     []string           // sinks whose sends Close left behind; set by Close
	started       bool
	closeOnce     sync.Once
	closeErr      error
}

// pendingPos is a block between its Append and the fsync covering it. Its
// data is kept, so a failed append or fsync can be healed by appending it
// again (the source handed Record.Data over).
//
// A push record (sources.Record.Done set, no position) is kept the same
// way until it is durable, when done fires; but it is never appended a
// second time: when the WAL no longer holds it after a failed append or
// fsync, heal fails its done and drops it (see reappend).
type pendingPos struct {
	index   uint64
	key     posKey
	val     posVal
	hasPos  bool // the record has a position to checkpoint
	push    bool // a completion and no position: never appended again
	data    []byte
	entries int // for counts, when heal renumbers
	bytes   int
	done    func(error)
}

// Open opens (or creates) the data directory: it takes the state.db lock,
// opens and repairs the WAL, and recovers every source's position from the
// WAL. A nil logger discards; a nil registerer registers nothing.
func Open(logger *slog.Logger, reg prometheus.Registerer, opts Options) (*Pipeline, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts.setDefaults()
	created, err := mkdirAll(opts.DataDir, 0o750)
	if err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", opts.DataDir, err)
	}
	st, err := openState(filepath.Join(opts.DataDir, "state.db"))
	if errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("data dir %s is in use by another logcapturer (state.db locked)", opts.DataDir)
	}
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		st.close()
		return nil, err
	}
	sched, err := retry.New(logger, reg, retry.NewStore(st.db), retry.Options{})
	if err != nil {
		m.unregister()
		st.close()
		return nil, err
	}
	walDir := filepath.Join(opts.DataDir, "wal")
	l, err := wal.Open(walDir, &wal.Options{
		SegmentSize: opts.SegmentSize, SegmentCacheSize: 1, Logger: logger, Registerer: reg, Fsync: opts.Fsync})
	if err != nil {
		sched.Close()
		m.unregister()
		st.close()
		return nil, fmt.Errorf("open wal %s: %w", walDir, err)
	}
	// state.db and wal/ may be new: fsync the data directory that names
	// them (and the parents of the directories just created), so a power
	// cut after the first start cannot lose them.
	if err := syncDirs(append(created, opts.DataDir), opts.Fsync); err != nil {
		l.Close()
		sched.Close()
		m.unregister()
		st.close()
		return nil, err
	}
	p := &Pipeline{
		logger: logger, reg: reg, opts: opts, m: m, st: st, log: l, sched: sched,
		in:         make(chan sources.Record, opts.QueueBlocks),
		stopIngest: make(chan struct{}),
		writerDone: make(chan struct{}),
		syncWake:   make(chan struct{}, 1),
		spaceFreed: make(chan struct{}, 1),
		walFault:   make(chan struct{}, 1),
		synced:     make(chan struct{}, 1),
		dirtyPos:   make(map[posKey]posVal),
		health:     newHealth(logger, m.degraded),
		warnings:   newWarnings(logger, m.warning),
		openedAt:   time.Now().UTC(),
		commitReq:  make(chan chan error),
		commitWake: make(chan struct{}, 1),
	}
	p.health.declare("wal", ReasonWALAppendFailing, ReasonWALNearlyFull, ReasonWALRetentionFailing)
	p.health.declare("state", ReasonStateCommitFailing)
	m.walMaxBytes.Set(float64(opts.MaxBytes))
	err = p.recover()
	if err == nil {
		err = p.initView()
	}
	if err != nil {
		sched.Close()
		p.log.Close()
		m.unregister()
		st.close()
		return nil, err
	}
	return p, nil
}

// Positions returns the recovered position (file identity to offset) of
// every file of the named source (SourcePositions has cursors too). Call
// it after Open, before Start.
func (p *Pipeline) Positions(source string) map[string]int64 {
	out := make(map[string]int64)
	for k, v := range p.recovered {
		if k.Source == source {
			out[k.FileID] = v.Offset
		}
	}
	return out
}

// SourcePositions returns the recovered positions of the named source by
// file identity: the offset and path of each file, and the cursor of a
// source positioned by cursor (journald), for sources.Deps.Positions. A
// push receiver has none. Call it after Open, before Start.
func (p *Pipeline) SourcePositions(source string) map[string]wal.Position {
	out := make(map[string]wal.Position)
	for k, v := range p.recovered {
		if k.Source == source {
			out[k.FileID] = wal.Position{FileID: k.FileID, Path: v.Path, Offset: v.Offset, Cursor: v.Cursor}
		}
	}
	return out
}

// Start starts the WAL writer and syncer, the sink loops and the committer.
// It returns at once; Close stops them.
//
// When ctx is done (SIGTERM, a reload), the sink readers and the retry
// scheduler stop, and so does every worker that is not sending: no new
// block is read and no new send starts. Sends in flight run on, and the
// committer with them, until Close: ctx's cancellation does not reach
// them, so Close can let them finish within ShutdownTimeout.
func (p *Pipeline) Start(ctx context.Context) {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	readCtx, cancelReaders := context.WithCancel(ctx)
	p.cancel, p.cancelReaders = cancel, cancelReaders
	p.started = true
	p.sched.Start(readCtx)
	p.ingestWG.Add(2)
	go p.runWriter()
	go p.runSyncer()
	p.loopsDone = make(chan struct{})
	n := 0
	for _, sl := range p.loops {
		n += sl.goroutines()
	}
	p.loopsLeft.Store(int64(n))
	if n == 0 {
		close(p.loopsDone)
	}
	for _, sl := range p.loops {
		sl.start(runCtx, readCtx, p.loopExited)
	}
	p.wg.Add(1)
	go p.runCommitter(runCtx)
	if p.seedLow < p.counts.covered() {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.seedCounts(runCtx)
		}()
	}
}

// Emit queues a source's block for the WAL, compressed first with
// Options.Compress (on the caller's goroutine, so sources compress in
// parallel and the writer's groups count compressed bytes). It blocks
// while the queue is
// full (backpressure) and returns ctx.Err() when ctx is done, ErrClosed
// once Close has begun. A source blocked longer than stallAfter has the
// source_stalled condition until its block is taken. Safe for concurrent
// use.
func (p *Pipeline) Emit(ctx context.Context, rec sources.Record) error {
	p.emitMu.RLock()
	defer p.emitMu.RUnlock()
	select {
	case <-p.stopIngest:
		return ErrClosed
	default:
	}
	if p.opts.Compress {
		rec.Data = p.compress(&rec)
	}
	select {
	case p.in <- rec:
		return nil
	default:
	}
	t := time.NewTimer(stallAfter)
	defer t.Stop()
	stalled := false
	component := "source/" + rec.Source
	defer func() {
		if stalled {
			p.health.clear(component, ReasonSourceStalled)
		}
	}()
	for {
		select {
		case p.in <- rec:
			return nil
		case <-t.C:
			stalled = true
			p.health.raise(component, ReasonSourceStalled, p.stallCause())
		case <-ctx.Done():
			return ctx.Err()
		case <-p.stopIngest:
			return ErrClosed
		}
	}
}

// stallAfter is how long a source may wait in Emit before it is stalled.
const stallAfter = 10 * time.Second

// stallCause says why sources wait, for the source_stalled detail.
func (p *Pipeline) stallCause() string {
	for _, c := range p.health.conditions() {
		if c.Component == "wal" {
			return "waiting for the wal: " + c.Reason
		}
	}
	if p.log.Size() >= p.opts.MaxBytes {
		return fmt.Sprintf("waiting for the wal: at wal.max_bytes (%d bytes) until sinks catch up", p.opts.MaxBytes)
	}
	return "waiting for the wal writer"
}

var _ sources.Emitter = (*Pipeline)(nil)

// loopExited is called by each sink reader and worker as it returns.
func (p *Pipeline) loopExited() {
	if p.loopsLeft.Add(-1) == 0 {
		close(p.loopsDone)
	}
}

// Close stops the pipeline: it writes and syncs what sources queued, stops
// the sink readers and the retry scheduler, lets the sends in flight finish
// within ShutdownTimeout (their acknowledgements are committed, so nothing
// is sent twice after the next start), cancels those still running, and
// commits cursors and positions and closes the WAL and state.db. It
// returns within ShutdownTimeout plus cancelGrace even when a Send ignores
// cancellation (see AbandonedSinks); what was in flight then is sent again
// after the next start. Close sources before the pipeline. Safe to call
// twice.
func (p *Pipeline) Close() error {
	p.closeOnce.Do(func() {
		close(p.stopIngest)
		// Wait for the Emits in progress: none queues a record after this.
		p.emitMu.Lock()
		p.emitMu.Unlock() //nolint:staticcheck // a barrier
		if p.started {
			p.ingestWG.Wait()
		}
		p.failUnfinished(ErrClosed)
		if p.started {
			p.drain()
			p.cancel()
			p.wg.Wait()
		}
		p.sched.Close()
		var errs []error
		if err := p.commit(); err != nil {
			errs = append(errs, err)
		}
		if err := p.log.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close wal: %w", err))
		}
		if err := p.st.close(); err != nil {
			errs = append(errs, fmt.Errorf("close state: %w", err))
		}
		p.m.unregister()
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// cancelGrace is how long Close waits for cancelled sends to return.
const cancelGrace = time.Second

// drain stops the sink readers and the retry scheduler, then waits up to
// ShutdownTimeout for the sends in flight to finish, so a SIGTERM or a
// reload does not throw away batches a sink is about to acknowledge. Then
// it cancels those still in flight and waits at most cancelGrace for them;
// a Send that ignores cancellation (a write to a hung NFS mount or a pipe
// nobody reads) is left behind, its sink recorded in p.abandoned.
func (p *Pipeline) drain() {
	p.cancelReaders()
	p.sched.Close()
	t := time.NewTimer(p.opts.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-p.loopsDone:
		return
	case <-t.C:
	}
	p.logger.Warn("shutdown_timeout passed with sends in flight; they are cancelled and sent again after the next start",
		"in_flight", p.sendsInFlight(), "shutdown_timeout", p.opts.ShutdownTimeout)
	p.cancel()
	t.Reset(cancelGrace)
	select {
	case <-p.loopsDone:
		return
	case <-t.C:
	}
	for _, sl := range p.loops {
		sl.mu.Lock()
		if sl.inFlight > 0 {
			p.abandoned = append(p.abandoned, sl.name)
		}
		sl.mu.Unlock()
	}
	p.logger.Error("sends in flight ignore cancellation; shutting down without them: they are sent again after the next start",
		"sinks", strings.Join(p.abandoned, ","), "in_flight", p.sendsInFlight())
}

// sendsInFlight counts the sends in progress over every sink.
func (p *Pipeline) sendsInFlight() int {
	n := 0
	for _, sl := range p.loops {
		sl.mu.Lock()
		n += sl.inFlight
		sl.mu.Unlock()
	}
	return n
}

// AbandonedSinks returns the sinks with a send that Close gave up on: it
// ignored cancellation and may still be running, holding the sink. Their
// owner must not wait on them (a file sink's Close would wait for the
// hung write): the process exits or leaves them behind. Call after Close.
func (p *Pipeline) AbandonedSinks() []string {
	return slices.Clone(p.abandoned)
}

// Ready reports whether the pipeline is running.
func (p *Pipeline) Ready() bool {
	select {
	case <-p.stopIngest:
		return false
	default:
		return p.started
	}
}

// notify merges wake-ups: a non-blocking send on a 1-buffered channel.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// mkdirAll is os.MkdirAll that returns the parents of the directories it
// created, deepest first: the directories to fsync to make them durable.
func mkdirAll(dir string, perm os.FileMode) (parents []string, err error) {
	dir = filepath.Clean(dir)
	var missing []string
	for p := dir; ; {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return nil, err
	}
	for _, d := range missing {
		parents = append(parents, filepath.Dir(d))
	}
	return parents, nil
}

// syncDirs fsyncs each directory once, through fsync (nil: (*os.File).Sync).
func syncDirs(dirs []string, fsync func(*os.File) error) error {
	done := make(map[string]bool, len(dirs))
	for _, dir := range dirs {
		if !done[dir] {
			done[dir] = true
			if err := wal.SyncDirWith(dir, fsync); err != nil {
				return err
			}
		}
	}
	return nil
}
