package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
)

// sinkLoop delivers the WAL to one sink: a reader goroutine reads durable
// blocks after the sink's cursor and cuts them into batches; a fixed pool of
// workers sends them. A batch's range is settled when it was delivered (or
// given up on); the cursor is the highest index below which every range is
// settled. Batches come from a fixed free list, so memory is bounded by
// (workers + 1) batches whatever the backlog.
type sinkLoop struct {
	p      *Pipeline
	opts   SinkOptions
	name   string
	routes map[string]bool // nil: every source
	wake   chan struct{}
	work   chan *batch
	free   chan *batch

	retries <-chan retry.Range // due ranges from the scheduler

	// readMu is held by the reader around each WAL read; dropOldest holds
	// it to count exactly the blocks the reader has not read yet.
	readMu   sync.Mutex
	readNext uint64

	rewind    chan *rewindReq // rewind.go; the reader takes it
	rewinding atomic.Bool     // the reader is applying a rewind
	trimAt    uint64          // block whose first trimN entries a rewind skips; reader only
	trimN     int

	component string // "sink/NAME", for readiness conditions and warnings
	dest      string // sinks.Destination of the sink, for the status

	mu      sync.Mutex
	settled uint64            // every index <= settled is delivered or filed as a retry or dead letter
	done    map[uint64]uint64 // settled ranges above the cursor: from -> to
	fails   int               // consecutive retryable failures
	open    bool              // circuit breaker open
	unauth  bool              // the sink refuses our credentials
	// failingSince is when the current run of failed sends began (zero
	// after a success); it makes the sink_failing condition.
	failingSince time.Time
	lastErr      string    // the last failure, for the log and the status
	lastErrAt    time.Time // when it happened
	lastSuccess  time.Time
	lastSend     time.Time   // when a send last started or ended
	inFlight     int         // sends in progress
	sendStarts   []time.Time // start of each send in progress (at most Workers)
	readFails    int         // readers (the reader, workers) whose last WAL read failed
	// recent counts the sends settled lately, for the refusing rule
	// (refusing.go); refusing is the rule's last verdict (the committer's).
	recent        outcomes
	refusing      bool
	lastRefusal   string    // the last permanent error (a refusal of data)
	lastRefusalAt time.Time // when it happened
	// warned holds, per range (by its first index), the blocks whose skip
	// was logged: a retried range logs a corrupt or deleted block once, not
	// at every attempt. Forgotten when the range settles; bounded by
	// maxWarned.
	warned map[uint64][]uint64

	hungAfter time.Duration // a send in flight this long is hung (sink_send_hung)

	committed  uint64    // cursor in state.db; only the committer touches it
	progressAt time.Time // when the cursor last moved or caught up; committer only
	stuckSince time.Time // since when the sink has had work and nothing in flight; committer only
}

type batch struct {
	sinks.Batch
	bufs    [][]byte // record buffers the blocks' lines alias
	nrec    int
	started time.Time      // when its first block was read from the WAL
	idx     []uint64       // WAL index of each of Blocks
	sel     [][]retry.Pick // a retried selection: the runs each block was cut to (nil: whole)
}

func newSinkLoop(p *Pipeline, opts SinkOptions, cursor uint64, retries <-chan retry.Range) *sinkLoop {
	sl := &sinkLoop{
		p: p, opts: opts, name: opts.Sink.Name(), retries: retries,
		component: "sink/" + opts.Sink.Name(),
		dest:      sinks.Destination(opts.Sink),
		wake:      make(chan struct{}, 1),
		work:      make(chan *batch),
		free:      make(chan *batch, opts.Workers+1),
		rewind:    make(chan *rewindReq, 1),
		settled:   cursor,
		readNext:  cursor + 1,
		committed: cursor,
		done:      make(map[uint64]uint64),
		warned:    make(map[uint64][]uint64),
		hungAfter: max(p.opts.SendHungAfter, 2*opts.Timeout),
	}
	if opts.Sources != nil {
		sl.routes = make(map[string]bool)
		for _, s := range opts.Sources {
			sl.routes[s] = true
		}
	}
	for i := 0; i < cap(sl.free); i++ {
		sl.free <- &batch{}
	}
	p.m.sinkCursor.WithLabelValues(sl.name).Set(float64(cursor))
	p.m.circuitOpen.WithLabelValues(sl.name).Set(0)
	for _, m := range []*prometheus.CounterVec{p.m.sinkSent, p.m.sinkSentBytes} {
		m.WithLabelValues(sl.name)
	}
	p.m.sinkDropped.WithLabelValues(sl.name, "wal_full")
	p.m.sinkDropped.WithLabelValues(sl.name, "skipped")
	p.m.corruptRecords.WithLabelValues(sl.name)
	p.m.deliveryLatency.WithLabelValues(sl.name)
	p.m.sinkSendDur.WithLabelValues(sl.name)
	p.m.sinkLag.WithLabelValues(sl.name)
	p.m.oldestUnacked.WithLabelValues(sl.name)
	p.health.declare(sl.component, ReasonSinkReaderStopped, ReasonSinkUnauthorized, ReasonSinkFailing, ReasonSinkStuck,
		ReasonSinkSendHung)
	p.warnings.declare(sl.component, WarningSinkRefusing)
	for _, class := range []string{"retryable", "permanent", "unauthorized"} {
		p.m.sinkFailures.WithLabelValues(sl.name, class, "error")
	}
	return sl
}

