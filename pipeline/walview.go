package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/logcapturer/logcapturer/wal"
)

// Entry is one WAL entry decoded for people: the index of its block, its
// time, its source, its labels (its own label set when processing stages
// gave it one, else its block's stream labels), its structured metadata and
// its line. Line bytes that are not valid UTF-8 show as U+FFFD in JSON.
type Entry struct {
	Index    uint64            `json:"index"`
	Time     time.Time         `json:"time"`
	Source   string            `json:"source"`
	Labels   map[string]string `json:"labels"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Line     string            `json:"line"`
}

// labelMap is ls as a map (nil for none).
func labelMap(ls []wal.Label) map[string]string {
	if ls == nil {
		return nil
	}
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// MaxEntriesLimit bounds the entries one call decodes, and
// MaxEntriesBytes their line bytes: a call returns fewer entries than
// asked once the lines it holds reach it (lines may be up to
// max_line_bytes each).
const (
	MaxEntriesLimit = 10000
	MaxEntriesBytes = 16 << 20
)

// RangeError says a WAL index or time is outside what the WAL retains; it
// carries the retained range and which side of it was asked for. Blocks
// leave the WAL's start through retention (once every sink, retry and
// dead letter is past them, or over wal.max_bytes).
type RangeError struct {
	What       string // what was asked for: "index 5", "time 2026-12-01T10:00:00Z"
	After      bool   // What lies after the newest entry (else before the oldest)
	FirstIndex uint64
	LastIndex  uint64
	FirstTime  time.Time // of the first entry of the first block (zero: the WAL is empty)
	LastTime   time.Time // of the last entry of the last block
}

func (e *RangeError) Error() string {
	if e.LastIndex < e.FirstIndex {
		return fmt.Sprintf("%s is outside the wal: it is empty (next index %d)", e.What, e.FirstIndex)
	}
	oldest := fmt.Sprintf("index %d at %s", e.FirstIndex, e.FirstTime.Format(time.RFC3339Nano))
	newest := fmt.Sprintf("index %d at %s", e.LastIndex, e.LastTime.Format(time.RFC3339Nano))
	if e.After {
		return fmt.Sprintf("%s is outside the wal's retained range: it is after the newest entry, %s (the oldest is %s)", e.What, newest, oldest)
	}
	s := fmt.Sprintf("%s is outside the wal's retained range: it is before the oldest entry, %s (the newest is %s", e.What, oldest, newest)
	if e.FirstIndex > 1 {
		s += fmt.Sprintf("; blocks before %d were deleted by retention", e.FirstIndex)
	}
	return s + ")"
}

// NotFoundError is a dead letter that does not exist.
type NotFoundError struct {
	What  string
	Known []uint64 // the dead letters' first indexes
}

func (e *NotFoundError) Error() string {
	if len(e.Known) == 0 {
		return e.What + " does not exist: there are none"
	}
	s := e.What + " does not exist; dead letters start at"
	for i, k := range e.Known {
		if i == 20 {
			s += " …"
			break
		}
		s += fmt.Sprintf(" %d", k)
	}
	return s
}

// walView reads the durable part of a WAL for people: the running
// pipeline's and the offline view's.
type walView struct {
	log     *wal.Log
	durable func() uint64
}

// rangeError builds the RangeError for what (after: it lies after the
// newest entry, else before the oldest), reading the first and last
// blocks' times.
func (v walView) rangeError(what string, after bool) *RangeError {
	first, last := v.log.FirstIndex(), v.durable()
	e := &RangeError{What: what, After: after, FirstIndex: first, LastIndex: last}
	if last < first {
		return e
	}
	rd := v.log.NewReader()
	defer rd.Close()
	var blk wal.Block
	if buf, err := rd.Read(nil, first); err == nil && wal.DecodeReadBlock(buf, &blk) == nil && len(blk.Entries) > 0 {
		e.FirstTime = time.Unix(0, blk.Entries[0].Time).UTC()
	}
	if buf, err := rd.Read(nil, last); err == nil && wal.DecodeReadBlock(buf, &blk) == nil && len(blk.Entries) > 0 {
		e.LastTime = time.Unix(0, blk.Entries[len(blk.Entries)-1].Time).UTC()
	}
	return e
}

// locateTime finds the first entry whose time is at or after t: block
// index, the entries to skip in it, and the entry's time. Blocks are
// searched by their first entry's time, first over segments (one read
// each, at a segment's start), then block by block inside one segment, so
// it reads about log2(segments) + one segment's blocks. Entry times are
// the sources'; where they are not in WAL order (parsed timestamps, a late
// file) it finds a first entry at or after t in WAL order around the
// binary search's answer. A t before the first entry or after the last is
// a *RangeError.
func (v walView) locateTime(t time.Time) (index uint64, skip int, at time.Time, err error) {
	first, last := v.log.FirstIndex(), v.durable()
	what := "time " + t.UTC().Format(time.RFC3339Nano)
	if last < first {
		return 0, 0, time.Time{}, v.rangeError(what, false)
	}
	var starts []uint64
	for _, s := range v.log.Segments() {
		if s.FirstIndex > last {
			break
		}
		if st := max(s.FirstIndex, first); len(starts) == 0 || st > starts[len(starts)-1] {
			starts = append(starts, st)
		}
	}
	rd := v.log.NewReader()
	defer rd.Close()
	var (
		buf []byte
		blk wal.Block
	)
	// block reads index; ok is false for a block that cannot be read or has
	// no entries.
	block := func(i uint64) (bool, error) {
		buf, err = rd.Read(buf, i)
		var ce *wal.CorruptionError
		if errors.As(err, &ce) || errors.Is(err, wal.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read wal index %d: %w", i, err)
		}
		return wal.DecodeReadBlock(buf, &blk) == nil && len(blk.Entries) > 0, nil
	}
	// firstTime is the first entry's time of the first readable block at
	// or after i (up to end).
	firstTime := func(i, end uint64) (int64, bool, error) {
		for ; i <= end; i++ {
			ok, err := block(i)
			if err != nil {
				return 0, false, err
			}
			if ok {
				return blk.Entries[0].Time, true, nil
			}
		}
		return 0, false, nil
	}
	target := t.UnixNano()
	t0, ok, err := firstTime(first, last)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	if !ok || target < t0 {
		return 0, 0, time.Time{}, v.rangeError(what, false)
	}
	// The last segment whose first block starts before target.
	lo, hi := 0, len(starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		end := last
		if mid+1 < len(starts) {
			end = starts[mid+1] - 1
		}
		tm, ok, err := firstTime(starts[mid], end)
		if err != nil {
			return 0, 0, time.Time{}, err
		}
		if ok && tm < target {
			lo = mid
		} else if !ok {
			lo = mid // an unreadable segment: look right of it
		} else {
			hi = mid - 1
		}
	}
	for i := starts[lo]; i <= last; i++ {
		ok, err := block(i)
		if err != nil {
			return 0, 0, time.Time{}, err
		}
		if !ok {
			continue
		}
		for j, e := range blk.Entries {
			if e.Time >= target {
				return i, j, time.Unix(0, e.Time).UTC(), nil
			}
		}
	}
	return 0, 0, time.Time{}, v.rangeError(what, true)
}

// entries decodes up to limit entries of the blocks from..to (to 0: the
// durable end), skipping the first skip entries of block from, keeping
// only blocks whose source keep accepts (nil: all).
func (v walView) entries(from, to uint64, skip, limit int, keep func(source string) bool, pick func(index uint64, entry int) bool) ([]Entry, error) {
	last := v.durable()
	if to == 0 || to > last {
		to = last
	}
	out := make([]Entry, 0, min(limit, 256))
	size := 0
	rd := v.log.NewReader()
	defer rd.Close()
	var (
		buf []byte
		blk wal.Block
		err error
	)
	for i := from; i <= to && len(out) < limit && size < MaxEntriesBytes; i++ {
		buf, err = rd.Read(buf, i)
		var ce *wal.CorruptionError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read wal index %d: %w", i, err)
		}
		if wal.DecodeReadBlock(buf, &blk) != nil || (keep != nil && !keep(blk.Source)) {
			continue
		}
		labels := labelMap(blk.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		first := 0
		if i == from {
			first = min(skip, len(blk.Entries))
		}
		for j, e := range blk.Entries[first:] {
			if len(out) == limit || size >= MaxEntriesBytes {
				break
			}
			if pick != nil && !pick(i, first+j) {
				continue
			}
			size += len(e.Line)
			ent := Entry{Index: i, Time: time.Unix(0, e.Time).UTC(), Source: blk.Source, Labels: labels,
				Metadata: labelMap(e.Metadata), Line: string(e.Line)}
			if e.Labels != nil {
				ent.Labels = labelMap(e.Labels)
			}
			out = append(out, ent)
		}
	}
	return out, nil
}

// entriesFrom is WAL entries from index from: a *RangeError outside the
// durable WAL.
func (v walView) entriesFrom(from uint64, limit int) ([]Entry, error) {
	if first, last := v.log.FirstIndex(), v.durable(); from < first || from > last {
		return nil, v.rangeError(fmt.Sprintf("index %d", from), from > last)
	}
	return v.entries(from, 0, 0, limit, nil, nil)
}

// entriesAt is WAL entries from the first at or after t.
func (v walView) entriesAt(t time.Time, limit int) ([]Entry, error) {
	i, skip, _, err := v.locateTime(t)
	if err != nil {
		return nil, err
	}
	return v.entries(i, 0, skip, limit, nil, nil)
}

func (p *Pipeline) walView() walView {
	return walView{log: p.log, durable: p.durable.Load}
}

// WALEntries decodes up to limit entries from the block at index from; an
// index outside the durable WAL is a *RangeError. Safe for concurrent use;
// it reads the WAL with its own reader.
func (p *Pipeline) WALEntries(from uint64, limit int) ([]Entry, error) {
	return p.walView().entriesFrom(from, limit)
}

// WALEntriesAt decodes up to limit entries from the first whose time is at
// or after t (see RewindToTime for the search); a time outside the WAL is
// a *RangeError.
func (p *Pipeline) WALEntriesAt(t time.Time, limit int) ([]Entry, error) {
	return p.walView().entriesAt(t, limit)
}

// DLQEntries returns the sink's (first) dead letter starting at from and
// up to limit of its entries routed to the sink. Errors: *UnknownSinkError,
// *NotFoundError.
func (p *Pipeline) DLQEntries(sink string, from uint64, limit int) (DeadLetter, []Entry, error) {
	sl, err := p.loop(sink)
	if err != nil {
		return DeadLetter{}, nil, err
	}
	var known []uint64
	for _, d := range p.sched.DeadLetters(sink) {
		if d.From == from {
			var keep func(string) bool
			if sl.routes != nil {
				keep = func(s string) bool { return sl.routes[s] }
			}
			es, err := p.walView().entries(d.From, d.To, 0, limit, keep, picked(d.Picks))
			return deadLetterView(sink, d), es, err
		}
		known = append(known, d.From)
	}
	return DeadLetter{}, nil, &NotFoundError{What: fmt.Sprintf("dead letter %d of sink %s", from, sink), Known: known}
}
