package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotRunning is returned by operations that need the pipeline's loops
// (a rewind) before Start or once Close has begun.
var ErrNotRunning = errors.New("pipeline is not running")

// RewindResult is where a rewind put the sink.
type RewindResult struct {
	// Cursor is the sink's new cursor: the next block it reads is Cursor+1.
	Cursor uint64 `json:"cursor"`
	// Index and Skip locate the first entry the sink delivers next: entry
	// Skip of block Index.
	Index uint64 `json:"index"`
	Skip  int    `json:"skip"`
	// FirstTime is that entry's time (nil when the sink was moved to the
	// end of the WAL).
	FirstTime *time.Time `json:"first_time,omitempty"`
	// Previous is the cursor before the move.
	Previous uint64 `json:"previous"`
	// Skipped counts the entries a forward move skipped (dropped with
	// reason skipped).
	Skipped int64 `json:"skipped"`
}

// rewindReq asks a sink's reader to move: the next block it reads is
// index, less its first skip entries. The reader answers on reply.
type rewindReq struct {
	index uint64
	skip  int
	reply chan rewindAck
}

type rewindAck struct {
	previous uint64
	err      error
}

// RewindToIndex moves the sink so that the next block it delivers is
// index (index = durable+1 skips everything there is). See RewindToTime.
func (p *Pipeline) RewindToIndex(ctx context.Context, sink string, index uint64) (RewindResult, error) {
	v := p.walView()
	return p.rewind(ctx, sink, func() (uint64, int, *time.Time, error) {
		return v.locateIndex(index)
	})
}

// RewindToOldest moves the sink to the oldest block the WAL holds, found
// while retention is held off: everything there is gets re-shipped. See
// RewindToTime.
func (p *Pipeline) RewindToOldest(ctx context.Context, sink string) (RewindResult, error) {
	v := p.walView()
	return p.rewind(ctx, sink, func() (uint64, int, *time.Time, error) {
		return v.locateIndex(p.log.FirstIndex())
	})
}

// RewindToNewest moves the sink past the newest durable block: it skips
// everything there is and delivers only what is appended from now on. See
// RewindToTime.
func (p *Pipeline) RewindToNewest(ctx context.Context, sink string) (RewindResult, error) {
	v := p.walView()
	return p.rewind(ctx, sink, func() (uint64, int, *time.Time, error) {
		return v.locateIndex(p.durable.Load() + 1)
	})
}

// locateIndex checks that a sink can be moved to block index (first to
// durable+1, the end) and returns it with its first entry's time (nil at
// the end).
func (v walView) locateIndex(index uint64) (uint64, int, *time.Time, error) {
	first, durable := v.log.FirstIndex(), v.durable()
	if index < first || index > durable+1 {
		return 0, 0, nil, v.rangeError(fmt.Sprintf("index %d", index), index > durable+1)
	}
	es, err := v.entries(index, index, 0, 1, nil, nil)
	if err != nil || len(es) == 0 {
		return index, 0, nil, err
	}
	return index, 0, &es[0].Time, nil
}

// RewindToTime moves the sink so that the first entry it delivers next is
// the first one whose time is at or after t: a binary search over the
// blocks' first entry times, then a scan inside the block. Rewinding
// re-ships what the sink had; a forward move skips entries, counted in
// logcapturer_dropped_entries_total{reason="skipped"}.
//
// It runs while the sink loop runs: the sink's reader drops the batch it
// was filling, waits until every batch it handed out has settled, then
// moves its read position, the settled cursor and the committed cursor;
// the new cursor is committed to state.db before it returns. Retention is
// held off meanwhile. Retry ranges and dead letters stay as they are. The
// entries skipped inside the first block are skipped once: after a restart
// before that block was delivered, or when its batch is retried, the whole
// block is sent. Errors: *UnknownSinkError, *RangeError (t outside the
// WAL), ErrNotRunning. One rewind runs at a time. Safe for concurrent use.
func (p *Pipeline) RewindToTime(ctx context.Context, sink string, t time.Time) (RewindResult, error) {
	v := p.walView()
	return p.rewind(ctx, sink, func() (uint64, int, *time.Time, error) {
		i, skip, at, err := v.locateTime(t)
		return i, skip, &at, err
	})
}