// goroutines is how many goroutines start runs.
func (sl *sinkLoop) goroutines() int { return 1 + sl.opts.Workers }

// start runs the reader until readCtx is done, and the workers until
// readCtx is done and they are not sending: a send in progress runs on
// under ctx, which Close cancels only once ShutdownTimeout has passed. So
// a SIGTERM or a reload (readCtx) stops new reads and new sends at once
// and lets the sends in flight finish. Each goroutine calls exited when it
// returns.
func (sl *sinkLoop) start(ctx, readCtx context.Context, exited func()) {
	go func() {
		defer exited()
		sl.runReader(readCtx)
	}()
	for i := 0; i < sl.opts.Workers; i++ {
		go func() {
			defer exited()
			sl.runWorker(ctx, readCtx)
		}()
	}
}

// cursor returns the settled cursor.
func (sl *sinkLoop) cursor() uint64 {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.settled
}

// ack settles [from, to] and advances the cursor over every contiguous
// settled range.
func (sl *sinkLoop) ack(from, to uint64) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if from != sl.settled+1 {
		sl.done[from] = to
		return
	}
	sl.settled = to
	for {
		t, ok := sl.done[sl.settled+1]
		if !ok {
			return
		}
		delete(sl.done, sl.settled+1)
		sl.settled = t
	}
}

func (sl *sinkLoop) full(b *batch) bool {
	return b.Entries >= sl.opts.MaxEntries || b.Bytes >= sl.opts.MaxBytes
}

func (sl *sinkLoop) runReader(ctx context.Context) {
	rd := sl.p.log.NewReader()
	defer rd.Close()
	next := sl.cursor() + 1
	var (
		cur      *batch
		timer    = time.NewTimer(time.Hour)
		readFail readFailure
	)
	timer.Stop()
	defer timer.Stop()
	defer readFail.end(sl)
	for {
		if req := sl.takeRewind(); req != nil {
			if !sl.applyRewind(ctx, req, &cur, &next) {
				return
			}
			continue
		}
		durable := sl.p.durable.Load()
		if sl.circuitOpen() {
			if wait := sl.probeWait(); wait > 0 {
				if !sleepOrWake(ctx, sl.wake, wait) {
					return
				}
				continue
			}
			// Nothing else probes the sink (no retry range is left: all
			// were delivered or dropped): the next batch is the probe.
			sl.markProbe()
		}
		for next <= durable && (cur == nil || !sl.full(cur)) {
			if cur == nil {
				select {
				case cur = <-sl.free:
				case <-ctx.Done():
					return
				}
				cur.reset(next)
			}
			at, nb := next, len(cur.Blocks)
			sl.readMu.Lock()
			n, err := sl.read(rd, cur, next)
			if err == nil {
				next = n
				sl.readNext = next
				sl.trimFirst(cur, at, nb)
			}
			sl.readMu.Unlock()
			if errors.Is(err, wal.ErrClosed) || ctx.Err() != nil {
				return
			}
			if err != nil {
				// EMFILE, EIO, a segment gone missing: never stop for
				// good. Report it once and try the same index again.
				if !readFail.wait(ctx, sl, err) {
					return
				}
				continue
			}
			readFail.end(sl)
		}
		if cur != nil && (sl.full(cur) || time.Since(cur.started) >= sl.opts.MaxWait || cur.Entries == 0) {
			if !sl.dispatch(ctx, cur) {
				return
			}
			cur = nil
			continue
		}
		var timerC <-chan time.Time
		if cur != nil {
			timer.Reset(time.Until(cur.started.Add(sl.opts.MaxWait)))
			timerC = timer.C
		}
		select {
		case <-sl.wake:
		case <-timerC:
		case <-ctx.Done():
			return
		}
		timer.Stop()
	}
}

