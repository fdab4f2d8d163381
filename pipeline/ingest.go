package pipeline

import (
	"time"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

const (
	maxGroupBlocks = 256
	maxGroupBytes  = 4 << 20
)

// runWriter is the only goroutine that appends to the WAL. It takes every
// block queued at the moment (up to maxGroupBlocks / maxGroupBytes) and
// writes them in one batch; the syncer then makes them durable with one
// fsync, while the writer already appends the next group.
func (p *Pipeline) runWriter() {
	defer p.ingestWG.Done()
	defer close(p.writerDone)
	var (
		group []sources.Record
		datas [][]byte
	)
	for {
		group = group[:0]
		select {
		case rec := <-p.in:
			group = append(group, rec)
		case <-p.stopIngest:
			// Sources are closed before the pipeline: write what they queued.
			for {
				select {
				case rec := <-p.in:
					group = append(group, rec)
					if len(group) < maxGroupBlocks {
						continue
					}
				default:
				}
				if len(group) == 0 {
					return
				}
				if !p.appendGroup(group, &datas) {
					return
				}
				group = group[:0]
			}
		}
		size := len(group[0].Data)
	fill:
		for len(group) < maxGroupBlocks && size < maxGroupBytes {
			select {
			case rec := <-p.in:
				group = append(group, rec)
				size += len(rec.Data)
			default:
				break fill
			}
		}
		if !p.appendGroup(group, &datas) {
			return
		}
	}
}

// appendGroup appends one group, waiting while the WAL is at its cap and
// retrying failed appends (a full disk) until they succeed or the pipeline
// stops. It returns false when it gave up because of the stop.
func (p *Pipeline) appendGroup(group []sources.Record, datas *[][]byte) bool {
	if !p.waitForSpace() {
		return false
	}
	*datas = (*datas)[:0]
	entries, bytes := 0, 0
	for _, r := range group {
		*datas = append(*datas, r.Data)
		entries += r.Entries
		bytes += r.Bytes
	}
	backoff := 10 * time.Millisecond
	for {
		prev := p.log.LastIndex()
		first, last, err := p.log.Append(*datas)
		if err == nil {
			p.m.walFull.Set(0)
			p.posMu.Lock()
			for i, r := range group {
				p.pending = append(p.pending, pendingPos{
					index: first + uint64(i),
					key:   posKey{Source: r.Source, FileID: r.Position.FileID},
					val:   posVal{Index: first + uint64(i), Offset: r.Position.Offset, Path: r.Position.Path},
				})
			}
			p.posMu.Unlock()
			p.counts.appended(first, group, p.log.FirstIndex())
			p.appended.Store(last)
			p.m.ingestRecords.Add(float64(len(group)))
			p.m.ingestEntries.Add(float64(entries))
			p.m.ingestBytes.Add(float64(bytes))
			p.m.groupCommit.Observe(float64(len(group)))
			notify(p.syncWake)
			for i := range group {
				group[i].Data = nil
			}
			return true
		}
		// A full disk (ENOSPC) or an I/O error: handled like a full WAL.
		// Sources wait (the queue fills and Emit blocks) while the append
		// is retried on a reopened log; nothing is dropped.
		p.m.appendErrors.Inc()
		p.m.walFull.Set(1)
		p.logger.Error("wal append failed; sources wait and the append is retried", "blocks", len(group), "err", err)
		select {
		case <-time.After(backoff):
		case <-p.stopIngest:
			return false
		}
		backoff = min(2*backoff, 5*time.Second)
		if rerr := p.log.Reopen(); rerr != nil {
			p.logger.Error("reopen wal after a failed append", "err", rerr)
			continue
		}
		// Whole records of the failed batch that reached the file stay;
		// append only the rest, so no block is in the WAL twice.
		if kept := int(p.log.LastIndex() - prev); kept > 0 && kept <= len(group) {
			p.posMu.Lock()
			for i, r := range group[:kept] {
				p.pending = append(p.pending, pendingPos{
					index: prev + 1 + uint64(i),
					key:   posKey{Source: r.Source, FileID: r.Position.FileID},
					val:   posVal{Index: prev + 1 + uint64(i), Offset: r.Position.Offset, Path: r.Position.Path},
				})
			}
			p.posMu.Unlock()
			p.counts.appended(prev+1, group[:kept], p.log.FirstIndex())
			p.appended.Store(p.log.LastIndex())
			notify(p.syncWake)
			group = group[kept:]
			*datas = (*datas)[kept:]
			if len(group) == 0 {
				p.m.walFull.Set(0)
				return true
			}
		}
	}
}

// waitForSpace blocks while the WAL is at its size cap (full_policy block):
// the sources wait, and the files they tail hold the backlog. It returns
// false if the pipeline stops meanwhile.
func (p *Pipeline) waitForSpace() bool {
	if p.log.Size() < p.opts.MaxBytes {
		return true
	}
	if p.opts.FullPolicy == FullDropOldest {
		for p.log.Size() >= p.opts.MaxBytes {
			if !p.dropOldest() {
				break // only the tail is left: wait like block
			}
		}
		if p.log.Size() < p.opts.MaxBytes {
			return true
		}
	}
	p.m.walFull.Set(1)
	p.logger.Warn("wal is full; sources wait until sinks catch up", "max_bytes", p.opts.MaxBytes)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for p.log.Size() >= p.opts.MaxBytes {
		select {
		case <-p.spaceFreed:
		case <-t.C:
		case <-p.stopIngest:
			p.m.walFull.Set(0)
			return false
		}
	}
	p.m.walFull.Set(0)
	p.logger.Info("wal has space again; sources resume")
	return true
}

// runSyncer makes appended blocks durable: one fsync covers every block
// appended since the last one. Only then may sinks read them and may their
// positions be checkpointed.
func (p *Pipeline) runSyncer() {
	defer p.ingestWG.Done()
	var tick <-chan time.Time
	if p.opts.Sync == SyncInterval {
		t := time.NewTicker(p.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	var retry <-chan time.Time
	for {
		done := false
		select {
		case <-p.syncWake:
			if p.opts.Sync == SyncInterval {
				continue
			}
		case <-tick:
		case <-retry:
		case <-p.writerDone:
			done = true
		}
		retry = nil
		if err := p.syncOnce(); err != nil {
			p.m.appendErrors.Inc()
			p.logger.Error("wal fsync failed; blocks stay invisible to sinks until a sync succeeds", "err", err)
			if done {
				return
			}
			retry = time.After(time.Second)
		}
		if done {
			return
		}
	}
}

// syncOnce fsyncs what was appended and publishes it as durable.
func (p *Pipeline) syncOnce() error {
	target := p.appended.Load()
	if target <= p.durable.Load() {
		return nil
	}
	if p.opts.Sync != SyncNone {
		if err := p.log.Sync(); err != nil {
			return err
		}
	}
	p.posMu.Lock()
	n := 0
	for _, pp := range p.pending {
		if pp.index > target {
			break
		}
		p.dirtyPos[pp.key] = pp.val
		n++
	}
	p.pending = append(p.pending[:0], p.pending[n:]...)
	p.posIndex = target
	p.posMu.Unlock()
	p.durable.Store(target)
	p.m.durableIndex.Set(float64(target))
	for _, sl := range p.loops {
		notify(sl.wake)
	}
	return nil
}

// dropOldest deletes the oldest WAL segment (full_policy drop_oldest). Every
// sink that had not delivered its blocks counts their entries as dropped
// with reason wal_full; retry ranges and dead letters inside it are dropped
// too. It returns false when only the tail segment is left.
func (p *Pipeline) dropOldest() bool {
	segs := p.log.Segments()
	if len(segs) < 2 {
		return false
	}
	cut := segs[1].FirstIndex
	from := p.log.FirstIndex()
	rd := p.log.NewReader()
	defer rd.Close()
	var (
		buf []byte
		blk wal.Block
	)
	// Hold every reader still while counting and cutting, so each block
	// is either read (and delivered) or counted as dropped, never both.
	for _, sl := range p.loops {
		sl.readMu.Lock()
		defer sl.readMu.Unlock()
	}
	for _, sl := range p.loops {
		lost := 0
		for i := max(from, sl.readNext); i < cut; i++ {
			var err error
			if buf, err = rd.Read(buf, i); err != nil || wal.DecodeBlock(buf, &blk) != nil {
				continue
			}
			if sl.routes == nil || sl.routes[blk.Source] {
				lost += len(blk.Entries)
			}
		}
		if lost > 0 {
			p.m.sinkDropped.WithLabelValues(sl.name, "wal_full").Add(float64(lost))
		}
	}
	for sink, n := range p.sched.DropBelow(cut) {
		p.m.sinkDropped.WithLabelValues(sink, "wal_full").Add(float64(n))
	}
	if err := p.log.TruncateFront(cut); err != nil {
		p.logger.Error("drop the oldest wal segment", "below", cut, "err", err)
		return false
	}
	p.m.truncations.Inc()
	p.logger.Warn("wal full: dropped the oldest segment (full_policy drop_oldest)", "below", cut)
	return true
}
