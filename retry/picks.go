package retry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Pick is a run of entries in one WAL block: Count entries from the
// block's entry First on.
type Pick struct {
	Index        uint64 // WAL index of the block
	First, Count int
}

// Picks selects single entries out of a range's WAL blocks: what a receiver
// refused of a batch it otherwise stored (Loki's partial 400). The zero
// value selects every entry. A Picks is immutable and comparable (so are
// Range and DeadLetter), and compact: runs of consecutive entries, stored as
// uvarints (index delta, first entry, count), a few bytes per run.
type Picks struct {
	enc     string
	entries int
}

// Limits on what a stored selection may claim, so a damaged record cannot
// make a reader allocate or loop without bound.
const (
	maxPickEntry = 1 << 30 // entries in one block
)

// NewPicks makes a selection of ps, which must be sorted by Index then
// First, not overlapping, with Count >= 1; adjacent runs are merged. No
// runs give the zero Picks.
func NewPicks(ps []Pick) (Picks, error) {
	merged := make([]Pick, 0, len(ps))
	for i, p := range ps {
		if p.Count < 1 || p.First < 0 || p.First > maxPickEntry || p.Count > maxPickEntry-p.First {
			return Picks{}, fmt.Errorf("pick %d (%+v): bad entry run", i, p)
		}
		n := len(merged)
		if n == 0 {
			merged = append(merged, p)
			continue
		}
		last := &merged[n-1]
		switch {
		case p.Index < last.Index || p.Index == last.Index && p.First < last.First+last.Count:
			return Picks{}, fmt.Errorf("pick %d (%+v) is not after %+v", i, p, *last)
		case p.Index == last.Index && p.First == last.First+last.Count:
			if p.Count > maxPickEntry-last.First-last.Count {
				return Picks{}, fmt.Errorf("pick %d (%+v): bad entry run", i, p)
			}
			last.Count += p.Count
		default:
			merged = append(merged, p)
		}
	}
	var (
		b       = make([]byte, 0, 4*len(merged))
		base    uint64
		entries int
	)
	for _, p := range merged {
		b = binary.AppendUvarint(b, p.Index-base)
		b = binary.AppendUvarint(b, uint64(p.First))
		b = binary.AppendUvarint(b, uint64(p.Count))
		base = p.Index
		entries += p.Count
	}
	if len(b) == 0 {
		return Picks{}, nil
	}
	return Picks{enc: string(b), entries: entries}, nil
}

// IsZero reports whether p selects every entry.
func (p Picks) IsZero() bool { return p.enc == "" }

// Entries returns how many entries p selects (0 for the zero Picks, which
// selects all).
func (p Picks) Entries() int { return p.entries }

// Slice returns p's runs in order (nil for the zero Picks).
func (p Picks) Slice() []Pick {
	out, _ := decodePicks(p.enc)
	return out
}

// String describes p for people: "all", or the runs as
// index:first+count, e.g. "12:0+3 12:7+1 14:2+40".
func (p Picks) String() string {
	if p.IsZero() {
		return "all"
	}
	var sb strings.Builder
	for i, r := range p.Slice() {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%d:%d+%d", r.Index, r.First, r.Count)
	}
	return sb.String()
}

// Blocks returns how many distinct WAL blocks p touches.
func (p Picks) Blocks() int {
	n := 0
	var last uint64
	for i, r := range p.Slice() {
		if i == 0 || r.Index != last {
			n++
			last = r.Index
		}
	}
	return n
}

// decodePicks checks and decodes an encoded selection.
func decodePicks(enc string) ([]Pick, error) {
	var (
		out  []Pick
		idx  uint64
		buf  = []byte(enc)
		prev Pick
	)
	for len(buf) > 0 {
		var v [3]uint64
		for i := range v {
			x, n := binary.Uvarint(buf)
			if n <= 0 {
				return nil, errors.New("truncated entry selection")
			}
			v[i], buf = x, buf[n:]
		}
		if v[0] > ^uint64(0)-idx {
			return nil, errors.New("entry selection: index overflows")
		}
		idx += v[0]
		if v[1] > maxPickEntry || v[2] < 1 || v[2] > maxPickEntry-v[1] {
			return nil, fmt.Errorf("entry selection: bad run %d+%d at index %d", v[1], v[2], idx)
		}
		p := Pick{Index: idx, First: int(v[1]), Count: int(v[2])}
		if len(out) > 0 && (p.Index == prev.Index && p.First <= prev.First+prev.Count) {
			return nil, fmt.Errorf("entry selection: run %+v overlaps or touches %+v", p, prev)
		}
		out = append(out, p)
		prev = p
	}
	return out, nil
}

// parsePicks is the inverse of Picks.enc, checked.
func parsePicks(enc []byte) (Picks, error) {
	ps, err := decodePicks(string(enc))
	if err != nil {
		return Picks{}, err
	}
	n := 0
	for _, p := range ps {
		n += p.Count
	}
	return Picks{enc: string(enc), entries: n}, nil
}