// readFailure is a reader's run of failed WAL reads: the first raises
// sink_reader_stopped, each waits a growing backoff (capped at
// maxReadBackoff, so the reader heals soon after the cause clears), and
// the next good read ends it.
type readFailure struct {
	backoff time.Duration
}

const maxReadBackoff = 2 * time.Second

// fail records a failed read and returns the backoff to wait.
func (f *readFailure) fail(sl *sinkLoop, err error) time.Duration {
	if f.backoff == 0 {
		f.backoff = 50 * time.Millisecond
		sl.readerFailing(+1, err)
	} else {
		f.backoff = min(2*f.backoff, maxReadBackoff)
	}
	return f.backoff
}

// wait records a failed read and waits out the backoff; it returns false
// when ctx is done.
func (f *readFailure) wait(ctx context.Context, sl *sinkLoop, err error) bool {
	t := time.NewTimer(f.fail(sl, err))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (f *readFailure) end(sl *sinkLoop) {
	if f.backoff != 0 {
		f.backoff = 0
		sl.readerFailing(-1, nil)
	}
}

// readerFailing counts readers in a run of failed reads: the sink has the
// sink_reader_stopped condition while any is.
func (sl *sinkLoop) readerFailing(delta int, err error) {
	sl.mu.Lock()
	sl.readFails += delta
	n := sl.readFails
	sl.mu.Unlock()
	switch {
	case delta > 0:
		sl.p.health.raise(sl.component, ReasonSinkReaderStopped, err.Error())
	case n == 0:
		sl.p.health.clear(sl.component, ReasonSinkReaderStopped)
	}
}

// probeWait is how long the reader of an open circuit waits before it
// sends a batch as a probe. The sink is probed at least every
// ProbeInterval: by its retry ranges while it has any (the reader makes the
// lowest one due now when none would be due in time), else by the reader's
// next batch.
func (sl *sinkLoop) probeWait() time.Duration {
	sl.mu.Lock()
	probeAt := sl.lastSend.Add(sl.opts.ProbeInterval)
	inFlight := sl.inFlight
	sl.mu.Unlock()
	ranges, _, _ := sl.p.sched.Stats(sl.name)
	wait := time.Until(probeAt)
	if ranges == 0 {
		return wait
	}
	waiting, due, _ := sl.p.sched.Waiting(sl.name)
	if inFlight > 0 || waiting < ranges || !due.After(probeAt) {
		// A range is being sent, or handed out, or due in time: it probes.
		return max(wait, sl.opts.ProbeInterval)
	}
	if wait > 0 {
		return wait
	}
	if _, err := sl.p.sched.Hurry(sl.name, 1); err != nil {
		sl.p.logger.Error("make a retry range due for a probe", "sink", sl.name, "err", err)
	}
	sl.markProbe()
	return sl.opts.ProbeInterval
}

func (sl *sinkLoop) markProbe() {
	sl.mu.Lock()
	sl.lastSend = time.Now()
	sl.mu.Unlock()
}

// sleepOrWake waits d or until wake; it returns false when ctx is done.
func sleepOrWake(ctx context.Context, wake <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return true
}

// read adds WAL block index to b and returns the next index to read. An
// error means nothing was added: wal.ErrClosed once the WAL is closed, or
// an I/O error (the caller tries again).
func (sl *sinkLoop) read(rd *wal.Reader, b *batch, index uint64) (uint64, error) {
	if b.nrec == len(b.bufs) {
		b.bufs = append(b.bufs, nil)
	}
	buf, err := rd.Read(b.bufs[b.nrec], index)
	b.bufs[b.nrec] = buf
	if errors.Is(err, wal.ErrNotFound) {
		if first := sl.p.log.FirstIndex(); index < first {
			// Deleted before this sink delivered it.
			if sl.firstWarning(b.From, index) {
				sl.p.logger.Warn("wal blocks were deleted before the sink delivered them",
					"sink", sl.name, "range_from", b.From, "from", index, "to", first-1)
			}
			b.To = first - 1
			return first, nil
		}
		return index, err
	}
	var ce *wal.CorruptionError
	if errors.As(err, &ce) {
		if sl.firstWarning(b.From, index) {
			sl.p.m.corruptRecords.WithLabelValues(sl.name).Inc()
			sl.p.logger.Warn("skipping a wal block that fails its checksum", "sink", sl.name, "range_from", b.From,
				"index", index, "err", err)
		}
		b.To = index
		return index + 1, nil
	}
	if err != nil {
		return index, err
	}
	b.To = index
	n := len(b.Blocks)
	if n < cap(b.Blocks) {
		b.Blocks = b.Blocks[:n+1]
	} else {
		b.Blocks = append(b.Blocks, wal.Block{})
	}
	blk := &b.Blocks[n]
	if err := wal.DecodeReadBlock(buf, blk); err != nil {
		if sl.firstWarning(b.From, index) {
			sl.p.m.corruptRecords.WithLabelValues(sl.name).Inc()
			sl.p.logger.Warn("skipping a wal block that does not decode", "sink", sl.name, "range_from", b.From,
				"index", index, "err", err)
		}
		b.Blocks = b.Blocks[:n]
		return index + 1, nil
	}
	if sl.routes != nil && !sl.routes[blk.Source] {
		b.Blocks = b.Blocks[:n]
		return index + 1, nil
	}
	b.nrec++
	b.idx = append(b.idx, index)
	b.Entries += len(blk.Entries)
	b.Bytes += blk.Size()
	return index + 1, nil
}

// maxWarned bounds sinkLoop.warned: past it the set starts again (a range
// then logs its skipped blocks once more).
const maxWarned = 1024

// firstWarning reports whether the skip of block index, read for the range
// starting at from, was not logged yet, and records it. A retried range
// reads its blocks again at every attempt: its warnings are logged (and
// its corrupt blocks counted) once.
func (sl *sinkLoop) firstWarning(from, index uint64) bool {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	seen := sl.warned[from]
	if slices.Contains(seen, index) {
		return false
	}
	if seen == nil && len(sl.warned) >= maxWarned {
		clear(sl.warned)
	}
	sl.warned[from] = append(seen, index)
	return true
}

// settledRange forgets the warnings of the range starting at from: it was
// delivered, dead-lettered or dropped.
func (sl *sinkLoop) settledRange(from uint64) {
	sl.mu.Lock()
	delete(sl.warned, from)
	sl.mu.Unlock()
}

// dispatch hands b to a worker; a batch with no entries for this sink is
// settled at once.
func (sl *sinkLoop) dispatch(ctx context.Context, b *batch) bool {
	if b.Entries == 0 {
		sl.settledRange(b.From)
		sl.ack(b.From, b.To)
		sl.free <- b
		return true
	}
	select {
	case sl.work <- b:
		return true
	case <-ctx.Done():
		return false
	}
}

// runWorker sends batches from the reader and due retry ranges until
// readCtx is done; the send it is in then finishes under ctx.
func (sl *sinkLoop) runWorker(ctx, readCtx context.Context) {
	rd := sl.p.log.NewReader() // for retried ranges
	defer rd.Close()
	var (
		retryBatch batch
		rf         readFailure
	)
	defer rf.end(sl)
	for {
		select {
		case b := <-sl.work:
			sl.deliverNew(ctx, b)
			sl.free <- b
		case r := <-sl.retries:
			if readCtx.Err() != nil {
				return // shutting down: the range stays stored for the next start
			}
			sl.deliverRetry(ctx, rd, &rf, &retryBatch, r)
			sl.p.sched.Signal() // room for the next due range
		case <-readCtx.Done():
			return
		}
	}
}

// send calls the sink once and accounts for the outcome in the metrics and
// the circuit breaker.
func (sl *sinkLoop) send(ctx context.Context, b *batch) error {
	m := sl.p.m
	start := sl.sendStart()
	err := sl.opts.Sink.Send(ctx, &b.Batch)
	sl.sendEnd(start)
	m.sinkSendDur.WithLabelValues(sl.name).Observe(time.Since(start).Seconds())
	if err == nil {
		m.sinkSent.WithLabelValues(sl.name).Add(float64(b.Entries))
		m.sinkSentBytes.WithLabelValues(sl.name).Add(float64(b.Bytes))
		m.deliveryLatency.WithLabelValues(sl.name).Observe(time.Since(b.started).Seconds())
		sl.breakerResult(nil, sinks.ClassRetryable)
		sl.settledSend(time.Now(), b.Entries, nil)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	sl.settledSend(time.Now(), b.Entries, err)
	class, _ := sinks.Classify(err)
	m.sinkFailures.WithLabelValues(sl.name, className[class], sinks.Reason(err)).Inc()
	sl.breakerResult(err, class)
	return err
}

var className = map[sinks.Class]string{
	sinks.ClassRetryable: "retryable", sinks.ClassPermanent: "permanent", sinks.ClassUnauthorized: "unauthorized"}

// sendStart counts a send starting and returns its start time, which
// sendEnd takes when it ends.
func (sl *sinkLoop) sendStart() time.Time {
	now := time.Now()
	sl.mu.Lock()
	sl.inFlight++
	sl.sendStarts = append(sl.sendStarts, now)
	sl.lastSend = now
	sl.mu.Unlock()
	return now
}

// sendEnd counts the send that started at start as ended.
func (sl *sinkLoop) sendEnd(start time.Time) {
	now := time.Now()
	sl.mu.Lock()
	sl.inFlight--
	if i := slices.IndexFunc(sl.sendStarts, start.Equal); i >= 0 {
		sl.sendStarts = slices.Delete(sl.sendStarts, i, i+1)
	}
	sl.lastSend = now
	sl.mu.Unlock()
}

// oldestSend returns the start of the longest send in progress (zero: none).
// Called with sl.mu held.
func (sl *sinkLoop) oldestSend() time.Time {
	var oldest time.Time
	for _, t := range sl.sendStarts {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return oldest
}

// deliverNew sends a batch read from the WAL once. A failure does not hold
// the cursor: the range goes to the retry queue or the dead-letter queue
// (durably) and is then settled like a delivered one.
func (sl *sinkLoop) deliverNew(ctx context.Context, b *batch) {
	err := sl.send(ctx, b)
	if err != nil && ctx.Err() != nil {
		return // shutting down: unsettled, sent again after the next start
	}
	if err != nil {
		now := time.Now()
		r := retry.Range{From: b.From, To: b.To, Entries: b.Entries, Bytes: b.Bytes, Attempts: 1,
			FirstFailure: now, LastError: err.Error()}
		if class, _ := sinks.Classify(err); class == sinks.ClassUnauthorized {
			r.Attempts = 0 // refused credentials never use up attempts
		}
		sl.narrow(&r, b, err) // a partial success: only the refused entries are filed
		if !sl.failed(ctx, retry.Range{}, r, err, now) {
			return
		}
	} else {
		sl.settledRange(b.From)
	}
	sl.ack(b.From, b.To)
}

// deliverRetry reads a retry range back from the WAL and sends it.
func (sl *sinkLoop) deliverRetry(ctx context.Context, rd *wal.Reader, rf *readFailure, b *batch, r retry.Range) {
	b.reset(r.From)
	b.started = r.FirstFailure // delivery latency counts from the first try
	for i := r.From; i <= r.To; {
		n, err := sl.read(rd, b, i)
		if errors.Is(err, wal.ErrClosed) || ctx.Err() != nil {
			return // stays stored; reloaded at the next start
		}
		if err != nil {
			// Put it back, same attempts, for another try: a handed-out
			// range left alone would wait for the next start.
			again := r
			again.Due = time.Now().Add(rf.fail(sl, err))
			sl.storeRetryOp(ctx, func() error { return sl.p.sched.Retry(sl.name, r, again) })
			return
		}
		i = n
	}
	rf.end(sl)
	sl.keepPicked(b, r.Picks) // a dead letter's selection: only those entries are sent
	if b.Entries == 0 {
		// Deleted under it (full_policy drop_oldest) or nothing routed.
		sl.p.m.sinkDropped.WithLabelValues(sl.name, "wal_full").Add(float64(r.Entries))
		sl.storeRetryOp(ctx, func() error { return sl.p.sched.Done(sl.name, r) })
		sl.settledRange(r.From)
		return
	}
	err := sl.send(ctx, b)
	if err == nil {
		sl.storeRetryOp(ctx, func() error { return sl.p.sched.Done(sl.name, r) })
		sl.settledRange(r.From)
		return
	}
	if ctx.Err() != nil {
		return // stays stored; reloaded at the next start
	}
	next := r
	if class, _ := sinks.Classify(err); class != sinks.ClassUnauthorized {
		next.Attempts++ // refused credentials never use up attempts: the data is fine
	}
	next.LastError = err.Error()
	sl.narrow(&next, b, err)
	sl.failed(ctx, r, next, err, time.Now())
}

func (b *batch) reset(from uint64) {
	b.From, b.To = from, from-1
	b.Blocks = b.Blocks[:0]
	b.idx, b.sel = b.idx[:0], b.sel[:0]
	b.Entries, b.Bytes, b.nrec = 0, 0, 0
	b.started = time.Now()
}
