package sources

import (
	"context"

	"github.com/logcapturer/logcapturer/wal"
)

// Record is one encoded WAL block handed to the ingest stage.
type Record struct {
	// Source is the name of the source that read the block.
	Source string
	// Position is the position reached after the block. It is the same
	// position that is encoded inside Data.
	Position wal.Position
	// Entries is the number of entries in the block.
	Entries int
	// Bytes is the number of line bytes in the block (newlines excluded).
	Bytes int
	// Data is the wal.EncodeBlock output. Ownership passes to the Emitter:
	// the source never touches it again.
	Data []byte
}

// Emitter receives the records of a source. It is implemented by the
// pipeline's ingest stage.
//
// Emit blocks while the WAL is behind (backpressure) and returns ctx.Err()
// when ctx is done. A source calls Emit from one goroutine at a time, in
// the order it read the blocks; an Emitter shared by several sources must be
// safe for concurrent use. When Emit returns nil the record is accepted and
// the source moves its position past it; when it returns an error the source
// will read the same bytes again later.
type Emitter interface {
	Emit(ctx context.Context, rec Record) error
}

// Source is one configured input. See the package documentation for the
// contract.
type Source interface {
	// Name returns the source's configured name.
	Name() string
	// Start starts the source's goroutine(s) and returns at once. The
	// goroutines stop when ctx is done or Close is called. Start may be
	// called once.
	Start(ctx context.Context) error
	// Close stops the source and waits for every goroutine it started. It
	// is safe to call twice and before Start.
	Close() error
}

// ConditionUnreadable is the condition a File source reports (see
// ConditionSetter) while it has matched files and can read none of them:
// every one fails to open or to read (permission denied, say).
const ConditionUnreadable = "source_unreadable"

// ConditionStalled is the condition a source reports while it cannot read
// at all for a reason of its own (a journald source's journalctl is down,
// waiting to be restarted). The pipeline raises the same reason while a
// source waits too long in Emit.
const ConditionStalled = "source_stalled"

// ConditionSetter receives the lasting conditions a source reports about
// itself, such as ConditionUnreadable: the pipeline shows them as
// readiness reasons of component source/NAME. A source calls it from its
// own goroutine, only when a condition starts, ends or its detail changes,
// never per retry. It must not block on I/O and must be safe for
// concurrent use (sources share it). A source does not clear its
// conditions when it is closed: the pipeline that shows them is closed
// with it.
type ConditionSetter interface {
	SetSourceCondition(source, reason string, on bool, detail string)
}
