package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
)

const (
	// maxInterned bounds the strings a Block keeps to share between the
	// entries it decodes (label names and values, metadata names); the
	// table is emptied when full. Longer strings are not interned.
	maxInterned    = 256
	maxInternedLen = 64
	// labelsPerByte bounds the labels DecodeBlock materialises for one
	// record (entries' label sets and metadata) to this many per payload
	// byte, plus slack: a diff of a few bytes yields a whole label set, so
	// a damaged record that passes its checksum could otherwise make it
	// allocate the square of its size. Blocks logcapturer writes stay far
	// below (see the package documentation, Caveats).
	labelsPerByte  = 16
	labelsSlack    = 4096
	recentLabelSet = 4 // distinct entry label sets a decode shares storage with
)

// CheckRecord reports whether rec is a framed record whose checksum matches.
func CheckRecord(rec []byte) error {
	if len(rec) <= crcSize {
		return fmt.Errorf("%w: %d bytes is too short", ErrBadRecord, len(rec))
	}
	want := binary.LittleEndian.Uint32(rec)
	if got := crc32.Checksum(rec[crcSize:], castagnoli); got != want {
		return fmt.Errorf("%w: checksum %08x, want %08x", ErrBadRecord, got, want)
	}
	return nil
}

// DecodeBlock verifies rec's checksum and decodes it (block version 1, 2
// or 3) into b, reusing b's slices. Entry lines alias rec, or for version 3
// (compressed) storage b owns and the next DecodeBlock into b overwrites:
// copy them to keep them past that. Entries' Labels and Metadata point into
// storage b owns and the next DecodeBlock into b overwrites (entries with
// equal label sets may share one slice): copy them to keep them past that,
// and do not modify them. Errors wrap ErrBadRecord. It never panics,
// whatever rec holds.
func DecodeBlock(rec []byte, b *Block) error {
	if err := CheckRecord(rec); err != nil {
		return err
	}
	if err := decodeBlock(rec[crcSize:], b); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	return nil
}

// DecodeReadBlock is DecodeBlock for a record Reader.Read returned without
// error: Read verified its checksum, so it is not computed a second time.
func DecodeReadBlock(rec []byte, b *Block) error {
	if len(rec) <= crcSize {
		return fmt.Errorf("%w: %d bytes is too short", ErrBadRecord, len(rec))
	}
	if err := decodeBlock(rec[crcSize:], b); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	return nil
}

// decodeBlock decodes one block payload (no checksum), as appendBlock
// writes it, as CompressBlock rewrites it, or as version 1 wrote it.
func decodeBlock(payload []byte, b *Block) error {
	if len(payload) > 0 && payload[0] == blockVersionS2 {
		var err error
		if b.raw, _, err = decompressPayload(b.raw[:0], payload); err != nil {
			return err
		}
		payload = b.raw
	}
	d := Decoder{Buf: payload}
	v := d.Byte()
	if d.Err != nil {
		return d.Err
	}
	if v != blockVersion && v != blockVersion1 {
		return fmt.Errorf("unknown block version %d", v)
	}
	b.Source = d.String()
	b.Position.FileID = d.String()
	b.Position.Path = d.String()
	b.Position.Offset = int64(d.Uvarint())
	b.Position.Cursor = ""
	if v >= 2 {
		b.Position.Cursor = d.String()
	}
	n := d.Count()
	b.Labels = b.Labels[:0]
	for i := 0; i < n && d.Err == nil; i++ {
		name := d.String()
		b.Labels = append(b.Labels, Label{Name: name, Value: d.String()})
	}
	n = d.Count()
	b.Entries = b.Entries[:0]
	b.labels = b.labels[:0]
	if v == blockVersion1 {
		var prev int64
		for i := 0; i < n && d.Err == nil; i++ {
			prev += d.Varint()
			b.Entries = append(b.Entries, Entry{Time: prev, Line: d.Bytes()})
		}
	} else {
		b.decodeEntries(&d, n, len(payload)*labelsPerByte+labelsSlack)
	}
	if d.Err != nil {
		return d.Err
	}
	if len(d.Buf) != 0 {
		return fmt.Errorf("%d trailing bytes", len(d.Buf))
	}
	return nil
}

