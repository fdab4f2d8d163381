package pipeline

import (
	"errors"

	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/sinks"
)

// A partial success is a *sinks.Permanent with Refused set: the receiver
// holds the batch but for the entries named. Those, and only those, are
// filed (dead-lettered), as a retry.Picks of (WAL index, entry) runs; the
// rest count as sent. A retried or replayed range with Picks is read back
// and cut to them before it is sent (keepPicked), so a replay resends only
// what was refused, and a refusal of a cut batch maps back to WAL entries
// through the cut.

// narrow cuts r down to the entries err says the sink refused of b, and
// counts the others as sent. It leaves r as it is when err names no
// entries, names them all, or names entries b does not have (a sink bug,
// logged: the whole range is filed, which loses nothing).
func (sl *sinkLoop) narrow(r *retry.Range, b *batch, err error) {
	var p *sinks.Permanent
	if !errors.As(err, &p) || p.Refused == nil {
		return
	}
	var (
		runs           []retry.Pick
		entries, bytes int
	)
	for i, sp := range p.Refused {
		if sp.Block < 0 || sp.Block >= len(b.Blocks) || sp.First < 0 || sp.Count < 1 ||
			sp.Count > len(b.Blocks[sp.Block].Entries)-sp.First ||
			i > 0 && (sp.Block < p.Refused[i-1].Block || sp.Block == p.Refused[i-1].Block && sp.First < p.Refused[i-1].First+p.Refused[i-1].Count) {
			sl.p.logger.Error("sink named refused entries outside its batch; filing the whole range", "sink", sl.name,
				"from", b.From, "to", b.To, "span", sp)
			return
		}
		var cut []retry.Pick
		if sp.Block < len(b.sel) {
			cut = b.sel[sp.Block]
		}
		runs = walRuns(runs, b.idx[sp.Block], cut, sp.First, sp.Count)
		for _, e := range b.Blocks[sp.Block].Entries[sp.First : sp.First+sp.Count] {
			bytes += len(e.Line)
		}
		entries += sp.Count
	}
	if entries >= b.Entries {
		return // all of it: the range as it is
	}
	picks, perr := retry.NewPicks(runs)
	if perr != nil {
		sl.p.logger.Error("map refused entries to the wal; filing the whole range", "sink", sl.name,
			"from", b.From, "to", b.To, "err", perr)
		return
	}
	sl.p.m.sinkSent.WithLabelValues(sl.name).Add(float64(b.Entries - entries))
	sl.p.m.sinkSentBytes.WithLabelValues(sl.name).Add(float64(b.Bytes - bytes))
	r.Picks, r.Entries, r.Bytes = picks, entries, bytes
}

// walRuns appends to runs the WAL runs of entries [first, first+count) of
// the block at WAL index idx as it was cut to cut (nil: not cut), merging
// with the last run when they touch.
func walRuns(runs []retry.Pick, idx uint64, cut []retry.Pick, first, count int) []retry.Pick {
	add := func(p retry.Pick) {
		if n := len(runs); n > 0 && runs[n-1].Index == p.Index && runs[n-1].First+runs[n-1].Count == p.First {
			runs[n-1].Count += p.Count
			return
		}
		runs = append(runs, p)
	}
	if cut == nil {
		add(retry.Pick{Index: idx, First: first, Count: count})
		return runs
	}
	for _, c := range cut {
		if count == 0 {
			break
		}
		if first >= c.Count {
			first -= c.Count
			continue
		}
		n := min(count, c.Count-first)
		add(retry.Pick{Index: idx, First: c.First + first, Count: n})
		first, count = 0, count-n
	}
	return runs
}

// keepPicked cuts b, read back from the WAL for a retried range, down to
// picks (zero: all of it): blocks without a picked entry leave the batch,
// the others keep only their picked entries, in order, and b.sel records
// the cut. Runs past a block's end (which a WAL block, written once, never
// has) are clipped.
func (sl *sinkLoop) keepPicked(b *batch, picks retry.Picks) {
	if picks.IsZero() {
		return
	}
	all := picks.Slice()
	b.sel = b.sel[:0]
	kept := 0
	b.Entries, b.Bytes = 0, 0
	p := 0
	for i := range b.Blocks {
		idx := b.idx[i]
		for p < len(all) && all[p].Index < idx {
			p++
		}
		start := p
		for p < len(all) && all[p].Index == idx {
			p++
		}
		if start == p {
			continue
		}
		blk := b.Blocks[i]
		es := blk.Entries
		out := es[:0]
		runs := all[start:p]
		for j, r := range runs {
			if r.First >= len(es) {
				runs = runs[:j]
				break
			}
			if r.First+r.Count > len(es) {
				runs = append(runs[:j:j], retry.Pick{Index: r.Index, First: r.First, Count: len(es) - r.First})
				out = append(out, es[r.First:]...)
				break
			}
			out = append(out, es[r.First:r.First+r.Count]...)
		}
		if len(out) == 0 {
			continue
		}
		blk.Entries = out
		b.Blocks[kept] = blk
		b.idx[kept] = idx
		b.sel = append(b.sel, runs)
		kept++
		b.Entries += len(out)
		b.Bytes += blk.Size()
	}
	b.Blocks, b.idx = b.Blocks[:kept], b.idx[:kept]
}