func (p *Pipeline) rewind(ctx context.Context, sink string, locate func() (uint64, int, *time.Time, error)) (RewindResult, error) {
	sl, err := p.loop(sink)
	if err != nil {
		return RewindResult{}, err
	}
	if !p.Ready() {
		return RewindResult{}, ErrNotRunning
	}
	p.rewindMu.Lock()
	defer p.rewindMu.Unlock()
	// No segment may go while the target is found and the reader moves:
	// pin retention, then let the committer finish a truncation it may be
	// in the middle of.
	p.pinned.Store(true)
	defer p.pinned.Store(false)
	if err := p.commitNow(ctx); err != nil {
		return RewindResult{}, err
	}
	index, skip, at, err := locate()
	if err != nil {
		return RewindResult{}, err
	}
	if index-1 < p.counts.covered() {
		if err := p.counts.extendDown(p.log, index-1, nil); err != nil {
			return RewindResult{}, fmt.Errorf("count the blocks rewound over: %w", err)
		}
	}
	req := &rewindReq{index: index, skip: skip, reply: make(chan rewindAck, 1)}
	sl.rewind <- req // one at a time (rewindMu), and never left behind: there is room
	notify(sl.wake)
	var ack rewindAck
	select {
	case ack = <-req.reply:
	case <-p.stopIngest:
		return RewindResult{}, ErrNotRunning
	case <-ctx.Done():
		// The reader is busy (a WAL read it keeps retrying, say): take the
		// request back if it has not begun, else wait for it.
		select {
		case <-sl.rewind:
			return RewindResult{}, fmt.Errorf("the sink's reader did not take the rewind: %w", ctx.Err())
		case ack = <-req.reply:
		case <-p.stopIngest:
			return RewindResult{}, ErrNotRunning
		}
	}
	if ack.err != nil {
		return RewindResult{}, ack.err
	}
	res := RewindResult{Cursor: index - 1, Index: index, Skip: skip, FirstTime: at, Previous: ack.previous}
	if index-1 > ack.previous || (index-1 == ack.previous && skip > 0) {
		t, _ := p.counts.between(sl.name, ack.previous, index-1)
		res.Skipped = t.Entries + int64(skip)
		p.m.sinkDropped.WithLabelValues(sl.name, "skipped").Add(float64(res.Skipped))
	}
	p.logger.Info("sink rewound", "sink", sl.name, "from_cursor", ack.previous, "to_cursor", res.Cursor,
		"skip_in_block", skip, "skipped_entries", res.Skipped)
	if err := p.commitNow(context.WithoutCancel(ctx)); err != nil {
		return res, fmt.Errorf("commit the rewound cursor: %w", err)
	}
	return res, nil
}

// commitNow has the committer commit at once and waits for it.
func (p *Pipeline) commitNow(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case p.commitReq <- reply:
	case <-p.stopIngest:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-reply
}

// takeRewind returns a pending rewind request, if any. Reader only.
func (sl *sinkLoop) takeRewind() *rewindReq {
	select {
	case r := <-sl.rewind:
		return r
	default:
		return nil
	}
}

// applyRewind moves the reader: it drops the batch being filled (never
// handed out), takes back every batch (so none is in flight and every
// range read so far is settled), then sets the read position and the
// settled cursor. Reader only; false when ctx ended first.
func (sl *sinkLoop) applyRewind(ctx context.Context, req *rewindReq, cur **batch, next *uint64) bool {
	sl.rewinding.Store(true)
	defer sl.rewinding.Store(false)
	if *cur != nil {
		sl.free <- *cur
		*cur = nil
	}
	held := make([]*batch, 0, cap(sl.free))
	defer func() {
		for _, b := range held {
			sl.free <- b
		}
	}()
	for len(held) < cap(sl.free) {
		select {
		case b := <-sl.free:
			held = append(held, b)
		case <-ctx.Done():
			req.reply <- rewindAck{err: ErrNotRunning}
			return false
		}
	}
	sl.readMu.Lock()
	sl.mu.Lock()
	previous := sl.settled
	sl.settled = req.index - 1
	clear(sl.done)
	sl.mu.Unlock()
	sl.readNext = req.index
	sl.readMu.Unlock()
	sl.trimAt, sl.trimN = req.index, req.skip
	*next = req.index
	req.reply <- rewindAck{previous: previous}
	return true
}

// trimFirst drops the entries a rewind by time skips in its first block,
// once, if the read of index at added that block to b as block nb.
// Reader only.
func (sl *sinkLoop) trimFirst(b *batch, at uint64, nb int) {
	if sl.trimN == 0 || at < sl.trimAt {
		return
	}
	if at == sl.trimAt && len(b.Blocks) > nb {
		blk := &b.Blocks[nb]
		k := min(sl.trimN, len(blk.Entries))
		for _, e := range blk.Entries[:k] {
			b.Bytes -= len(e.Line)
		}
		blk.Entries = blk.Entries[k:]
		b.Entries -= k
	}
	sl.trimN = 0
}
