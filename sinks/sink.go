package sinks

import (
	"context"

	"github.com/logcapturer/logcapturer/wal"
)

// Batch is what a sink delivers: the entries of the WAL blocks From..To
// (inclusive) that are routed to it. Blocks not routed to the sink are in the
// range but not in Blocks, so the range always covers what the ack settles.
type Batch struct {
	From, To uint64
	Blocks   []wal.Block
	Entries  int // entries in Blocks
	Bytes    int // line bytes in Blocks
}

// Sink delivers batches to one destination.
type Sink interface {
	// Name is the sink's configured name.
	Name() string
	// Send delivers b and returns nil only once the destination holds it
	// durably (a file sink has fsynced, a network sink has its receiver's
	// acknowledgement). A failure is a *Retryable or *Permanent error; an
	// unclassified error counts as retryable. Send must return promptly
	// when ctx is done. The pipeline calls Send from its fixed workers,
	// concurrently when a sink has more than one; b is not retained.
	Send(ctx context.Context, b *Batch) error
	// Close releases the sink's resources. Safe to call twice.
	Close() error
}
