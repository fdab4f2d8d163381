package pipeline

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// tally is a number of entries and their line bytes.
type tally struct{ Entries, Bytes int64 }

func (t tally) add(u tally) tally { return tally{t.Entries + u.Entries, t.Bytes + u.Bytes} }
func (t tally) sub(u tally) tally { return tally{t.Entries - u.Entries, t.Bytes - u.Bytes} }

const (
	// countRing is how many of the newest blocks have exact per-block
	// counts: a sink fewer blocks than this behind has an exact lag.
	countRing = 1 << 14
	// maxMarks bounds the cumulative marks; past it the stride doubles.
	maxMarks    = 4096
	firstStride = 64
)

// blockCount is one block's entries and bytes and its source.
type blockCount struct {
	src            uint16
	entries, bytes uint32
}

// mark holds, per sink, the cumulative tally of the entries routed to it
// in the blocks (base, index].
type mark struct {
	index uint64
	cum   []tally
}

// counts is the sparse index that turns "entries and bytes a sink has not
// delivered" into a subtraction, without reading the backlog. Per sink it
// keeps cumulative tallies of routed entries: exact at the head, exact for
// the newest countRing blocks (per-block counts in a ring), and at marks
// every stride indexes further back, interpolated linearly by index
// between two marks. So a cursor within countRing blocks of the head gives
// an exact lag; one further back is off by at most the entries of one
// stride of blocks (stride starts at 64 and doubles whenever there would be
// more than maxMarks marks). Memory: the ring (12 bytes a block) plus
// maxMarks × sinks × 16 bytes.
//
// The writer feeds it (appended); Open seeds it from the lowest cursor up
// (seed), and a rewind below what it covers extends it downwards
// (extendDown). All methods are safe for concurrent use.
type counts struct {
	mu       sync.Mutex
	slots    map[string]int    // sink name -> slot
	routes   []map[string]bool // per slot: nil routes every source
	srcIDs   map[string]uint16
	srcRoute [][]bool // per source id, per slot

	base   uint64 // counted range is (base, head]; the tallies' origin is base
	head   uint64
	total  []tally // cumulative through head
	ring   []blockCount
	marks  []mark // ascending; every index a multiple of stride
	stride uint64
	// exactFrom is the lowest index with a ring entry.
	exactFrom uint64
}

// newCounts counts for the named sinks; routes[i] is sink i's sources (nil:
// every source). Counting starts after base.
func newCounts(names []string, routes []map[string]bool, base uint64) *counts {
	c := &counts{
		slots: make(map[string]int, len(names)), srcIDs: make(map[string]uint16),
		ring: make([]blockCount, countRing), stride: firstStride, routes: routes,
	}
	for i, n := range names {
		c.slots[n] = i
	}
	c.resetLocked(base)
	return c
}

func (c *counts) resetLocked(base uint64) {
	c.base, c.head, c.exactFrom = base, base, base+1
	c.total = make([]tally, len(c.routes))
	c.marks = c.marks[:0]
}

// srcID interns a source name. Called with mu held.
func (c *counts) srcID(name string) uint16 {
	if id, ok := c.srcIDs[name]; ok {
		return id
	}
	if len(c.srcRoute) >= 1<<16-1 {
		return uint16(len(c.srcRoute) - 1) // absurdly many sources: share the last id
	}
	id := uint16(len(c.srcRoute))
	c.srcIDs[name] = id
	r := make([]bool, len(c.routes))
	for i, routes := range c.routes {
		r[i] = routes == nil || routes[name]
	}
	c.srcRoute = append(c.srcRoute, r)
	return id
}

// appended counts the blocks of group, appended at indexes first… . An
// index at or below the head means the WAL took indexes back (a reopen
// after a failed append): the counts are cut back first.
func (c *counts) appended(first uint64, group []sources.Record, walFirst uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if first <= c.head {
		c.truncateLocked(first - 1)
	} else if first > c.head+1 {
		c.resetLocked(first - 1) // a gap: nothing before it is known
	}
	for i := range group {
		c.addLocked(c.srcID(group[i].Source), group[i].Entries, group[i].Bytes)
	}
	c.pruneLocked(walFirst)
}

