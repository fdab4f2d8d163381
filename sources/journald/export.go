package journald

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The journal export format (https://systemd.io/JOURNAL_EXPORT_FORMATS/):
// entries are separated by an empty line; a field is NAME=value\n when the
// value is printable UTF-8 without newlines, else NAME\n, a little-endian
// uint64 length, the raw bytes and \n. Fields whose names start with two
// underscores are not journal fields but the entry's address (__CURSOR,
// __REALTIME_TIMESTAMP, ...); the specification says more may be added and
// a reader skips the ones it does not know.

const (
	// maxNameLen bounds a field name (journald allows 64 bytes): a longer
	// run of bytes without '=' or newline is not the export format.
	maxNameLen = 255
	// maxBinaryLen bounds a binary field's length prefix: a larger value is
	// taken for garbage, not skipped byte by byte.
	maxBinaryLen = 1 << 30
)

// Address fields the export format defines; other "__" fields are skipped.
const (
	fieldCursor    = "__CURSOR"
	fieldRealtime  = "__REALTIME_TIMESTAMP"
	fieldMonotonic = "__MONOTONIC_TIMESTAMP"
	fieldSeqnum    = "__SEQNUM"
	fieldSeqnumID  = "__SEQNUM_ID"
)

// formatError is a stream that is not in the export format. The reader
// cannot find the next entry after it.
type formatError struct{ reason string }

func (e *formatError) Error() string { return "not journal export format: " + e.reason }

// errTooLarge is returned by next for an entry larger than the reader's
// maximum: the entry was read to its end and discarded, and the stream
// goes on with the next one.
var errTooLarge = errors.New("journal entry larger than max_entry_bytes")

// field is one field of an entry, as offsets into entry.arena.
type field struct {
	name, value, end int32 // name is arena[name:value], the value arena[value:end]
	binary           bool  // serialised in the binary form
}

// entry is one journal entry read by exportReader. Its byte slices alias
// its arena and are valid until the next call of next.
type entry struct {
	arena  []byte
	fields []field
	// cursor is __CURSOR's value; realtime __REALTIME_TIMESTAMP in
	// microseconds (hasRealtime says whether it was there).
	cursor      []byte
	realtime    int64
	hasRealtime bool
	size        int // bytes of names and values, counted against the maximum
}

func (e *entry) reset() {
	e.arena, e.fields, e.cursor = e.arena[:0], e.fields[:0], e.cursor[:0]
	e.realtime, e.hasRealtime, e.size = 0, false, 0
}

func (e *entry) name(f field) []byte  { return e.arena[f.name:f.value] }
func (e *entry) value(f field) []byte { return e.arena[f.value:f.end] }

// get returns the last value of the field name, as Promtail's map of
// the entry's fields (go-systemd's GetEntry) keeps it.
func (e *entry) get(name string) (v []byte, ok bool) {
	for _, f := range e.fields {
		if string(e.name(f)) == name {
			v, ok = e.value(f), true
		}
	}
	return v, ok
}

// exportReader reads entries in the export format from a stream. Memory is
// its bufio buffer plus one entry of at most maxEntry bytes of names and
// values; a larger entry is read through and discarded (errTooLarge). It
// never panics, whatever the stream holds. Not safe for concurrent use.
type exportReader struct {
	br       *bufio.Reader
	maxEntry int
	name     []byte // scratch: the current field's name
	lenBuf   [8]byte
}

// next reads the next entry into e. It returns io.EOF when the stream ends
// between entries, io.ErrUnexpectedEOF when it ends inside one, errTooLarge
// for a skipped entry, a *formatError for bytes that are not the export
// format, or the stream's read error.
func (x *exportReader) next(e *entry) error {
	e.reset()
	skip := false
	first := true // nothing of the entry read yet
	for {
		name, sep, err := x.readName()
		if err != nil {
			if err == io.EOF && (!first || len(name) > 0) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if len(name) == 0 {
			if sep == '=' {
				return &formatError{"a field with an empty name"}
			}
			if first {
				// An empty line between entries: tolerate it.
				continue
			}
			if skip {
				return errTooLarge
			}
			if len(e.cursor) == 0 {
				return &formatError{"an entry without " + fieldCursor}
			}
			if !e.hasRealtime {
				return &formatError{"an entry without " + fieldRealtime}
			}
			return nil
		}
		first = false
		if !validName(name) {
			return &formatError{fmt.Sprintf("field name %.40q", name)}
		}
		// Unknown address fields are read but not kept, as the
		// specification asks.
		keep := !skip && !unknownAddress(name)
		start := int32(len(e.arena))
		if keep {
			e.arena = append(e.arena, name...)
		}
		vstart := int32(len(e.arena))
		var n int
		if sep == '=' {
			n, err = x.readText(e, keep, x.maxEntry-e.size-len(name))
		} else {
			n, err = x.readBinary(e, keep, x.maxEntry-e.size-len(name))
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		e.size += len(name) + n
		if e.size > x.maxEntry {
			if !skip {
				skip = true
				e.arena, e.fields = e.arena[:0], e.fields[:0]
			}
			continue
		}
		if !keep {
			continue
		}
		f := field{name: start, value: vstart, end: int32(len(e.arena)), binary: sep == '\n'}
		e.fields = append(e.fields, f)
		switch string(name) {
		case fieldCursor:
			e.cursor = append(e.cursor[:0], e.value(f)...)
		case fieldRealtime:
			us, err := strconv.ParseInt(string(e.value(f)), 10, 64)
			if err != nil || us < 0 || us > maxRealtime {
				return &formatError{fmt.Sprintf("%s=%.40q", fieldRealtime, e.value(f))}
			}
			e.realtime, e.hasRealtime = us, true
		}
	}
}

// maxRealtime is the largest __REALTIME_TIMESTAMP (µs) whose nanoseconds
// fit an int64.
const maxRealtime = (1<<63 - 1) / 1000

// readName reads a field name up to its '=' (text field) or newline
// (binary field, or the empty line that ends an entry), and returns it
// with the separator. The name aliases x.name.
func (x *exportReader) readName() ([]byte, byte, error) {
	x.name = x.name[:0]
	for {
		// What is buffered, or one byte more: never wait for more than
		// one byte, the writer may have stopped at the end of an entry.
		b, err := x.br.Peek(max(1, x.br.Buffered()))
		for i, c := range b {
			if c == '=' || c == '\n' {
				x.name = append(x.name, b[:i]...)
				_, _ = x.br.Discard(i + 1) // buffered: cannot fail
				return x.name, c, nil
			}
		}
		x.name = append(x.name, b...)
		_, _ = x.br.Discard(len(b))
		if len(x.name) > maxNameLen {
			return nil, 0, &formatError{fmt.Sprintf("no '=' or newline in the first %d bytes of a field: %.40q", maxNameLen, x.name)}
		}
		if err != nil {
			return x.name, 0, err
		}
	}
}

// readText reads a text value up to its newline, appending it to e.arena
// when keep and it fits room bytes; it returns the value's length.
func (x *exportReader) readText(e *entry, keep bool, room int) (int, error) {
	n := 0
	for {
		b, err := x.br.ReadSlice('\n')
		if err == nil {
			b = b[:len(b)-1]
		}
		n += len(b)
		if keep && n <= room {
			e.arena = append(e.arena, b...)
		}
		switch err {
		case nil:
			return n, nil
		case bufio.ErrBufferFull:
			continue
		}
		return n, err
	}
}

// readBinary reads a binary value: its length, its bytes and the newline
// after them. The bytes are appended to e.arena when keep and they fit
// room bytes, else discarded as they are read.
func (x *exportReader) readBinary(e *entry, keep bool, room int) (int, error) {
	if _, err := io.ReadFull(x.br, x.lenBuf[:]); err != nil {
		return 0, err
	}
	size := binary.LittleEndian.Uint64(x.lenBuf[:])
	if size > maxBinaryLen {
		return 0, &formatError{fmt.Sprintf("binary field %q of %d bytes", x.name, size)}
	}
	n := int(size)
	if keep && n <= room {
		at := len(e.arena)
		e.arena = append(e.arena, make([]byte, n)...)
		if _, err := io.ReadFull(x.br, e.arena[at:]); err != nil {
			return n, err
		}
	} else if _, err := x.br.Discard(n); err != nil {
		return n, err
	}
	c, err := x.br.ReadByte()
	if err != nil {
		return n, err
	}
	if c != '\n' {
		return n, &formatError{fmt.Sprintf("binary field %q not followed by a newline", x.name)}
	}
	return n, nil
}

// validName reports whether name can be a field name: ASCII letters,
// digits and underscores. (journald itself writes only upper case, digits
// and underscores; other writers of journal files are let through.)
func validName(name []byte) bool {
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// unknownAddress reports whether name is an address field ("__") that the
// specification does not define: skipped, as the specification asks.
func unknownAddress(name []byte) bool {
	if len(name) < 2 || name[0] != '_' || name[1] != '_' {
		return false
	}
	switch string(name) {
	case fieldCursor, fieldRealtime, fieldMonotonic, fieldSeqnum, fieldSeqnumID:
		return false
	}
	return true
}
