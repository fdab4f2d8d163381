package pipeline

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/wal"
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

	mu      sync.Mutex
	settled uint64            // every index <= settled is delivered or filed as a retry or dead letter
	done    map[uint64]uint64 // settled ranges above the cursor: from -> to
	fails   int               // consecutive retryable failures
	open    bool              // circuit breaker open

	committed  uint64    // cursor in state.db; only the committer touches it
	progressAt time.Time // when the cursor last moved or caught up; committer only
}

type batch struct {
	sinks.Batch
	bufs    [][]byte // record buffers the blocks' lines alias
	nrec    int
	started time.Time
	idx     []uint64       // WAL index of each of Blocks
	sel     [][]retry.Pick // a retried selection: the runs each block was cut to (nil: whole)
}

func newSinkLoop(p *Pipeline, opts SinkOptions, cursor uint64, retries <-chan retry.Range) *sinkLoop {
	sl := &sinkLoop{
		p: p, opts: opts, name: opts.Sink.Name(), retries: retries,
		wake:      make(chan struct{}, 1),
		work:      make(chan *batch),
		free:      make(chan *batch, opts.Workers+1),
		settled:   cursor,
		readNext:  cursor + 1,
		committed: cursor,
		done:      make(map[uint64]uint64),
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
	return sl
}

func (sl *sinkLoop) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1 + sl.opts.Workers)
	go func() {
		defer wg.Done()
		sl.runReader(ctx)
	}()
	for i := 0; i < sl.opts.Workers; i++ {
		go func() {
			defer wg.Done()
			sl.runWorker(ctx)
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
		cur   *batch
		timer = time.NewTimer(time.Hour)
	)
	timer.Stop()
	defer timer.Stop()
	for {
		durable := sl.p.durable.Load()
		if sl.circuitOpen() {
			select {
			case <-sl.wake:
			case <-ctx.Done():
				return
			}
			continue
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
			var ok bool
			sl.readMu.Lock()
			next, ok = sl.read(rd, cur, next)
			sl.readNext = next
			sl.readMu.Unlock()
			if !ok {
				return
			}
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

// read adds WAL block index to b and returns the next index to read. It
// returns false when the WAL is closed.
func (sl *sinkLoop) read(rd *wal.Reader, b *batch, index uint64) (uint64, bool) {
	if b.nrec == len(b.bufs) {
		b.bufs = append(b.bufs, nil)
	}
	buf, err := rd.Read(b.bufs[b.nrec], index)
	b.bufs[b.nrec] = buf
	if errors.Is(err, wal.ErrNotFound) {
		if first := sl.p.log.FirstIndex(); index < first {
			// Deleted before this sink delivered it.
			sl.p.logger.Warn("wal blocks were deleted before the sink delivered them",
				"sink", sl.name, "from", index, "to", first-1)
			b.To = first - 1
			return first, true
		}
		return index, false
	}
	var ce *wal.CorruptionError
	if errors.As(err, &ce) {
		sl.p.m.corruptRecords.WithLabelValues(sl.name).Inc()
		sl.p.logger.Warn("skipping a wal block that fails its checksum", "sink", sl.name, "index", index, "err", err)
		b.To = index
		return index + 1, true
	}
	if err != nil {
		if !errors.Is(err, wal.ErrClosed) {
			sl.p.logger.Error("read wal", "sink", sl.name, "index", index, "err", err)
		}
		return index, false
	}
	b.To = index
	n := len(b.Blocks)
	if n < cap(b.Blocks) {
		b.Blocks = b.Blocks[:n+1]
	} else {
		b.Blocks = append(b.Blocks, wal.Block{})
	}
	blk := &b.Blocks[n]
	if err := wal.DecodeBlock(buf, blk); err != nil {
		sl.p.m.corruptRecords.WithLabelValues(sl.name).Inc()
		sl.p.logger.Warn("skipping a wal block that does not decode", "sink", sl.name, "index", index, "err", err)
		b.Blocks = b.Blocks[:n]
		return index + 1, true
	}
	if sl.routes != nil && !sl.routes[blk.Source] {
		b.Blocks = b.Blocks[:n]
		return index + 1, true
	}
	b.nrec++
	b.idx = append(b.idx, index)
	b.Entries += len(blk.Entries)
	b.Bytes += blk.Size()
	return index + 1, true
}

// dispatch hands b to a worker; a batch with no entries for this sink is
// settled at once.
func (sl *sinkLoop) dispatch(ctx context.Context, b *batch) bool {
	if b.Entries == 0 {
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

func (sl *sinkLoop) runWorker(ctx context.Context) {
	rd := sl.p.log.NewReader() // for retried ranges
	defer rd.Close()
	var retryBatch batch
	for {
		select {
		case b := <-sl.work:
			sl.deliverNew(ctx, b)
			sl.free <- b
		case r := <-sl.retries:
			sl.deliverRetry(ctx, rd, &retryBatch, r)
			sl.p.sched.Signal() // room for the next due range
		case <-ctx.Done():
			return
		}
	}
}

// send calls the sink once and accounts for the outcome in the metrics and
// the circuit breaker.
func (sl *sinkLoop) send(ctx context.Context, b *batch) error {
	m := sl.p.m
	start := time.Now()
	err := sl.opts.Sink.Send(ctx, &b.Batch)
	m.sinkSendDur.WithLabelValues(sl.name).Observe(time.Since(start).Seconds())
	if err == nil {
		m.sinkSent.WithLabelValues(sl.name).Add(float64(b.Entries))
		m.sinkSentBytes.WithLabelValues(sl.name).Add(float64(b.Bytes))
		sl.breakerResult(true)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	class, _ := sinks.Classify(err)
	if class == sinks.ClassPermanent {
		m.sinkFailures.WithLabelValues(sl.name, "permanent").Inc()
	} else {
		m.sinkFailures.WithLabelValues(sl.name, "retryable").Inc()
		sl.breakerResult(false)
	}
	return err
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
		sl.narrow(&r, b, err) // a partial success: only the refused entries are filed
		if !sl.failed(ctx, retry.Range{}, r, err, now) {
			return
		}
	}
	sl.ack(b.From, b.To)
}

// deliverRetry reads a retry range back from the WAL and sends it.
func (sl *sinkLoop) deliverRetry(ctx context.Context, rd *wal.Reader, b *batch, r retry.Range) {
	b.reset(r.From)
	for i := r.From; i <= r.To; {
		var ok bool
		if i, ok = sl.read(rd, b, i); !ok {
			return
		}
	}
	sl.keepPicked(b, r.Picks) // a dead letter's selection: only those entries are sent
	if b.Entries == 0 {
		// Deleted under it (full_policy drop_oldest) or nothing routed.
		sl.p.m.sinkDropped.WithLabelValues(sl.name, "wal_full").Add(float64(r.Entries))
		sl.storeRetryOp(ctx, func() error { return sl.p.sched.Done(sl.name, r) })
		return
	}
	err := sl.send(ctx, b)
	if err == nil {
		sl.storeRetryOp(ctx, func() error { return sl.p.sched.Done(sl.name, r) })
		return
	}
	if ctx.Err() != nil {
		return // stays stored; reloaded at the next start
	}
	next := r
	next.Attempts++
	next.LastError = err.Error()
	sl.narrow(&next, b, err)
	sl.failed(ctx, r, next, err, time.Now())
}

// failed files a failed range: to the dead-letter queue when the sink
// rejected it for good or it is out of attempts, else back into the retry
// queue with backoff. old is the retry range it replaces (zero for a new
// batch). It returns false only when the pipeline stopped before the range
// was stored.
func (sl *sinkLoop) failed(ctx context.Context, old, r retry.Range, err error, now time.Time) bool {
	class, after := sinks.Classify(err)
	reason := ""
	if class == sinks.ClassPermanent {
		reason = "permanent"
		var p *sinks.Permanent
		if errors.As(err, &p) && p.Reason != "" {
			reason = p.Reason
		}
		if p != nil && p.Rejected > 0 && p.Rejected < r.Entries {
			// A partial success the sink could not narrow to entries
			// (Loki's "total ignored"): the range still goes to the queue
			// whole (a replay resends it; Loki drops what it holds),
			// counted by what was refused.
			r.Entries = p.Rejected
		}
	} else if sl.opts.MaxAttempts > 0 && r.Attempts >= sl.opts.MaxAttempts {
		reason = "max_attempts"
	}
	if reason != "" {
		d := retry.DeadLetter{From: r.From, To: r.To, Entries: r.Entries, Bytes: r.Bytes, Picks: r.Picks, Reason: reason,
			Attempts: r.Attempts, FirstFailure: r.FirstFailure, LastFailure: now, LastError: r.LastError}
		sl.p.logger.Warn("range moved to the dead-letter queue", "sink", sl.name, "from", r.From, "to", r.To,
			"entries", r.Entries, "reason", reason, "attempts", r.Attempts, "err", err)
		return sl.storeRetryOp(ctx, func() error { return sl.p.sched.Dead(sl.name, old, d) })
	}
	r.Due = now.Add(retry.Backoff(r.Attempts, sl.opts.MinBackoff, sl.opts.MaxBackoff, after))
	return sl.storeRetryOp(ctx, func() error { return sl.p.sched.Retry(sl.name, old, r) })
}

// storeRetryOp runs a retry-state write until it succeeds or the pipeline
// stops: a range must be stored before the cursor passes it.
func (sl *sinkLoop) storeRetryOp(ctx context.Context, op func() error) bool {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		err := op()
		if err == nil {
			return true
		}
		sl.p.logger.Error("store retry state; trying again", "sink", sl.name, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// breakerResult feeds the circuit breaker: BreakerFailures consecutive
// retryable failures open it, and the reader stops reading new blocks; only
// the scheduler's retries probe the sink then, and the first success closes
// it.
func (sl *sinkLoop) breakerResult(ok bool) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if ok {
		sl.fails = 0
		if sl.open {
			sl.open = false
			sl.p.m.circuitOpen.WithLabelValues(sl.name).Set(0)
			sl.p.logger.Info("sink recovered; circuit closed", "sink", sl.name)
			notify(sl.wake)
		}
		return
	}
	sl.fails++
	if !sl.open && sl.fails >= sl.opts.BreakerFailures {
		sl.open = true
		sl.p.m.circuitOpen.WithLabelValues(sl.name).Set(1)
		sl.p.logger.Warn("sink failing; circuit open: new blocks wait, retries probe", "sink", sl.name, "failures", sl.fails)
	}
}

func (sl *sinkLoop) circuitOpen() bool {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.open
}

func (b *batch) reset(from uint64) {
	b.From, b.To = from, from-1
	b.Blocks = b.Blocks[:0]
	b.idx, b.sel = b.idx[:0], b.sel[:0]
	b.Entries, b.Bytes, b.nrec = 0, 0, 0
	b.started = time.Now()
}