func (c *counts) addLocked(src uint16, entries, bytes int) {
	c.head++
	c.ring[c.head%countRing] = blockCount{src: src, entries: uint32(entries), bytes: uint32(bytes)}
	c.exactFrom = max(c.exactFrom, c.head-min(c.head, countRing-1))
	for slot, ok := range c.srcRoute[src] {
		if ok {
			c.total[slot] = c.total[slot].add(tally{int64(entries), int64(bytes)})
		}
	}
	if c.head%c.stride == 0 {
		c.marks = append(c.marks, mark{index: c.head, cum: append([]tally(nil), c.total...)})
		if len(c.marks) > maxMarks {
			c.thinLocked()
		}
	}
}

// thinLocked doubles the stride and keeps the marks on it.
func (c *counts) thinLocked() {
	c.stride *= 2
	kept := c.marks[:0]
	for _, m := range c.marks {
		if m.index%c.stride == 0 {
			kept = append(kept, m)
		}
	}
	clear(c.marks[len(kept):])
	c.marks = kept
}

// truncateLocked forgets the blocks after to.
func (c *counts) truncateLocked(to uint64) {
	if to < c.base {
		c.resetLocked(to)
		return
	}
	for slot := range c.total {
		t, exact := c.cumLocked(slot, to)
		if !exact {
			c.resetLocked(to)
			return
		}
		c.total[slot] = t
	}
	n := sort.Search(len(c.marks), func(i int) bool { return c.marks[i].index > to })
	c.marks = c.marks[:n]
	c.head = to
}

// pruneLocked drops the marks no cursor can need any more: those below
// the WAL's first index, keeping the last one at or below it.
func (c *counts) pruneLocked(walFirst uint64) {
	n := 0
	for n+1 < len(c.marks) && c.marks[n+1].index < walFirst {
		n++
	}
	if n > 0 {
		c.marks = append(c.marks[:0], c.marks[n:]...)
	}
}

// routedLocked is block i's tally for slot (i must be in the ring).
func (c *counts) routedLocked(slot int, i uint64) tally {
	b := c.ring[i%countRing]
	if !c.srcRoute[b.src][slot] {
		return tally{}
	}
	return tally{int64(b.entries), int64(b.bytes)}
}

// cumLocked returns slot's cumulative tally through index i (base <= i <=
// head) and whether it is exact.
func (c *counts) cumLocked(slot int, i uint64) (tally, bool) {
	switch {
	case i >= c.head:
		return c.total[slot], true
	case i <= c.base:
		return tally{}, i == c.base
	}
	// The marks around i: lo at or below, hi above (or the head).
	k := sort.Search(len(c.marks), func(j int) bool { return c.marks[j].index > i })
	loIdx, lo := c.base, tally{}
	if k > 0 {
		loIdx, lo = c.marks[k-1].index, c.marks[k-1].cum[slot]
	}
	hiIdx, hi := c.head, c.total[slot]
	if k < len(c.marks) {
		hiIdx, hi = c.marks[k].index, c.marks[k].cum[slot]
	}
	if loIdx == i {
		return lo, true
	}
	if i >= c.exactFrom {
		// Walk down from hi (in the ring, being above i): at most a stride.
		t := hi
		for j := hiIdx; j > i; j-- {
			t = t.sub(c.routedLocked(slot, j))
		}
		return t, true
	}
	span := float64(hiIdx - loIdx)
	f := float64(i-loIdx) / span
	d := hi.sub(lo)
	return tally{lo.Entries + int64(f*float64(d.Entries)), lo.Bytes + int64(f*float64(d.Bytes))}, false
}

