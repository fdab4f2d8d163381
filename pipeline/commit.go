package pipeline

import (
	"context"
	"time"

	"github.com/logcapturer/logcapturer/sources"
)

// idleCommitInterval is the committer's period while everything is
// delivered and committed: an idle pipeline wakes once a second instead
// of every CommitInterval. New durable blocks wake it at once.
const idleCommitInterval = time.Second

// runCommitter writes cursors and positions to state.db every
// CommitInterval (one transaction for all sinks and sources), then deletes
// the WAL segments that every sink has settled. It is the only writer of
// state.db and the only caller of TruncateFront. While the pipeline is
// quiet (see quiet) it runs every idleCommitInterval, until publish wakes
// it.
func (p *Pipeline) runCommitter(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTimer(p.opts.CommitInterval)
	defer t.Stop()
	idle := false
	var lastExpire, lastPrune time.Time
	for {
		select {
		case <-t.C:
		case <-p.commitWake:
			if !idle {
				continue // the next tick comes within CommitInterval
			}
		case reply := <-p.commitReq:
			reply <- p.commit()
			continue
		case <-ctx.Done():
			return
		}
		next := p.opts.CommitInterval
		if err := p.commit(); err != nil {
			// Retried every tick: one condition, not a line per tick.
			p.m.stateErrors.Inc()
			p.health.raise("state", ReasonStateCommitFailing, err.Error())
			idle = false
			t.Reset(next)
			continue
		}
		p.health.clear("state", ReasonStateCommitFailing)
		if time.Since(lastPrune) >= time.Minute {
			lastPrune = time.Now()
			if n, err := p.st.prunePositions(p.log.FirstIndex(), p.fileAlive()); err != nil {
				p.logger.Error("prune positions", "err", err)
			} else if n > 0 {
				p.logger.Debug("pruned positions", "deleted", n)
			}
		}
		if time.Since(lastExpire) >= time.Second {
			lastExpire = time.Now()
			p.sched.Expire(p.opts.DLQMaxBytes, p.opts.DLQMaxAge)
		}
		p.retain()
		durable := p.durable.Load()
		now := time.Now()
		for _, sl := range p.loops {
			sl.evaluate(now, durable, p.opts.UnreadyAfter)
		}
		if idle = p.quiet(); idle {
			next = idleCommitInterval
		}
		t.Reset(next)
	}
}

// quiet reports whether there is nothing for the committer to do until
// new blocks arrive: every appended block durable, every sink's cursor
// committed at the durable index, no retry range, no position left to
// write. Called by the committer after a commit.
func (p *Pipeline) quiet() bool {
	durable := p.durable.Load()
	if p.appended.Load() != durable {
		return false
	}
	for _, sl := range p.loops {
		if sl.committed < durable {
			return false
		}
		if n, _, _ := p.sched.Stats(sl.name); n > 0 {
			return false
		}
	}
	p.posMu.Lock()
	defer p.posMu.Unlock()
	return len(p.dirtyPos) == 0 && p.posIndex <= p.checkpoint.Load()
}

// commit saves the sinks' settled cursors and the durable positions. Cursors
// only cover fsynced blocks (sinks never read past the durable index), and
// positions are taken only from fsynced blocks.
func (p *Pipeline) commit() error {
	cursors := make(map[string]uint64)
	settled := make([]uint64, len(p.loops))
	durable := p.durable.Load()
	now := time.Now()
	for i, sl := range p.loops {
		settled[i] = sl.cursor()
		if settled[i] != sl.committed {
			cursors[sl.name] = settled[i]
		}
		if settled[i] != sl.committed || settled[i] >= durable || sl.progressAt.IsZero() {
			sl.progressAt = now
		}
		age := now.Sub(sl.progressAt)
		if n, _, oldest := p.sched.Stats(sl.name); n > 0 {
			age = max(age, now.Sub(oldest))
		}
		p.publishLag(sl, durable, age)
	}
	p.posMu.Lock()
	var positions map[posKey]posVal
	if len(p.dirtyPos) > 0 {
		positions, p.dirtyPos = p.dirtyPos, make(map[posKey]posVal)
	}
	posIndex := p.posIndex
	p.posMu.Unlock()
	checkpoint := uint64(0)
	if posIndex > p.checkpoint.Load() {
		checkpoint = posIndex
	}
	if len(cursors) == 0 && len(positions) == 0 && checkpoint == 0 {
		return nil
	}
	start := time.Now()
	if err := p.st.save(cursors, positions, checkpoint); err != nil {
		// Put the positions back unless newer ones replaced them.
		p.posMu.Lock()
		for k, v := range positions {
			if _, ok := p.dirtyPos[k]; !ok {
				p.dirtyPos[k] = v
			}
		}
		p.posMu.Unlock()
		return err
	}
	p.m.stateCommits.Inc()
	p.m.stateDuration.Observe(time.Since(start).Seconds())
	for i, sl := range p.loops {
		sl.committed = settled[i]
		p.m.sinkCursor.WithLabelValues(sl.name).Set(float64(settled[i]))
	}
	if checkpoint > 0 {
		p.checkpoint.Store(checkpoint)
	}
	return nil
}

