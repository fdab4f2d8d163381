package wal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

const (
	// blockVersion is the version EncodeBlock writes; DecodeBlock reads
	// it, blockVersion1 and blockVersionS2 (CompressBlock's).
	blockVersion  = 2
	blockVersion1 = 1
	crcSize       = 4
)

// The flags byte of a version 2 entry that has per-entry data.
const (
	flagLabels         = 1 << iota // a label diff follows
	flagLabelsAsPrev               // the labels of the previous entry that had its own
	flagMetadata                   // metadata follows
	flagMetadataAsPrev             // the metadata of the previous entry that had some
	flagsKnown         = 1<<iota - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadRecord is returned (wrapped) by DecodeBlock and by reads of a record
// whose checksum does not match or whose bytes are not a valid block.
var ErrBadRecord = errors.New("bad wal record")

// EncodeBlock appends b to dst as a framed record: a little-endian CRC32C
// (Castagnoli) of the payload, then the payload, a version 2 block (see the
// package documentation for the format). It never fails. Entry.Labels and
// Metadata are expected sorted by name with unique names; Labels equal to
// the block's Labels are stored (and decoded) as nil.
func EncodeBlock(dst []byte, b *Block) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = appendBlock(dst, b)
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+crcSize:], castagnoli))
	return dst
}

// appendBlock appends b's version 2 payload (no checksum) to dst. It is
// the whole block codec: a record that frames several blocks can hold
// several payloads.
func appendBlock(dst []byte, b *Block) []byte {
	dst = append(dst, blockVersion)
	dst = AppendString(dst, b.Source)
	dst = AppendString(dst, b.Position.FileID)
	dst = AppendString(dst, b.Position.Path)
	dst = binary.AppendUvarint(dst, uint64(b.Position.Offset))
	dst = AppendString(dst, b.Position.Cursor)
	dst = appendLabels(dst, b.Labels)
	dst = binary.AppendUvarint(dst, uint64(len(b.Entries)))
	var prev int64
	var prevLabels, prevMeta []Label // the last entry's own labels, metadata
	for i := range b.Entries {
		e := &b.Entries[i]
		dst = binary.AppendVarint(dst, e.Time-prev)
		prev = e.Time
		if e.Labels == nil && len(e.Metadata) == 0 {
			dst = binary.AppendUvarint(dst, uint64(len(e.Line))<<1)
			dst = append(dst, e.Line...)
			continue
		}
		var flags byte
		var nset, ndel int
		if e.Labels != nil {
			nset, ndel = labelDiff(b.Labels, e.Labels)
		}
		own := nset+ndel > 0
		if own {
			if prevLabels != nil && equalLabels(e.Labels, prevLabels) {
				flags |= flagLabelsAsPrev
			} else {
				flags |= flagLabels
			}
		}
		if len(e.Metadata) > 0 {
			if prevMeta != nil && equalLabels(e.Metadata, prevMeta) {
				flags |= flagMetadataAsPrev
			} else {
				flags |= flagMetadata
			}
		}
		if flags == 0 { // labels given but the same as the block's
			dst = binary.AppendUvarint(dst, uint64(len(e.Line))<<1)
			dst = append(dst, e.Line...)
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(e.Line))<<1|1)
		dst = append(dst, e.Line...)
		dst = append(dst, flags)
		if flags&flagLabels != 0 {
			dst = appendLabelDiff(dst, b.Labels, e.Labels, nset, ndel)
		}
		if own {
			prevLabels = e.Labels
		}
		if flags&flagMetadata != 0 {
			dst = appendLabels(dst, e.Metadata)
		}
		if len(e.Metadata) > 0 {
			prevMeta = e.Metadata
		}
	}
	return dst
}

// appendLabels appends a uvarint count of name/value pairs.
func appendLabels(dst []byte, ls []Label) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ls)))
	for _, l := range ls {
		dst = AppendString(dst, l.Name)
		dst = AppendString(dst, l.Value)
	}
	return dst
}

// labelDiff counts what turns the block's labels into the entry's: the
// entry's labels the block does not have with the same value (set: added
// or changed) and the block's labels whose name the entry does not have
// (deleted). Both are 0 when the sets are equal. Label sets are small, so
// the scans are linear.
func labelDiff(block, entry []Label) (nset, ndel int) {
	for _, l := range entry {
		if !hasLabel(block, l) {
			nset++
		}
	}
	for _, l := range block {
		if !hasName(entry, l.Name) {
			ndel++
		}
	}
	return nset, ndel
}

// appendLabelDiff appends the diff labelDiff counted: uvarint nset
// { name value } uvarint ndel { name }.
func appendLabelDiff(dst []byte, block, entry []Label, nset, ndel int) []byte {
	dst = binary.AppendUvarint(dst, uint64(nset))
	for _, l := range entry {
		if !hasLabel(block, l) {
			dst = AppendString(dst, l.Name)
			dst = AppendString(dst, l.Value)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(ndel))
	for _, l := range block {
		if !hasName(entry, l.Name) {
			dst = AppendString(dst, l.Name)
		}
	}
	return dst
}

func hasLabel(ls []Label, l Label) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

func hasName(ls []Label, name string) bool {
	for _, x := range ls {
		if x.Name == name {
			return true
		}
	}
	return false
}

func equalLabels(a, b []Label) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
