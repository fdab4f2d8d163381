package stages

import (
	"encoding/binary"
	"slices"
	"sort"
)

// What the holding stages (multiline, cri) share: copying an entry they
// keep, the key of an entry's stream (its label set), and the queue that
// hands entries on in Seq order.

const (
	// maxJoinedBytes ends a joined entry (a multiline block, a cri line
	// made of partial lines) once it has reached this size; the lines
	// after it start a new entry. Promtail has no such bound.
	maxJoinedBytes = 1 << 20
	// maxHeldBytes bounds what a holding stage keeps: the blocks under
	// way and the entries waiting behind them. Past it, the oldest block
	// is handed on as it is.
	maxHeldBytes = 8 << 20
	// maxHeldStreams bounds the streams a holding stage remembers.
	maxHeldStreams = 10000
)

// appendStreamKey appends to buf a key that identifies the label set:
// its pairs sorted by name, each name and value preceded by its length.
// names is scratch space.
func appendStreamKey(buf []byte, names []string, labels map[string]string) ([]byte, []string) {
	names = names[:0]
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := labels[k]
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	return buf, names
}

// streamKeys builds stream keys without allocating for a key seen before.
type streamKeys struct {
	buf   []byte
	names []string
}

// key returns the key of labels; valid until the next call. Use it as
// m[string(k)] to look up without allocating.
func (s *streamKeys) key(labels map[string]string) []byte {
	s.buf, s.names = appendStreamKey(s.buf[:0], s.names, labels)
	return s.buf
}

// orderedOut holds the entries a stage has finished but may not hand on
// yet, because an older entry (smaller Seq) is still held, and hands them
// on in Seq order. Not safe for concurrent use.
type orderedOut struct {
	ready []*Entry // sorted by Seq
	bytes int
}

// add queues e (a copy the stage owns).
func (q *orderedOut) add(e *Entry) {
	i, _ := slices.BinarySearchFunc(q.ready, e.Seq, func(x *Entry, seq uint64) int {
		switch {
		case x.Seq < seq:
			return -1
		case x.Seq > seq:
			return 1
		}
		return 0
	})
	q.ready = slices.Insert(q.ready, i, e)
	q.bytes += len(e.Line)
}

// release hands on the queued entries older than every held one (all of
// them when nothing is held). Each entry leaves the queue before next is
// called, so next may call the stage's Held.
func (q *orderedOut) release(held uint64, holding bool, next func(*Entry)) {
	for len(q.ready) > 0 && (!holding || q.ready[0].Seq < held) {
		e := q.ready[0]
		q.ready[0] = nil
		q.ready = q.ready[1:]
		q.bytes -= len(e.Line)
		next(e)
	}
	if len(q.ready) == 0 {
		q.ready = q.ready[:0:0]
	}
}

// oldest returns the smallest queued Seq.
func (q *orderedOut) oldest() (uint64, bool) {
	if len(q.ready) == 0 {
		return 0, false
	}
	return q.ready[0].Seq, true
}

func (q *orderedOut) empty() bool { return len(q.ready) == 0 }
