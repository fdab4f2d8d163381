package syslog

import (
	"sync"

	"github.com/logcapturer/logcapturer/wal"
)

// chunkBytes is how many line bytes a connection gathers before it hands
// them to the batcher even if more are ready to parse.
const chunkBytes = 32 << 10

// chunkEntries bounds the entries of a chunk the same way.
const chunkEntries = 512

// chunk is what a connection (or the packet reader) parsed from what it
// read, handed to the batcher in one channel send. Lines are copied into
// one arena; Entry.Line is set from spans by seal, once the arena stops
// growing. The batcher owns a sent chunk until the block holding its
// entries is encoded, then puts it back in the pool.
type chunk struct {
	entries []wal.Entry
	spans   []int // start of each entry's line in arena; it ends at the next one's
	arena   []byte
	bytes   int // line bytes
}

// add appends an entry whose line is a copy of line.
func (ck *chunk) add(t int64, line string, labels, meta []wal.Label) {
	ck.spans = append(ck.spans, len(ck.arena))
	ck.arena = append(ck.arena, line...)
	ck.push(t, len(line), labels, meta)
}

// addBytes is add for a byte slice.
func (ck *chunk) addBytes(t int64, line []byte, labels, meta []wal.Label) {
	ck.spans = append(ck.spans, len(ck.arena))
	ck.arena = append(ck.arena, line...)
	ck.push(t, len(line), labels, meta)
}

func (ck *chunk) push(t int64, n int, labels, meta []wal.Label) {
	ck.entries = append(ck.entries, wal.Entry{Time: t, Labels: labels, Metadata: meta})
	ck.bytes += n
}

// full reports whether the chunk should be handed over now.
func (ck *chunk) full() bool { return ck.bytes >= chunkBytes || len(ck.entries) >= chunkEntries }

// seal points every entry's Line into the arena. Nothing may be added
// after.
func (ck *chunk) seal() {
	for i := range ck.entries {
		end := len(ck.arena)
		if i+1 < len(ck.spans) {
			end = ck.spans[i+1]
		}
		ck.entries[i].Line = ck.arena[ck.spans[i]:end:end]
	}
}

// chunks recycles chunks (one pool per source: no package state). A
// chunk whose arena grew past a few chunks' worth (a very long message) is
// not kept.
type chunks struct{ pool sync.Pool }

func (cs *chunks) get() *chunk {
	if ck, ok := cs.pool.Get().(*chunk); ok {
		return ck
	}
	return new(chunk)
}

func (cs *chunks) put(ck *chunk) {
	if cap(ck.arena) > 4*chunkBytes {
		return
	}
	clear(ck.entries) // drop the label and line references
	ck.entries, ck.spans, ck.arena, ck.bytes = ck.entries[:0], ck.spans[:0], ck.arena[:0], 0
	cs.pool.Put(ck)
}
