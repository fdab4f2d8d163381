package pipeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

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

	mu      sync.Mutex
	settled uint64            // every index <= settled is delivered or given up
	done    map[uint64]uint64 // settled ranges above the cursor: from -> to

	committed uint64 // cursor in state.db; only the committer touches it
}

type batch struct {
	sinks.Batch
	bufs    [][]byte // record buffers the blocks' lines alias
	nrec    int
	started time.Time
}

func newSinkLoop(p *Pipeline, opts SinkOptions, cursor uint64) *sinkLoop {
	sl := &sinkLoop{
		p: p, opts: opts, name: opts.Sink.Name(),
		wake:      make(chan struct{}, 1),
		work:      make(chan *batch),
		free:      make(chan *batch, opts.Workers+1),
		settled:   cursor,
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
			if next, ok = sl.read(rd, cur, next); !ok {
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
	for {
		select {
		case b := <-sl.work:
			sl.deliver(ctx, b)
			sl.free <- b
		case <-ctx.Done():
			return
		}
	}
}

// deliver sends b until it is delivered, rejected for good, out of
// attempts, or the pipeline stops (then it stays unsettled and is sent again
// after the next start).
func (sl *sinkLoop) deliver(ctx context.Context, b *batch) {
	m := sl.p.m
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := sl.opts.Sink.Send(ctx, &b.Batch)
		m.sinkSendDur.WithLabelValues(sl.name).Observe(time.Since(start).Seconds())
		if err == nil {
			m.sinkSent.WithLabelValues(sl.name).Add(float64(b.Entries))
			m.sinkSentBytes.WithLabelValues(sl.name).Add(float64(b.Bytes))
			sl.ack(b.From, b.To)
			return
		}
		if ctx.Err() != nil {
			return
		}
		class, after := sinks.Classify(err)
		if class == sinks.ClassPermanent {
			m.sinkFailures.WithLabelValues(sl.name, "permanent").Inc()
			m.sinkDropped.WithLabelValues(sl.name, "permanent").Add(float64(b.Entries))
			sl.p.logger.Error("sink rejected a batch for good; it is dropped",
				"sink", sl.name, "from", b.From, "to", b.To, "entries", b.Entries, "err", err)
			sl.ack(b.From, b.To)
			return
		}
		m.sinkFailures.WithLabelValues(sl.name, "retryable").Inc()
		if sl.opts.MaxAttempts > 0 && attempt >= sl.opts.MaxAttempts {
			m.sinkDropped.WithLabelValues(sl.name, "max_attempts").Add(float64(b.Entries))
			sl.p.logger.Error("batch failed max_attempts times; it is dropped",
				"sink", sl.name, "from", b.From, "to", b.To, "attempts", attempt, "err", err)
			sl.ack(b.From, b.To)
			return
		}
		wait := max(backoff(attempt, sl.opts.MinBackoff, sl.opts.MaxBackoff), after)
		sl.p.logger.Warn("send failed; retrying", "sink", sl.name, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// backoff is exponential with full jitter: uniform in [min, min(max,
// min*2^(attempt-1))].
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	ceil := lo
	for i := 1; i < attempt && ceil < hi; i++ {
		ceil *= 2
	}
	ceil = min(ceil, hi)
	if ceil <= lo {
		return lo
	}
	return lo + rand.N(ceil-lo)
}

func (b *batch) reset(from uint64) {
	b.From, b.To = from, from-1
	b.Blocks = b.Blocks[:0]
	b.Entries, b.Bytes, b.nrec = 0, 0, 0
	b.started = time.Now()
}
