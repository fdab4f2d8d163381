package pipeline

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

const (
	maxGroupBlocks = 256
	maxGroupBytes  = 1 << 20
)

// maxPendingBytes bounds the bytes of blocks appended but not yet durable,
// which the pipeline keeps in memory to heal a failed append or fsync: the
// writer waits for the syncer above it. Two groups: one being fsynced, the
// next appended meanwhile. More only grows the live heap, which under the
// soft memory limit costs more garbage collection than it gains (4 MiB
// measured 3.7 CPU s for 500 MiB file → file at a 28 MiB limit, 2 MiB 2.5–3.0).
const maxPendingBytes = 2 << 20

// runWriter is the only goroutine that appends to the WAL, and the one that
// heals it. It takes every block queued at the moment (up to
// maxGroupBlocks / maxGroupBytes) and writes them in one batch; the syncer
// then makes them durable with one fsync, while the writer already appends
// the next group.
func (p *Pipeline) runWriter() {
	defer p.ingestWG.Done()
	defer close(p.writerDone)
	var group []sources.Record
	p.checkNearlyFull()
	for {
		group = group[:0]
		select {
		case rec := <-p.in:
			group = append(group, rec)
		case <-p.walFault:
			if !p.heal() {
				return
			}
			continue
		case <-p.spaceFreed:
			p.checkNearlyFull()
			continue
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
				if !p.appendGroup(group) {
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
		if !p.appendGroup(group) {
			return
		}
	}
}

// appendGroup appends one group, waiting while the WAL is at its cap or
// too much is not yet durable, and healing the WAL when the append fails
// (a full disk, a failed fsync) until it succeeds or the pipeline stops.
// It returns false when it gave up because of the stop; the group is then
// not in the WAL, and no position of it was recorded, so the sources read
// it again after the next start.
func (p *Pipeline) appendGroup(group []sources.Record) bool {
	if !p.waitForSpace() || !p.waitForSyncer() {
		completeAll(group, ErrClosed)
		return false
	}
	if err := p.log.Err(); err != nil {
		// A failed fsync the writer has not healed yet (the syncer's
		// walFault is pending): heal first, so that this group's push
		// records are not failed for a fault that came before them.
		p.walFailed(err)
		if !p.heal() {
			completeAll(group, ErrClosed)
			return false
		}
	}
	entries, bytes := 0, 0
	p.datas = p.datas[:0]
	prev := p.log.LastIndex()
	p.posMu.Lock()
	for i, r := range group {
		index := prev + 1 + uint64(i)
		p.pending = append(p.pending, pendingPos{
			index:   index,
			key:     posKey{Source: r.Source, FileID: r.Position.FileID},
			val:     posVal{Index: index, Offset: r.Position.Offset, Path: r.Position.Path, Cursor: r.Position.Cursor},
			hasPos:  r.HasPosition(),
			push:    r.Done != nil && !r.HasPosition(),
			data:    r.Data,
			entries: r.Entries,
			bytes:   r.Bytes,
			done:    r.Done,
		})
		p.pendingBytes += len(r.Data)
		p.datas = append(p.datas, r.Data)
		entries += r.Entries
		bytes += r.Bytes
		group[i].Data = nil // pending holds it until it is durable
		group[i].Done = nil // and its completion
	}
	p.posMu.Unlock()
	// Counted before the append: a heal that drops push records of this
	// group redoes the counts from where the WAL ends.
	p.counts.appended(prev+1, group, p.log.FirstIndex())
	_, last, err := p.log.Append(p.datas)
	clear(p.datas)
	if err != nil {
		// Sources wait meanwhile (the queue fills and Emit blocks); the
		// group is in pending, so heal appends it. Nothing is dropped.
		p.walFailed(err)
		if !p.heal() {
			return false
		}
	} else {
		p.appended.Store(last)
		notify(p.syncWake)
	}
	p.m.ingestRecords.Add(float64(len(group)))
	p.m.ingestEntries.Add(float64(entries))
	p.m.ingestBytes.Add(float64(bytes))
	p.m.groupCommit.Observe(float64(len(group)))
	p.checkNearlyFull()
	return true
}

// heal makes the WAL usable again after a failed append or fsync and
// appends again every pending block it no longer holds, retrying with a
// backoff from 10 ms to 1 s (short, so ingestion resumes soon after the disk
// has space again) until it succeeds or the pipeline stops. It logs
// nothing itself: the wal_append_failing condition logs its start and end.
func (p *Pipeline) heal() bool {
	backoff := 10 * time.Millisecond
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		err := p.reappend()
		if err == nil {
			return true
		}
		p.walFailed(err)
		t.Reset(backoff)
		select {
		case <-t.C:
		case <-p.stopIngest:
			return false
		}
		backoff = min(2*backoff, time.Second)
	}
}

// reappend reopens the WAL if it failed (it then ends at its last whole
// record after a failed write, or at its durable index after a failed
// fsync, all of it fsynced) and appends the pending blocks after its end,
// under the indexes they had. A pending block at or below the end is in the
// WAL and durable: the syncer publishes it.
//
// Push records (a completion, no position) past the end are not appended
// again: their completions fail with ErrNotDurable and the cause, and the
// blocks after them take their indexes. The client, told, sends them
// again; appending them here as well would store them twice, and would
// keep the client waiting for as long as the fault lasts.
func (p *Pipeline) reappend() error {
	if p.log.Err() != nil {
		if err := p.log.Reopen(); err != nil {
			return err
		}
	}
	last := p.log.LastIndex()
	p.datas = p.datas[:0]
	p.posMu.Lock()
	dones, derr := p.dropPushRecords(last)
	next := last + 1
	gap := false
	for _, pp := range p.pending {
		if pp.index < next {
			continue
		}
		if pp.index != next {
			gap = true
			break
		}
		p.datas = append(p.datas, pp.data)
		next++
	}
	p.posMu.Unlock()
	for _, d := range dones {
		d(derr)
	}
	if gap || last < p.durable.Load() {
		// Only lost fsynced data gets here: the WAL ends before blocks
		// that were durable, or before the blocks we hold.
		return fmt.Errorf("heal wal: it ends at index %d, before blocks published as durable (%d) or held (from %d)",
			last, p.durable.Load(), next)
	}
	if len(p.datas) > 0 {
		first, _, err := p.log.Append(p.datas)
		clear(p.datas)
		if err != nil {
			return err
		}
		if first != last+1 {
			return fmt.Errorf("heal wal: appended at index %d, want %d", first, last+1)
		}
	}
	last = p.log.LastIndex()
	p.appended.Store(last)
	p.faultMu.Lock()
	if p.healAt == math.MaxUint64 {
		p.healAt = max(last, 1)
	}
	p.faultMu.Unlock()
	notify(p.syncWake)
	return nil
}

// walFailed counts a failed append, fsync or reopen and raises
// wal_append_failing (logged once, when it starts).
func (p *Pipeline) walFailed(err error) {
	p.m.appendErrors.Inc()
	p.faultMu.Lock()
	p.healAt = math.MaxUint64
	p.fault = err
	p.health.raise("wal", ReasonWALAppendFailing, err.Error())
	p.faultMu.Unlock()
}

// walSynced clears wal_append_failing once the blocks heal appended are
// durable.
func (p *Pipeline) walSynced(durable uint64) {
	p.faultMu.Lock()
	if p.healAt != 0 && durable >= p.healAt {
		p.healAt = 0
		p.health.clear("wal", ReasonWALAppendFailing)
	}
	p.faultMu.Unlock()
}

// waitForSyncer blocks while the blocks not yet durable hold
// maxPendingBytes, so the memory kept for healing stays bounded. It heals
// the WAL if the syncer reports a failed fsync meanwhile, and returns false
// if that gives up because the pipeline stops.
func (p *Pipeline) waitForSyncer() bool {
	for {
		p.posMu.Lock()
		n := p.pendingBytes
		p.posMu.Unlock()
		if n < maxPendingBytes {
			return true
		}
		select {
		case <-p.synced:
		case <-p.walFault:
			if !p.heal() {
				return false
			}
		}
	}
}

// checkNearlyFull raises wal_over_90pct_of_max_bytes while the WAL holds
// 90% of MaxBytes or more, and clears it below. Called by the writer after
// each append and when retention freed space; it costs one atomic load
// unless the state changes.
func (p *Pipeline) checkNearlyFull() {
	full := p.log.Size() >= p.opts.MaxBytes-p.opts.MaxBytes/10
	if full == p.nearlyFull {
		return
	}
	p.nearlyFull = full
	detail := ""
	if full {
		detail = fmt.Sprintf("wal holds %d of wal.max_bytes %d bytes; at 100%% full_policy applies", p.log.Size(), p.opts.MaxBytes)
	}
	p.health.set("wal", ReasonWALNearlyFull, full, detail)
}

// waitForSpace blocks while the WAL is at its size cap (full_policy block):
// the sources wait, and the files they tail hold the backlog. It returns
// false if the pipeline stops meanwhile. It logs nothing: the WAL is over
// 90% of its cap, so wal_over_90pct_of_max_bytes is raised, and
// logcapturer_wal_full is 1 while it waits.
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
	p.checkNearlyFull()
	p.m.walFull.Set(1)
	defer p.m.walFull.Set(0)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for p.log.Size() >= p.opts.MaxBytes {
		select {
		case <-p.spaceFreed:
		case <-t.C:
			if p.opts.FullPolicy == FullDropOldest {
				p.dropOldest()
			}
		case <-p.walFault:
			if !p.heal() {
				return false
			}
		case <-p.stopIngest:
			return false
		}
	}
	p.checkNearlyFull()
	return true
}

