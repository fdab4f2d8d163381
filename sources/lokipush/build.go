package lokipush

import (
	"fmt"
	"slices"
	"strings"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// maxBlockBytes is where a push is cut into another block: a 1 MiB push
// is one WAL record, a larger one a few.
const maxBlockBytes = 1 << 20

// builder turns the streams of one push into WAL blocks. A decoder calls
// stream once per pushed stream, then add for each of its entries; the
// entries' lines may point into the request body: blocks are encoded
// (copied) by records, before the body is reused.
//
// The source's pipeline_stages run on the blocks made here (see
// receiver.Options.Stages), before they are emitted.
type builder struct {
	opts     *options
	tenant   string
	received int64 // receive time (UTC ns), for use_incoming_timestamp false (see add)

	block   wal.Block
	size    int // estimated encoded size of block
	recs    []sources.Record
	invalid error // the first stream refused (a partial success)
}

// stream returns the label set of a pushed stream's entries, as
// Promtail's push target makes it: the pushed labels but those starting
// with "__", the configured labels over them, and the tenant (the
// X-Scope-OrgID header) as wal.TenantLabel; sorted. pushed is sorted by
// name, names checked. A stream that ends with no label is refused, as
// Loki refuses one. With a relabel hook (keepInternal) the "__" labels
// are kept for it to see: the stage runner removes them after the hook.
func (b *builder) stream(pushed []wal.Label) ([]wal.Label, error) {
	ls := make([]wal.Label, 0, len(pushed)+len(b.opts.labels)+1)
	internal := 0
	for _, l := range pushed {
		if strings.HasPrefix(l.Name, "__") {
			if b.opts.keepInternal {
				ls = append(ls, l)
				internal++
			}
			continue
		}
		if _, set := b.opts.labelSet[l.Name]; set {
			continue
		}
		ls = append(ls, l)
	}
	ls = append(ls, b.opts.labels...)
	if len(ls) == internal {
		return nil, fmt.Errorf("stream %s has no labels (labels starting with __ are dropped): at least one is required", formatLabels(pushed))
	}
	if b.tenant != "" {
		ls = append(ls, wal.Label{Name: wal.TenantLabel, Value: b.tenant})
	}
	slices.SortFunc(ls, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls, nil
}

// refuse notes a stream refused; the others are taken.
func (b *builder) refuse(err error) {
	if b.invalid == nil {
		b.invalid = err
	}
}

// add appends one entry of a stream whose labels stream returned (the
// same slice for all its entries); meta sorted by name, unique.
func (b *builder) add(ls []wal.Label, ts int64, line []byte, meta []wal.Label) {
	if !b.opts.incoming {
		// The receive time, each entry 1 ns after the last (see
		// sources.EntryClock): Loki would keep one of two equal lines
		// of a stream pushed together.
		ts = b.opts.clock.Next(b.received)
	}
	if len(b.block.Entries) > 0 && b.size+len(line) > maxBlockBytes {
		b.flush()
	}
	if len(b.block.Entries) == 0 {
		b.block.Labels = ls
	}
	e := wal.Entry{Time: ts, Line: line, Metadata: meta}
	if !sameSlice(ls, b.block.Labels) {
		e.Labels = ls
	}
	b.block.Entries = append(b.block.Entries, e)
	b.size += len(line) + 12 + 16*len(meta)
}

// sameSlice reports whether a and b are the same slice (not only equal).
func sameSlice(a, b []wal.Label) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// flush encodes the block under way into a record.
func (b *builder) flush() {
	if len(b.block.Entries) == 0 {
		return
	}
	b.block.Source = b.opts.name
	data := wal.EncodeBlock(sources.BlockBuffer(b.size+1024), &b.block)
	b.recs = append(b.recs, sources.Record{Data: data, Entries: len(b.block.Entries), Bytes: b.block.Size()})
	clear(b.block.Entries)
	b.block.Entries = b.block.Entries[:0]
	b.block.Labels = nil
	b.size = 0
}

// records flushes and returns the push's records.
func (b *builder) records() []sources.Record {
	b.flush()
	return b.recs
}

// sortMeta sorts structured metadata by name; of a name given twice the
// last value is kept.
func sortMeta(m []wal.Label) []wal.Label {
	if len(m) < 2 {
		return m
	}
	slices.SortStableFunc(m, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	out := m[:0]
	for i := range m {
		if len(out) > 0 && out[len(out)-1].Name == m[i].Name {
			out[len(out)-1] = m[i]
			continue
		}
		out = append(out, m[i])
	}
	return out
}
