package syslog

import (
	"context"
	"errors"
	"time"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// batch is the batcher: the one goroutine that calls the Emitter. It
// gathers the chunks of every connection into one block and hands it over
// when it holds blockBytes of lines or blockEntries entries, or maxWait
// after its first entry came. While Emit blocks it takes no chunk, so the
// connections stop reading (TCP) or count drops (UDP). It ends when s.in
// is closed (the stopper closes it once every connection is gone), after
// handing over what it holds with a fresh context bounded by
// finalFlushTimeout: entries received before Close are not lost to the
// cancellation of ctx itself.
func (s *Source) batch(ctx context.Context) {
	blk := wal.Block{Source: s.name, Labels: s.labels}
	var held []*chunk
	var size int
	var buf []byte
	timer := time.NewTimer(maxWait)
	timer.Stop()
	s.st = s.stagesStream()
	st := s.st
	var tick *time.Ticker // runs while the stages hold entries
	var tickC <-chan time.Time
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	// staged takes what the stages handed on as the block under way, and
	// ticks them while they hold entries (multiline max_wait_time).
	staged := func() {
		s.stages.Dirty() // the one stream: nothing to look up
		blk.Entries, size, _, _ = st.Pending()
		switch holding := s.stages.Holding(); {
		case holding && tick == nil:
			tick = time.NewTicker(stageTick)
			tickC = tick.C
		case !holding && tick != nil:
			tick.Stop()
			tick, tickC = nil, nil
		}
	}
	flush := func(ctx context.Context) error {
		if len(blk.Entries) == 0 {
			return nil
		}
		buf = wal.EncodeBlock(buf[:0], &blk)
		data := make([]byte, len(buf)) // ownership passes to the Emitter
		copy(data, buf)
		rec := sources.Record{Source: s.name, Entries: len(blk.Entries), Bytes: size, Data: data}
		if err := s.emitter.Emit(ctx, rec); err != nil {
			return err
		}
		s.m.entries.Add(float64(len(blk.Entries)))
		s.m.blocks.Inc()
		if st != nil {
			st.Emitted(wal.Position{})
		}
		clear(blk.Entries)
		blk.Entries, size = blk.Entries[:0], 0
		for _, ck := range held {
			s.chunks.put(ck)
		}
		held = held[:0]
		return nil
	}
	// deferred: the block could not be handed over because ctx ended; it
	// is tried once more at the end.
	deferred := false
	emit := func() {
		timer.Stop()
		if deferred {
			return
		}
		if err := flush(ctx); err != nil {
			if ctx.Err() != nil {
				deferred = true
				return
			}
			s.m.errors.WithLabelValues(reasonEmit).Inc()
			s.warn(reasonEmit, "syslog block refused by the pipeline; its entries are lost", "entries", len(blk.Entries), "error", err)
			s.m.dropped.WithLabelValues(dropShutdown).Add(float64(len(blk.Entries)))
			s.discard(&blk, &held, &size)
		}
	}
	for {
		select {
		case ck, ok := <-s.in:
			if !ok {
				if st != nil {
					s.stages.Flush() // no position to read held entries again from
					staged()
				}
				s.finalFlush(flush, &blk, &held, &size)
				return
			}
			first := len(blk.Entries) == 0
			if st != nil {
				s.stageChunk(st, ck)
				staged()
			} else {
				blk.Entries = append(blk.Entries, ck.entries...)
				size += ck.bytes
				held = append(held, ck)
			}
			switch {
			case size >= blockBytes || len(blk.Entries) >= blockEntries:
				emit()
			case first && len(blk.Entries) > 0:
				timer.Reset(maxWait)
			}
		case <-timer.C:
			emit()
		case now := <-tickC:
			first := len(blk.Entries) == 0
			s.stages.Tick(now)
			staged()
			if first && len(blk.Entries) > 0 {
				timer.Reset(maxWait)
			}
		}
	}
}

func (s *Source) finalFlush(flush func(context.Context) error, blk *wal.Block, held *[]*chunk, size *int) {
	ctx, cancel := context.WithTimeout(context.Background(), finalFlushTimeout)
	defer cancel()
	if err := flush(ctx); err != nil {
		s.m.dropped.WithLabelValues(dropShutdown).Add(float64(len(blk.Entries)))
		if !errors.Is(err, context.DeadlineExceeded) {
			s.logger.Warn("syslog source stopped with entries the pipeline did not take", "entries", len(blk.Entries), "error", err)
		} else {
			s.logger.Warn("syslog source stopped with entries the pipeline did not take in time", "entries", len(blk.Entries),
				"timeout", finalFlushTimeout)
		}
		s.discard(blk, held, size)
	}
}

// stageTick is how often the batcher ticks the stages while they hold
// entries.
const stageTick = 250 * time.Millisecond

// stagesStream is the one stream of the source's stages; nil without.
func (s *Source) stagesStream() *sources.StageStream {
	if s.stages == nil {
		return nil
	}
	return s.stages.NewStream(s.labels, wal.Position{}, nil)
}

// stageChunk runs a chunk's entries through the stages (they copy what
// they keep) and recycles it.
func (s *Source) stageChunk(st *sources.StageStream, ck *chunk) {
	var in sources.StageInput
	for i := range ck.entries {
		e := &ck.entries[i]
		in = sources.StageInput{Time: e.Time, Line: e.Line, Labels: e.Labels, Metadata: e.Metadata}
		s.stages.Add(st, &in)
	}
	s.chunks.put(ck)
}

func (s *Source) discard(blk *wal.Block, held *[]*chunk, size *int) {
	if s.st != nil {
		s.st.Emitted(wal.Position{})
	}
	clear(blk.Entries)
	blk.Entries, *size = blk.Entries[:0], 0
	for _, ck := range *held {
		s.chunks.put(ck)
	}
	*held = (*held)[:0]
}
