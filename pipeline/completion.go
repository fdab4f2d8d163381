package pipeline

import (
	"errors"
	"fmt"

	"github.com/logcapturer/logcapturer/sources"
)

// ErrNotDurable is wrapped by the error a push record's completion
// (sources.Record.Done) fails with when the WAL append or the fsync that
// would have covered it failed: the record was dropped, and its client is
// to send it again.
var ErrNotDurable = errors.New("the wal could not make the record durable")

// Completions (sources.Record.Done) fire on the goroutine that decides the
// record's fate, never on one of their own:
//
//   - the syncer, in publish, once the fsync covering the record returned
//     (nil);
//   - the syncer, in failUnsynced, when the fsync that was to cover the
//     record failed: the WAL's reopen cuts it back to its durable index,
//     so the record is lost for certain and its client is told at once,
//     not after the heal (ErrNotDurable, wrapping the fsync's error);
//   - the writer, in reappend, when a failed append left the record out
//     of the WAL (ErrNotDurable, wrapping the fault);
//   - the writer, when it stops with the group it holds not appended, and
//     Close, for the records still queued or not durable (ErrClosed).
//
// Each pendingPos or queued record is completed by exactly one of these:
// whoever completes it clears it from pending (under posMu) or takes it
// from the queue first.

// completeAll fires the completions of recs with err.
func completeAll(recs []sources.Record, err error) {
	for i := range recs {
		if recs[i].Done != nil {
			recs[i].Done(err)
			recs[i].Done = nil
		}
	}
}

// failUnfinished fails with err every completion not fired yet: the
// records still queued and those pending (not durable). Close calls it
// after the writer and syncer stopped and no Emit is in progress.
func (p *Pipeline) failUnfinished(err error) {
	for {
		select {
		case rec := <-p.in:
			completeAll([]sources.Record{rec}, err)
			continue
		default:
		}
		break
	}
	p.posMu.Lock()
	var dones []func(error)
	for i := range p.pending {
		if d := p.pending[i].done; d != nil {
			dones = append(dones, d)
			p.pending[i].done = nil
		}
	}
	p.posMu.Unlock()
	for _, d := range dones {
		d(err)
	}
}

// failUnsynced fails the completions of the push records a failed fsync
// covered (index past the WAL's durable index): Reopen after a failed
// fsync cuts the WAL back to that index, so they are lost for certain. They
// stay in pending, their completion cleared, until reappend drops them.
// Called by the syncer.
func (p *Pipeline) failUnsynced(cause error) {
	durable := p.log.DurableIndex()
	var dones []func(error)
	p.posMu.Lock()
	for i := range p.pending {
		pp := &p.pending[i]
		if pp.push && pp.done != nil && pp.index > durable {
			dones = append(dones, pp.done)
			pp.done = nil
		}
	}
	p.posMu.Unlock()
	err := fmt.Errorf("%w: %w", ErrNotDurable, cause)
	for _, d := range dones {
		d(err)
	}
}

// dropPushRecords takes out of pending the push records the WAL does not
// hold (index > last, after a failed append or fsync and a reopen): they
// are failed, not appended again. The pending blocks after them move down
// to close the gap (none of them is in the WAL either), and the counts are
// redone from last. It returns the completions to fire, with the error to
// fire them with; the caller fires them after it has let go of posMu.
// Called by the writer, with posMu held.
func (p *Pipeline) dropPushRecords(last uint64) (dones []func(error), err error) {
	kept := p.pending[:0]
	var redo []sources.Record
	dropped := false
	for _, pp := range p.pending {
		if pp.index <= last {
			kept = append(kept, pp)
			continue
		}
		if pp.push {
			if pp.done != nil {
				dones = append(dones, pp.done)
			}
			p.pendingBytes -= len(pp.data)
			dropped = true
			continue
		}
		if dropped {
			pp.index = last + 1 + uint64(len(redo))
			pp.val.Index = pp.index
		}
		redo = append(redo, sources.Record{Source: pp.key.Source, Entries: pp.entries, Bytes: pp.bytes})
		kept = append(kept, pp)
	}
	clear(p.pending[len(kept):])
	p.pending = kept
	if !dropped {
		return nil, nil
	}
	p.counts.appended(last+1, redo, p.log.FirstIndex())
	p.faultMu.Lock()
	cause := p.fault
	p.faultMu.Unlock()
	if cause == nil {
		cause = errors.New("unknown fault")
	}
	return dones, fmt.Errorf("%w: %w", ErrNotDurable, cause)
}