// between returns the tally routed to sink in the blocks (from, to], and
// whether it is exact. Parts outside what is counted count nothing.
func (c *counts) between(sink string, from, to uint64) (tally, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	slot, ok := c.slots[sink]
	if !ok || to <= from {
		return tally{}, ok
	}
	exact := true
	if from < c.base {
		from, exact = c.base, false
	}
	if to > c.head {
		to, exact = c.head, false
	}
	if to <= from {
		return tally{}, exact
	}
	hi, e1 := c.cumLocked(slot, to)
	lo, e2 := c.cumLocked(slot, from)
	return hi.sub(lo), exact && e1 && e2
}

// covered returns the lowest index after which blocks are counted.
func (c *counts) covered() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base
}

// countBlock decodes a WAL record's entries and line bytes; a block that
// does not decode counts nothing.
func countBlock(rec []byte, blk *wal.Block) (source string, t tally) {
	if wal.DecodeReadBlock(rec, blk) != nil {
		return "", tally{}
	}
	return blk.Source, tally{int64(len(blk.Entries)), int64(blk.Size())}
}

// scanCounts reads the blocks (from, to] of l in order and calls fn for
// each (a missing or corrupt block counts nothing).
func scanCounts(l *wal.Log, from, to uint64, stop <-chan struct{}, fn func(index uint64, source string, t tally)) error {
	rd := l.NewReader()
	defer rd.Close()
	var (
		buf []byte
		blk wal.Block
		err error
	)
	for i := from + 1; i <= to; i++ {
		if i%256 == 0 {
			select {
			case <-stop:
				return errStopped
			default:
			}
		}
		buf, err = rd.Read(buf, i)
		var ce *wal.CorruptionError
		switch {
		case errors.As(err, &ce), errors.Is(err, wal.ErrNotFound):
			fn(i, "", tally{})
			continue
		case err != nil:
			return fmt.Errorf("count wal index %d: %w", i, err)
		}
		src, t := countBlock(buf, &blk)
		fn(i, src, t)
	}
	return nil
}

// seed counts the blocks (base, last] from the WAL, block by block (exact):
// what the sinks have not delivered, for the offline status.
func (c *counts) seed(l *wal.Log, last uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return scanCounts(l, c.base, last, nil, func(_ uint64, src string, t tally) {
		c.addLocked(c.srcID(src), int(t.Entries), int(t.Bytes))
	})
}

// errStopped is returned by scanCounts when stop is closed.
var errStopped = errors.New("stopped")

// extendDown makes the counts cover (newBase, base] too, reading those
// blocks from the WAL (outside the lock), until stop is closed (nil: never).
// A rewind below what is counted calls it, and so does the pipeline's
// start for the backlog the sinks had when it opened.
func (c *counts) extendDown(l *wal.Log, newBase uint64, stop <-chan struct{}) error {
	c.mu.Lock()
	oldBase, stride, nslots := c.base, c.stride, len(c.routes)
	c.mu.Unlock()
	if newBase >= oldBase {
		return nil
	}
	cum := make([]tally, nslots)
	var marks []mark
	err := scanCounts(l, newBase, oldBase, stop, func(i uint64, src string, t tally) {
		c.mu.Lock()
		r := c.srcRoute[c.srcID(src)]
		c.mu.Unlock()
		for slot, ok := range r {
			if ok {
				cum[slot] = cum[slot].add(t)
			}
		}
		if i%stride == 0 && i < oldBase {
			marks = append(marks, mark{index: i, cum: append([]tally(nil), cum...)})
		}
	})
	if err != nil {
		return err
	}
	marks = append(marks, mark{index: oldBase, cum: cum})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base != oldBase {
		return nil // reset meanwhile (the WAL took indexes back): leave it
	}
	for slot := range c.total {
		c.total[slot] = c.total[slot].add(cum[slot])
	}
	for _, m := range c.marks[:len(c.marks)] {
		for slot := range m.cum {
			m.cum[slot] = m.cum[slot].add(cum[slot])
		}
	}
	c.marks = append(marks, c.marks...)
	c.base = newBase
	for len(c.marks) > maxMarks {
		c.thinLocked()
	}
	return nil
}
