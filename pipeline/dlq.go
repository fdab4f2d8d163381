package pipeline

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/wal"
)

// DeadLetters returns the sink's dead-letter ranges in index order. Safe for
// concurrent use.
func (p *Pipeline) DeadLetters(sink string) []retry.DeadLetter {
	return p.sched.DeadLetters(sink)
}

// ReplayDLQ moves the sink's dead letters starting at index from (usually
// one; several when the same blocks were refused again after a restart;
// every one when from is 0) back to the retry queue, due now with fresh attempts: do
// it once the cause is fixed. It returns how many ranges moved. A dead
// letter with a selection (retry.Picks) resends only the selected entries.
func (p *Pipeline) ReplayDLQ(sink string, from uint64) (int, error) {
	return p.sched.Replay(sink, from)
}

// PurgeDLQ deletes the sink's dead letters starting at from (every one
// when from is 0); the WAL may then delete their blocks. It returns how many.
func (p *Pipeline) PurgeDLQ(sink string, from uint64) (int, error) {
	return p.sched.Purge(sink, from)
}

// DeadLetterEntry is one entry a dead letter holds.
type DeadLetterEntry struct {
	Index  uint64 // WAL index of its block
	Entry  int    // its place in the block
	Source string
	Labels []wal.Label // the block's labels
	Time   time.Time   // UTC
	Line   []byte      // valid during the callback only
}

// DeadLetterEntries calls fn, in WAL order, with each entry the sink's dead
// letter d holds: its selected entries when it has a selection (a partial
// rejection), else every entry of its blocks routed to the sink. It stops at
// fn's first error and returns it. Blocks the WAL no longer has, or that
// fail their checksum, are skipped. Safe for concurrent use while the
// pipeline runs.
func (p *Pipeline) DeadLetterEntries(sink string, d retry.DeadLetter, fn func(DeadLetterEntry) error) error {
	var routes map[string]bool
	found := false
	for _, sl := range p.loops {
		if sl.name == sink {
			routes, found = sl.routes, true
		}
	}
	if !found {
		return fmt.Errorf("unknown sink %q", sink)
	}
	return deadLetterEntries(p.log, d, routes, fn)
}

// ReadDeadLetterEntries is DeadLetterEntries for a stopped logcapturer:
// it opens the WAL in dataDir (repairing a torn tail, as a start would) and
// calls fn with each entry of each of ds, in order, with the index in ds of
// its dead letter. Without the
// configuration it cannot tell which sources were routed to the sink: a
// dead letter without a selection lists every entry of its blocks. The
// caller must hold the data directory (state.db open), so that no
// logcapturer runs on it meanwhile.
func ReadDeadLetterEntries(dataDir string, ds []retry.DeadLetter, fn func(int, DeadLetterEntry) error) error {
	dir := filepath.Join(dataDir, "wal")
	l, err := wal.Open(dir, nil)
	if err != nil {
		return err
	}
	for i, d := range ds {
		if err = deadLetterEntries(l, d, nil, func(e DeadLetterEntry) error { return fn(i, e) }); err != nil {
			break
		}
	}
	if cerr := l.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close wal %s: %w", dir, cerr)
	}
	return err
}

func deadLetterEntries(l *wal.Log, d retry.DeadLetter, routes map[string]bool, fn func(DeadLetterEntry) error) error {
	rd := l.NewReader()
	defer rd.Close()
	picks := d.Picks.Slice()
	var (
		buf []byte
		blk wal.Block
		err error
	)
	for idx := d.From; idx <= d.To && idx >= d.From; idx++ {
		var runs []retry.Pick
		if picks != nil {
			for len(picks) > 0 && picks[0].Index < idx {
				picks = picks[1:]
			}
			n := 0
			for n < len(picks) && picks[n].Index == idx {
				n++
			}
			if n == 0 {
				continue
			}
			runs = picks[:n]
		}
		buf, err = rd.Read(buf, idx)
		var ce *wal.CorruptionError
		switch {
		case errors.Is(err, wal.ErrNotFound), errors.As(err, &ce):
			continue
		case err != nil:
			return fmt.Errorf("read wal block %d: %w", idx, err)
		}
		if wal.DecodeReadBlock(buf, &blk) != nil || routes != nil && !routes[blk.Source] {
			continue
		}
		emit := func(i int) error {
			e := blk.Entries[i]
			return fn(DeadLetterEntry{Index: idx, Entry: i, Source: blk.Source, Labels: blk.Labels,
				Time: time.Unix(0, e.Time).UTC(), Line: e.Line})
		}
		if runs == nil {
			for i := range blk.Entries {
				if err := emit(i); err != nil {
					return err
				}
			}
			continue
		}
		for _, r := range runs {
			for i := r.First; i < r.First+r.Count && i < len(blk.Entries); i++ {
				if err := emit(i); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
