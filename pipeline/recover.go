package pipeline

import (
	"errors"
	"fmt"

	"github.com/logcapturer/logcapturer/wal"
)

// recover loads state.db, clamps each sink's cursor to what the WAL holds,
// builds the sink loops, and rebuilds every source position: the
// checkpointed positions, then the positions inside every block after the
// checkpoint. A block is in the WAL exactly when its position is, so a
// source resumed from these positions neither skips nor repeats a line. A
// cursor (Position.Cursor) is recovered like an offset; a block with no
// position (a push record) makes none.
func (p *Pipeline) recover() error {
	cursors, positions, checkpoint, err := p.st.load()
	if err != nil {
		return err
	}
	first, last := p.log.FirstIndex(), p.log.LastIndex()
	p.appended.Store(last)
	// wal.Open repaired the tail and fsynced it and the directory: all of
	// it is durable, not merely in the page cache of a killed process.
	p.durable.Store(p.log.DurableIndex())
	p.m.durableIndex.Set(float64(p.log.DurableIndex()))

	for _, so := range p.opts.Sinks {
		name := so.Sink.Name()
		c, ok := cursors[name]
		switch {
		case !ok:
			// A new sink delivers what the WAL still holds.
			c = first - 1
		case c > last:
			// Only damage to the WAL (or a copied data dir) gets here:
			// new blocks will reuse those indexes, so the cursor must not
			// skip them.
			p.logger.Warn("sink cursor is past the end of the wal; blocks after the wal's end were lost",
				"sink", name, "cursor", c, "wal_last", last)
			c = last
		case c+1 < first:
			p.logger.Warn("wal segments the sink had not delivered were deleted",
				"sink", name, "cursor", c, "wal_first", first)
			c = first - 1
		}
		retries, err := p.sched.Register(name, so.Workers)
		if err != nil {
			return err
		}
		// Only the configured sinks pin WAL blocks: a sink removed by a
		// reload (or while stopped) and added again finds the blocks of
		// its retry ranges and dead letters deleted. Never point at them.
		p.m.sinkDropped.WithLabelValues(name, "removed")
		if n := p.sched.DropBelow(first, name)[name]; n > 0 {
			p.m.sinkDropped.WithLabelValues(name, "removed").Add(float64(n))
			p.logger.Warn("retry ranges and dead letters whose wal blocks were deleted while the sink was not configured are dropped",
				"sink", name, "entries", n, "wal_first", first)
		}
		p.loops = append(p.loops, newSinkLoop(p, so, c, retries))
	}

	for k, v := range positions {
		if v.Index > last {
			p.logger.Warn("stored position is past the end of the wal; the file is re-read by start_at",
				"source", k.Source, "path", v.Path, "wal_index", v.Index, "wal_last", last)
			delete(positions, k)
		}
	}
	from := checkpoint + 1
	if checkpoint > last {
		from = first
	}
	from = max(from, first)
	var (
		buf     []byte
		blk     wal.Block
		scanned int
		rd      = p.log.NewReader()
	)
	defer rd.Close()
	for i := from; i <= last; i++ {
		buf, err = rd.Read(buf, i)
		if err == nil {
			err = wal.DecodeReadBlock(buf, &blk)
		}
		var ce *wal.CorruptionError
		if errors.As(err, &ce) || errors.Is(err, wal.ErrBadRecord) {
			p.logger.Warn("skipping a corrupt wal block while recovering positions", "index", i, "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("recover positions: read wal index %d: %w", i, err)
		}
		scanned++
		if blk.Position.FileID == "" && blk.Position.Cursor == "" {
			continue // a push record: no position
		}
		positions[posKey{Source: blk.Source, FileID: blk.Position.FileID}] = posVal{
			Index: i, Offset: blk.Position.Offset, Path: blk.Position.Path, Cursor: blk.Position.Cursor}
	}
	p.recovered = positions
	p.checkpoint.Store(checkpoint)
	p.posIndex = last
	if scanned > 0 {
		// Make the scan's result the new checkpoint at the first commit.
		for k, v := range positions {
			p.dirtyPos[k] = v
		}
	}
	p.logger.Info("recovered", "wal_first", first, "wal_last", last,
		"checkpoint", checkpoint, "blocks_scanned", scanned, "files", len(positions))
	return nil
}