// runSyncer makes appended blocks durable: one fsync covers every block
// appended since the last one. Only then may sinks read them and may their
// positions be checkpointed. A failed fsync is not retried: the writer is
// told to heal the WAL (which cuts it back to its durable index and
// appends the rest again) and wakes the syncer when it has.
func (p *Pipeline) runSyncer() {
	defer p.ingestWG.Done()
	var tick <-chan time.Time
	if p.opts.Sync == SyncInterval {
		t := time.NewTicker(p.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		done := false
		select {
		case <-p.syncWake:
			if p.opts.Sync == SyncInterval {
				continue
			}
		case <-tick:
		case <-p.writerDone:
			done = true
		}
		if err := p.syncOnce(); err != nil {
			p.walFailed(err)
			p.failUnsynced(err)
			notify(p.walFault)
		}
		if done {
			return
		}
	}
}

// syncOnce fsyncs what was appended and publishes it as durable: no
// further than the WAL's own durable index, so nothing a failed fsync
// covered is ever published.
func (p *Pipeline) syncOnce() error {
	target := p.appended.Load()
	if target > p.durable.Load() {
		if p.opts.Sync != SyncNone {
			if err := p.log.Sync(); err != nil {
				return err
			}
			target = min(target, p.log.DurableIndex())
		}
		if target > p.durable.Load() {
			p.publish(target)
		}
	}
	p.walSynced(p.durable.Load())
	notify(p.synced)
	return nil
}

// publish makes the blocks up to target visible to sinks and their
// positions eligible for the checkpoint, lets go of their data, and fires
// the completions of the push records among them (nil: durable).
func (p *Pipeline) publish(target uint64) {
	p.posMu.Lock()
	n := 0
	var dones []func(error)
	for _, pp := range p.pending {
		if pp.index > target {
			break
		}
		if pp.hasPos {
			p.dirtyPos[pp.key] = pp.val
		}
		if pp.done != nil {
			dones = append(dones, pp.done)
		}
		p.pendingBytes -= len(pp.data)
		// The WAL copied the block, and nothing else holds it: the
		// source may encode its next block into these bytes (not into a
		// compressed block's, whose size fits that block only).
		if !wal.Compressed(pp.data) {
			sources.ReleaseBlockBuffer(pp.data)
		}
		n++
	}
	rest := copy(p.pending, p.pending[n:])
	clear(p.pending[rest:]) // drop the references to published data
	p.pending = p.pending[:rest]
	p.posIndex = target
	p.posMu.Unlock()
	p.durable.Store(target)
	p.m.durableIndex.Set(float64(target))
	for _, d := range dones {
		d(nil)
	}
	for _, sl := range p.loops {
		notify(sl.wake)
	}
	notify(p.commitWake)
}

// dropOldest deletes the oldest WAL segment (full_policy drop_oldest). Every
// sink that had not delivered its blocks counts their entries as dropped
// with reason wal_full; retry ranges and dead letters inside it are dropped
// too. It first has the committer checkpoint the positions of the blocks it
// deletes (commitNow). It returns false when only the tail segment is
// left, or the checkpoint could not be written.
func (p *Pipeline) dropOldest() bool {
	segs := p.log.Segments()
	if len(segs) < 2 {
		return false
	}
	cut := segs[1].FirstIndex
	// The positions of the blocks about to go must be in the checkpoint
	// first: a crash before the next commit would otherwise find neither
	// (the blocks gone, the checkpoint older) and read those files again.
	if p.checkpoint.Load()+1 < cut {
		if err := p.commitNow(context.Background()); err != nil || p.checkpoint.Load()+1 < cut {
			return false // state_commit_failing says why; retried at the next tick
		}
	}
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
			if buf, err = rd.Read(buf, i); err != nil || wal.DecodeReadBlock(buf, &blk) != nil {
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
	if !p.truncated(p.log.TruncateFront(cut)) {
		return false
	}
	p.logger.Warn("wal full: dropped the oldest segment (full_policy drop_oldest)", "below", cut)
	return true
}
