package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// Offline is a view of the data directory of a logcapturer that is not
// running: the status, dead letters and WAL entries the admin API shows,
// read from state.db and the WAL, and the dead-letter replay and purge of
// a stopped process (picked up at its next start). It holds the data
// directory's lock, as a running pipeline does, so the two never mix.
// Not safe for concurrent use.
type Offline struct {
	dir   string
	st    *state
	store *retry.Store
	log   *wal.Log // nil: the data directory has no WAL
	sinks []string
}

// ErrNoState is returned (wrapped) by OpenOffline for a directory without
// state.db.
var ErrNoState = errors.New("no state.db")

// OpenOffline opens dir read-mostly: it fails when dir has no state.db
// (it creates nothing), and when a running logcapturer holds it. Opening
// the WAL repairs a torn tail exactly as the next start would.
func OpenOffline(dir string) (*Offline, error) {
	path := filepath.Join(dir, "state.db")
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a logcapturer data directory: %w in it (nothing was created)", dir, ErrNoState)
		}
		return nil, fmt.Errorf("open data dir %s: %w", dir, err)
	}
	st, err := openState(path)
	if errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("data dir %s is in use by a running logcapturer (state.db locked): ask it through the admin API (--addr), or stop it first", dir)
	}
	if err != nil {
		return nil, err
	}
	o := &Offline{dir: dir, st: st, store: retry.NewStore(st.db)}
	walDir := filepath.Join(dir, "wal")
	if _, err := os.Stat(walDir); err == nil {
		if o.log, err = wal.Open(walDir, &wal.Options{SegmentCacheSize: 1}); err != nil {
			st.close()
			return nil, fmt.Errorf("open wal %s: %w", walDir, err)
		}
	}
	if o.sinks, err = o.sinkNames(); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

// Close releases the WAL and state.db. Safe to call twice.
func (o *Offline) Close() error {
	var errs []error
	if o.log != nil {
		errs = append(errs, o.log.Close())
		o.log = nil
	}
	if o.st != nil {
		errs = append(errs, o.st.close())
		o.st = nil
	}
	return errors.Join(errs...)
}

