package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Entry is one log entry: a line and the instant it was logged.
type Entry struct {
	// Time is the entry's instant in UTC, as Unix nanoseconds.
	Time int64
	// Line is the raw line, without its trailing newline. Bytes are kept
	// exactly as read: invalid UTF-8 and NUL bytes pass through.
	Line []byte
	// Labels is the entry's whole label set, sorted by name, when it
	// differs from its block's stream labels (a processing stage added,
	// changed or removed one); nil means the block's Labels. The tenant is
	// the reserved label TenantLabel.
	Labels []Label
	// Metadata is the entry's structured metadata (Loki's per-entry
	// key/value pairs that are not labels), sorted by name; nil when it has
	// none.
	Metadata []Label
}

// TenantLabel is the reserved label that carries an entry's tenant (Loki's
// X-Scope-OrgID), as Promtail's tenant stage sets it. Sinks never send it
// as a label.
const TenantLabel = "__tenant_id__"

// Label is one stream label.
type Label struct {
	Name, Value string
}

// Position is where a source stood in one file after a block: the next byte
// it will read. It is stored inside the block, so it is durable exactly when
// the block is.
type Position struct {
	// FileID is the stable identity of the file (device and inode, later a
	// fingerprint). Positions are looked up by it, never by path.
	FileID string
	// Path is the file's path when it was read (informational).
	Path string
	// Offset is the byte offset just past the last byte the block covers.
	Offset int64
	// Cursor is the position of a source that is not a file read by byte
	// offset (a journald source's journal cursor), opaque to everyone but
	// that source; "" for files.
	Cursor string
}

// Block is one WAL record: the entries one source read from one file in one
// go, the stream labels they share, and the position reached after them.
type Block struct {
	Source   string
	Labels   []Label
	Position Position
	Entries  []Entry
}

// Size returns the number of line bytes in the block.
func (b *Block) Size() int {
	n := 0
	for i := range b.Entries {
		n += len(b.Entries[i].Line)
	}
	return n
}

const (
	blockVersion = 1
	crcSize      = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadRecord is returned (wrapped) by DecodeBlock and by reads of a record
// whose checksum does not match or whose bytes are not a valid block.
var ErrBadRecord = errors.New("bad wal record")

// EncodeBlock appends b to dst as a framed record: a little-endian CRC32C
// (Castagnoli) of the payload, then the payload. The payload is
//
//	version(1) source position labels entries
//
// where strings and byte slices are uvarint-length-prefixed, the position is
// FileID, Path, uvarint Offset, labels are a uvarint count of name/value
// pairs, and entries are a uvarint count of (varint time delta from the
// previous entry, first from 0; line).
func EncodeBlock(dst []byte, b *Block) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, blockVersion)
	dst = AppendString(dst, b.Source)
	dst = AppendString(dst, b.Position.FileID)
	dst = AppendString(dst, b.Position.Path)
	dst = binary.AppendUvarint(dst, uint64(b.Position.Offset))
	dst = binary.AppendUvarint(dst, uint64(len(b.Labels)))
	for _, l := range b.Labels {
		dst = AppendString(dst, l.Name)
		dst = AppendString(dst, l.Value)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Entries)))
	var prev int64
	for i := range b.Entries {
		e := &b.Entries[i]
		dst = binary.AppendVarint(dst, e.Time-prev)
		prev = e.Time
		dst = binary.AppendUvarint(dst, uint64(len(e.Line)))
		dst = append(dst, e.Line...)
	}
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+crcSize:], castagnoli))
	return dst
}

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

// DecodeBlock verifies rec's checksum and decodes it into b, reusing b's
// slices. Entry lines alias rec: copy them to keep them past rec's lifetime.
// It never panics, whatever rec holds.
func DecodeBlock(rec []byte, b *Block) error {
	if err := CheckRecord(rec); err != nil {
		return err
	}
	d := Decoder{Buf: rec[crcSize:]}
	if v := d.Byte(); v != blockVersion {
		if d.Err != nil {
			return fmt.Errorf("%w: %w", ErrBadRecord, d.Err)
		}
		return fmt.Errorf("%w: unknown block version %d", ErrBadRecord, v)
	}
	b.Source = d.String()
	b.Position.FileID = d.String()
	b.Position.Path = d.String()
	b.Position.Offset = int64(d.Uvarint())
	n := d.Count()
	b.Labels = b.Labels[:0]
	for i := 0; i < n && d.Err == nil; i++ {
		name := d.String()
		b.Labels = append(b.Labels, Label{Name: name, Value: d.String()})
	}
	n = d.Count()
	b.Entries = b.Entries[:0]
	var prev int64
	for i := 0; i < n && d.Err == nil; i++ {
		prev += d.Varint()
		b.Entries = append(b.Entries, Entry{Time: prev, Line: d.Bytes()})
	}
	if d.Err != nil {
		return fmt.Errorf("%w: %w", ErrBadRecord, d.Err)
	}
	if len(d.Buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadRecord, len(d.Buf))
	}
	return nil
}
