package sinks

import (
	"errors"
	"fmt"
	"time"
)

// Retryable marks a failure that may succeed later: a network error, a
// timeout, an overloaded or failing receiver. After, when non-zero, is the
// receiver's own hint (Retry-After) of when to try again.
type Retryable struct {
	Err   error
	After time.Duration
}

func (e *Retryable) Error() string {
	if e.After > 0 {
		return fmt.Sprintf("retryable (after %s): %v", e.After, e.Err)
	}
	return fmt.Sprintf("retryable: %v", e.Err)
}

func (e *Retryable) Unwrap() error { return e.Err }

// Permanent marks a batch the receiver will never accept as it is. Reason is
// a short, stable, low-cardinality word for metrics ("too_large",
// "rejected"); Err carries the receiver's message.
type Permanent struct {
	Reason string
	Err    error
	// Rejected is how many entries of the batch the receiver refused when
	// it says so (a partial success: Loki's "total ignored: N out of M");
	// 0 means all of them.
	Rejected int
	// Refused, when not nil, is exactly the entries of the batch the
	// receiver refused, and the receiver holds every other entry: the
	// batch was delivered but for these. Spans are in Blocks order, sorted,
	// not overlapping, each of at least one entry; Rejected then equals
	// their total. Nil means the whole batch (or that the sink cannot
	// tell which entries were refused), as before.
	Refused []Span
}

// Span is a run of entries of a Batch: Count entries from
// Blocks[Block].Entries[First] on.
type Span struct {
	Block, First, Count int
}

// AppendSpan adds entry e of block blk to spans, which must end before it,
// extending the last span when e follows it.
func AppendSpan(spans []Span, blk, e int) []Span {
	if n := len(spans); n > 0 && spans[n-1].Block == blk && spans[n-1].First+spans[n-1].Count == e {
		spans[n-1].Count++
		return spans
	}
	return append(spans, Span{Block: blk, First: e, Count: 1})
}

func (e *Permanent) Error() string {
	return fmt.Sprintf("permanent (%s): %v", e.Reason, e.Err)
}

func (e *Permanent) Unwrap() error { return e.Err }

// Class is how a send error is handled.
type Class int

const (
	// ClassRetryable: try the batch again later. Errors that carry no class
	// are retryable: a sink that cannot tell must not lose data.
	ClassRetryable Class = iota
	// ClassPermanent: never retry; the range goes to the dead-letter queue.
	ClassPermanent
)

// Classify tells how err is handled and, for retryable errors, the
// receiver's retry hint.
func Classify(err error) (Class, time.Duration) {
	var p *Permanent
	if errors.As(err, &p) {
		return ClassPermanent, 0
	}
	var r *Retryable
	if errors.As(err, &r) {
		return ClassRetryable, r.After
	}
	return ClassRetryable, 0
}
