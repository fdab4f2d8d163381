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
				s.finalFlush(flush, &blk, &held, &size)
				return
			}
			first := len(blk.Entries) == 0
			blk.Entries = append(blk.Entries, ck.entries...)
			size += ck.bytes
			held = append(held, ck)
			switch {
			case size >= blockBytes || len(blk.Entries) >= blockEntries:
				emit()
			case first:
				timer.Reset(maxWait)
			}
		case <-timer.C:
			emit()
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

func (s *Source) discard(blk *wal.Block, held *[]*chunk, size *int) {
	clear(blk.Entries)
	blk.Entries, *size = blk.Entries[:0], 0
	for _, ck := range *held {
		s.chunks.put(ck)
	}
	*held = (*held)[:0]
}
