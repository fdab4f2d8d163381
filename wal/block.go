package wal

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

	// DecodeBlock's storage, reused by the next DecodeBlock into this
	// Block: the entries' Labels and Metadata point into labels,
	// strings interns the names and values it decoded, and raw holds a
	// decompressed payload.
	labels  []Label
	strings map[string]string
	// raw holds the payload of a compressed (version 3) block decoded
	// into this Block: its entries' lines point into it.
	raw []byte
}

// Size returns the number of line bytes in the block.
func (b *Block) Size() int {
	n := 0
	for i := range b.Entries {
		n += len(b.Entries[i].Line)
	}
	return n
}