// retainBatch and retainBytes are how many deletable segments, holding at
// least how many bytes, retain lets gather while the WAL is being appended
// to. tidwall's TruncateFront loads and rewrites the segment at the cut
// (read, write, fsync and rename of one segment), so a cut per finished
// segment cost about 9% of the CPU of a fast stream; batching keeps that
// cost, and its transient segment load, to one per 32MiB of 1MiB segments
// (8 of larger ones). Half of wal.max_bytes, or an idle WAL, cuts at once.
const (
	retainBatch = 8
	retainBytes = 32 << 20
)

// retain deletes the WAL segments below the lowest committed cursor, retry
// range and dead letter, and the positions checkpoint. It cuts only at the
// first index of a segment that is not the tail, so a truncation deletes
// files and rewrites nothing but the first kept segment; and it cuts once
// retainBatch segments holding retainBytes are deletable, or sooner when
// nothing was appended since its last pass (an idle or slow WAL gets its
// disk back at once) or the WAL holds half of MaxBytes or more.
func (p *Pipeline) retain() {
	if p.pinned.Load() {
		return // a rewind is moving a cursor
	}
	low := p.checkpoint.Load()
	for _, sl := range p.loops {
		low = min(low, sl.committed)
		if from, ok := p.sched.Low(sl.name); ok {
			low = min(low, from-1)
		}
	}
	first, last := p.log.FirstIndex(), p.log.LastIndex()
	// Never cut at the tail's own start: tidwall would rewrite the whole
	// tail file. At most one settled segment besides the tail stays.
	var cut uint64
	deletable := 0
	var deletableBytes, size int64
	segs := p.log.Segments()
	for i, s := range segs[:len(segs)-1] {
		if s.FirstIndex > first && s.FirstIndex <= low+1 && s.FirstIndex <= last {
			cut, deletable, deletableBytes = s.FirstIndex, i, size
		}
		size += s.Size
	}
	appended := p.appended.Load()
	idle := appended == p.retainSeen
	p.retainSeen = appended
	if cut == 0 {
		p.health.clear("wal", ReasonWALRetentionFailing) // nothing left to delete
		return
	}
	if !retainDue(deletable, deletableBytes, idle, p.log.Size(), p.opts.MaxBytes) {
		return
	}
	start := time.Now()
	if !p.truncated(p.log.TruncateFront(cut)) {
		return
	}
	p.logger.Debug("deleted delivered wal segments", "below", cut, "segments", deletable, "took", time.Since(start))
	notify(p.spaceFreed)
}

// retainDue reports whether retain cuts now, deletable segments holding
// deletableBytes being deletable in a WAL of size bytes.
func retainDue(deletable int, deletableBytes int64, idle bool, size, maxBytes int64) bool {
	return deletable >= retainBatch && deletableBytes >= retainBytes || idle || size >= maxBytes/2
}

// truncated accounts for a TruncateFront (retention's or drop_oldest's):
// a failure is counted and raises wal_retention_failing (one log line when
// it starts, one when it ends, however often the next passes fail); a
// success clears it and is counted. A failure that left the log needing a
// reopen wakes the writer to heal it, so an idle WAL heals too. It reports
// whether err is nil.
func (p *Pipeline) truncated(err error) bool {
	if err != nil {
		p.m.truncateErrors.Inc()
		p.health.raise("wal", ReasonWALRetentionFailing, err.Error())
		if p.log.Err() != nil {
			// The failure left the log needing a reopen (tidwall flags
			// itself corrupt): the writer heals it, appends or not.
			notify(p.walFault)
		}
		return false
	}
	p.health.clear("wal", ReasonWALRetentionFailing)
	p.m.truncations.Inc()
	return true
}

// fileAlive returns what prunePositions asks of each position it could
// delete: whether its file still exists. A file exists while a source
// reports it (open, idle or draining, under whatever name) or while a file
// with its device and inode is at its path or in its path's directory
// (renamed by rotation while no source had it open yet).
func (p *Pipeline) fileAlive() func(posKey, posVal) bool {
	tracked := make(map[[2]string]bool)
	for _, s := range p.sourceStatus() {
		for _, f := range s.Files {
			tracked[identity(posKey{Source: s.Name, FileID: f.FileID})] = true
		}
	}
	finder := sources.NewFileFinder()
	return func(k posKey, v posVal) bool {
		return tracked[identity(k)] || finder.Exists(v.Path, k.FileID)
	}
}