// decodeEntries decodes n version 2 entries, materialising at most
// maxLabels labels.
func (b *Block) decodeEntries(d *Decoder, n, maxLabels int) {
	var prev int64
	var prevLabels, prevMeta []Label
	var recent [recentLabelSet][]Label
	nrecent := 0
	for i := 0; i < n && d.Err == nil; i++ {
		prev += d.Varint()
		x := d.Uvarint()
		e := Entry{Time: prev, Line: d.take(x >> 1)}
		if x&1 != 0 {
			flags := d.Byte()
			if d.Err != nil {
				return
			}
			if err := badFlags(flags, prevLabels != nil, prevMeta != nil); err != nil {
				d.Fail(err)
				return
			}
			switch {
			case flags&flagLabels != 0:
				e.Labels = b.decodeLabelDiff(d, recent[:nrecent])
				if nrecent < len(recent) {
					nrecent++
				}
				copy(recent[1:nrecent], recent[:nrecent-1])
				recent[0] = e.Labels
				prevLabels = e.Labels
			case flags&flagLabelsAsPrev != 0:
				e.Labels = prevLabels
			}
			switch {
			case flags&flagMetadata != 0:
				start := len(b.labels)
				m := d.Count()
				for j := 0; j < m && d.Err == nil; j++ {
					// Metadata values (trace ids) seldom repeat: not interned.
					name := b.intern(d.Bytes())
					b.labels = append(b.labels, Label{Name: name, Value: d.String()})
				}
				if m > 0 {
					e.Metadata = b.labels[start:len(b.labels):len(b.labels)]
					prevMeta = e.Metadata
				}
			case flags&flagMetadataAsPrev != 0:
				e.Metadata = prevMeta
			}
			if len(b.labels) > maxLabels {
				d.Fail(fmt.Errorf("entries' labels and metadata exceed %d", maxLabels))
				return
			}
		}
		b.Entries = append(b.Entries, e)
	}
}

// decodeLabelDiff reads a label diff and returns the entry's whole label
// set: the block's labels without those deleted or set, plus those set,
// sorted by name. It returns an earlier result from recent when equal.
func (b *Block) decodeLabelDiff(d *Decoder, recent [][]Label) []Label {
	start := len(b.labels)
	nset := d.Count()
	for j := 0; j < nset && d.Err == nil; j++ {
		name := b.intern(d.Bytes())
		b.labels = append(b.labels, Label{Name: name, Value: b.intern(d.Bytes())})
	}
	set := len(b.labels)
	ndel := d.Count()
	for j := 0; j < ndel && d.Err == nil; j++ {
		name := d.Bytes()
		// Deleted names are the block's own: share its strings. A name
		// the block lacks deletes nothing.
		for _, l := range b.Labels {
			if l.Name == string(name) {
				b.labels = append(b.labels, Label{Name: l.Name})
				break
			}
		}
	}
	if d.Err != nil {
		b.labels = b.labels[:start]
		return nil
	}
	diff := len(b.labels)
	for _, l := range b.Labels {
		if !hasName(b.labels[start:diff], l.Name) {
			b.labels = append(b.labels, l)
		}
	}
	b.labels = append(b.labels, b.labels[start:set]...)
	// Move the result down over the diff it was made from.
	k := copy(b.labels[start:], b.labels[diff:])
	b.labels = b.labels[:start+k]
	res := b.labels[start : start+k : start+k]
	slices.SortStableFunc(res, func(x, y Label) int { return strings.Compare(x.Name, y.Name) })
	for _, r := range recent {
		if equalLabels(r, res) {
			b.labels = b.labels[:start]
			return r
		}
	}
	if len(res) == 0 {
		return []Label{} // every label deleted: not nil, which means the block's
	}
	return res
}

// intern returns p as a string, shared with earlier equal strings this
// Block decoded.
func (b *Block) intern(p []byte) string {
	if len(p) > maxInternedLen {
		return string(p)
	}
	if s, ok := b.strings[string(p)]; ok {
		return s
	}
	s := string(p)
	if b.strings == nil {
		b.strings = make(map[string]string)
	} else if len(b.strings) >= maxInterned {
		clear(b.strings)
	}
	b.strings[s] = s
	return s
}

// take returns the next n bytes, aliasing Buf.
func (d *Decoder) take(n uint64) []byte {
	if n > uint64(len(d.Buf)) {
		d.truncated("bytes")
		return nil
	}
	p := d.Buf[:n:n]
	d.Buf = d.Buf[n:]
	return p
}

// badFlags describes an invalid flags byte, or returns nil.
func badFlags(flags byte, havePrevLabels, havePrevMeta bool) error {
	switch {
	case flags == 0 || flags&^flagsKnown != 0:
		return fmt.Errorf("bad entry flags %#x", flags)
	case flags&flagLabels != 0 && flags&flagLabelsAsPrev != 0,
		flags&flagMetadata != 0 && flags&flagMetadataAsPrev != 0:
		return fmt.Errorf("entry flags %#x say both new and previous", flags)
	case flags&flagLabelsAsPrev != 0 && !havePrevLabels:
		return errors.New("entry repeats labels no entry before it has")
	case flags&flagMetadataAsPrev != 0 && !havePrevMeta:
		return errors.New("entry repeats metadata no entry before it has")
	}
	return nil
}