// sinkNames lists the sinks state.db knows: those with a cursor, retry
// ranges or dead letters.
func (o *Offline) sinkNames() ([]string, error) {
	cursors, _, _, err := o.st.load()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(cursors))
	for n := range cursors {
		names = append(names, n)
	}
	more, err := o.store.Sinks()
	if err != nil {
		return nil, fmt.Errorf("list sinks in state.db: %w", err)
	}
	for _, n := range more {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// SinkNames returns the sinks state.db knows, sorted.
func (o *Offline) SinkNames() []string { return slices.Clone(o.sinks) }

// CheckSink returns an *UnknownSinkError for a sink state.db does not know.
func (o *Offline) CheckSink(name string) error {
	if slices.Contains(o.sinks, name) {
		return nil
	}
	return &UnknownSinkError{Name: name, Known: o.SinkNames()}
}

func (o *Offline) walView() (walView, error) {
	if o.log == nil {
		return walView{}, fmt.Errorf("data dir %s has no wal", o.dir)
	}
	return walView{log: o.log, durable: o.log.LastIndex}, nil
}

// Status is what the data directory tells of the stopped pipeline. Every
// sink is "stopped"; lag counts every source's entries (routes live in the
// config), reading the WAL after the lowest cursor once; files show their
// stored position against their size now.
func (o *Offline) Status() (Status, error) {
	cursors, positions, _, err := o.st.load()
	if err != nil {
		return Status{}, err
	}
	st := Status{Offline: true, DataDir: o.dir, Sinks: []SinkStatus{}, Sources: o.sources(positions),
		Ready:    ReadyStatus{Status: "not_ready", Reasons: []Condition{{Component: "pipeline", Reason: ReasonNotRunning}}},
		Warnings: []Condition{}}
	var last uint64
	if o.log != nil {
		last = o.log.LastIndex()
		st.WAL = WALStatus{FirstIndex: o.log.FirstIndex(), LastIndex: last, DurableIndex: last,
			Segments: len(o.log.Segments()), Bytes: o.log.Size()}
	}
	low := last
	for _, n := range o.sinks {
		low = min(low, cursors[n])
	}
	if o.log != nil {
		low = max(low, o.log.FirstIndex()-1)
	}
	c := newCounts(o.sinks, make([]map[string]bool, len(o.sinks)), low)
	if o.log != nil {
		if err := c.seed(o.log, last); err != nil {
			return Status{}, err
		}
	}
	for _, n := range o.sinks {
		rs, ds, err := o.store.Load(n)
		if err != nil {
			return Status{}, err
		}
		cur := cursors[n]
		s := SinkStatus{Name: n, Cursor: cur, State: SinkStopped, LagExact: true}
		if last > cur {
			s.LagBlocks = last - cur
		}
		t, exact := c.between(n, cur, last)
		s.LagEntries, s.LagBytes, s.LagExact = t.Entries, t.Bytes, exact
		var oldest time.Time
		for _, r := range rs {
			s.RetryRanges++
			s.RetryEntries += r.Entries
			s.LagEntries += int64(r.Entries)
			s.LagBytes += int64(r.Bytes)
			s.LagBlocks += r.To - r.From + 1
			if oldest.IsZero() || r.FirstFailure.Before(oldest) {
				oldest = r.FirstFailure
			}
			if s.LastError == "" || r.FirstFailure.Equal(oldest) {
				s.LastError = r.LastError
			}
		}
		for _, d := range ds {
			s.DLQRanges++
			s.DLQEntries += d.Entries
		}
		st.Sinks = append(st.Sinks, s)
	}
	return st, nil
}

// sources groups the stored positions by source: the newest position of
// each path, against the file's size now.
func (o *Offline) sources(positions map[posKey]posVal) []SourceStatus {
	type pk struct{ source, path string }
	newest := map[pk]posKey{}
	for k, v := range positions {
		id := pk{k.Source, v.Path}
		if old, ok := newest[id]; !ok || v.Index > positions[old].Index {
			newest[id] = k
		}
	}
	bySource := map[string][]sources.FileStatus{}
	for id, k := range newest {
		v := positions[k]
		fs := sources.FileStatus{Path: v.Path, FileID: k.FileID, Offset: v.Offset, State: SinkStopped}
		if fi, err := os.Stat(v.Path); err == nil {
			fs.Size = fi.Size()
			fs.LagBytes = max(0, fs.Size-fs.Offset)
		}
		bySource[id.source] = append(bySource[id.source], fs)
	}
	out := make([]SourceStatus, 0, len(bySource))
	for name, files := range bySource {
		sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
		out = append(out, SourceStatus{Name: name, Files: files})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DLQ returns the dead letters of sink (every sink when ""), in sink and
// index order.
func (o *Offline) DLQ(sink string) ([]DeadLetter, error) {
	names := o.sinks
	if sink != "" {
		if err := o.CheckSink(sink); err != nil {
			return nil, err
		}
		names = []string{sink}
	}
	out := []DeadLetter{}
	for _, n := range names {
		_, ds, err := o.store.Load(n)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			v := deadLetterView(n, d)
			v.Expired = o.log == nil || d.From < o.log.FirstIndex()
			out = append(out, v)
		}
	}
	return out, nil
}

// DLQEntries returns the sink's (first) dead letter starting at from and
// up to limit of its entries (of every source: routes live in the config).
func (o *Offline) DLQEntries(sink string, from uint64, limit int) (DeadLetter, []Entry, error) {
	if err := o.CheckSink(sink); err != nil {
		return DeadLetter{}, nil, err
	}
	_, ds, err := o.store.Load(sink)
	if err != nil {
		return DeadLetter{}, nil, err
	}
	var known []uint64
	for _, d := range ds {
		if d.From != from {
			known = append(known, d.From)
			continue
		}
		view := deadLetterView(sink, d)
		if o.log == nil || d.From < o.log.FirstIndex() {
			view.Expired = true
			return view, nil, fmt.Errorf("dead letter %d of sink %s has expired: its wal blocks were deleted while the sink was not in the config; "+
				"the sink's next start drops it (or purge it: dlq purge --sink %s --from %d)", d.From, sink, sink, d.From)
		}
		v, err := o.walView()
		if err != nil {
			return view, nil, err
		}
		es, err := v.entries(d.From, d.To, 0, limit, nil, picked(d.Picks))
		return view, es, err
	}
	return DeadLetter{}, nil, &NotFoundError{What: fmt.Sprintf("dead letter %d of sink %s", from, sink), Known: known}
}

// ReplayDLQ queues the sink's dead letters starting at from (every one when
// from is 0; every sink's when sink is "") for another try at the next
// start. It returns how many it queued.
func (o *Offline) ReplayDLQ(sink string, from uint64) (int, error) {
	return o.removeDead(sink, from, true)
}

// PurgeDLQ deletes dead letters as ReplayDLQ selects them.
func (o *Offline) PurgeDLQ(sink string, from uint64) (int, error) {
	return o.removeDead(sink, from, false)
}

func (o *Offline) removeDead(sink string, from uint64, replay bool) (int, error) {
	names := o.sinks
	if sink != "" {
		if err := o.CheckSink(sink); err != nil {
			return 0, err
		}
		names = []string{sink}
	}
	total := 0
	var known []uint64
	for _, n := range names {
		_, ds, err := o.store.Load(n)
		if err != nil {
			return total, err
		}
		var picked []retry.DeadLetter
		for _, d := range ds {
			known = append(known, d.From)
			if from == 0 || d.From == from {
				picked = append(picked, d)
			}
		}
		if len(picked) == 0 {
			continue
		}
		if _, err := o.store.RemoveDead(n, picked, replay, time.Now().UTC()); err != nil {
			return total, err
		}
		total += len(picked)
	}
	if from != 0 && total == 0 {
		return 0, &NotFoundError{What: fmt.Sprintf("dead letter %d", from), Known: known}
	}
	return total, nil
}

// WALEntries decodes up to limit entries from block from.
func (o *Offline) WALEntries(from uint64, limit int) ([]Entry, error) {
	v, err := o.walView()
	if err != nil {
		return nil, err
	}
	return v.entriesFrom(from, limit)
}

// WALEntriesAt decodes up to limit entries from the first at or after t.
func (o *Offline) WALEntriesAt(t time.Time, limit int) ([]Entry, error) {
	v, err := o.walView()
	if err != nil {
		return nil, err
	}
	return v.entriesAt(t, limit)
}

// RewindToIndex moves the stopped sink's cursor so that the next block it
// delivers, once logcapturer starts, is index; the same range as the
// running pipeline's (the WAL's first index to its end + 1, else a
// *RangeError); *UnknownSinkError for a sink state.db does not know. The
// cursor is written to state.db at once; retry ranges and dead letters
// stay as they are. Skipped counts the entries of every source a forward
// move skips (routes live in the config); nothing is added to a metric.
func (o *Offline) RewindToIndex(sink string, index uint64) (RewindResult, error) {
	return o.rewind(sink, func(v walView) (uint64, error) {
		i, _, _, err := v.locateIndex(index)
		return i, err
	})
}

// RewindToTime moves the stopped sink's cursor to the block holding the
// first entry at or after t (the search of Pipeline.RewindToTime). Unlike a
// running sink's, that block is sent whole: the entries before t in it
// are sent again too (Index and FirstTime say where delivery starts).
func (o *Offline) RewindToTime(sink string, t time.Time) (RewindResult, error) {
	return o.rewind(sink, func(v walView) (uint64, error) {
		i, _, _, err := v.locateTime(t)
		return i, err
	})
}

// RewindToOldest moves the stopped sink's cursor to the oldest block the
// WAL holds.
func (o *Offline) RewindToOldest(sink string) (RewindResult, error) {
	return o.rewind(sink, func(v walView) (uint64, error) { return v.log.FirstIndex(), nil })
}

// RewindToNewest moves the stopped sink's cursor past the newest block: it
// delivers only what is appended after its next start.
func (o *Offline) RewindToNewest(sink string) (RewindResult, error) {
	return o.rewind(sink, func(v walView) (uint64, error) { return v.durable() + 1, nil })
}

func (o *Offline) rewind(sink string, locate func(walView) (uint64, error)) (RewindResult, error) {
	if err := o.CheckSink(sink); err != nil {
		return RewindResult{}, err
	}
	v, err := o.walView()
	if err != nil {
		return RewindResult{}, err
	}
	index, err := locate(v)
	if err != nil {
		return RewindResult{}, err
	}
	index, _, at, err := v.locateIndex(index) // the block delivered first is sent whole
	if err != nil {
		return RewindResult{}, err
	}
	cursors, _, _, err := o.st.load()
	if err != nil {
		return RewindResult{}, err
	}
	res := RewindResult{Cursor: index - 1, Index: index, FirstTime: at, Previous: cursors[sink]}
	if res.Cursor > res.Previous {
		from := max(res.Previous, o.log.FirstIndex()-1)
		if err := scanCounts(o.log, from, res.Cursor, nil, func(_ uint64, _ string, t tally) { res.Skipped += t.Entries }); err != nil {
			return RewindResult{}, fmt.Errorf("count the skipped entries: %w", err)
		}
	}
	if err := o.st.save(map[string]uint64{sink: res.Cursor}, nil, 0); err != nil {
		return RewindResult{}, fmt.Errorf("store the cursor of sink %s: %w", sink, err)
	}
	return res, nil
}
