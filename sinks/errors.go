package sinks

import (
	"context"
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
	// Reason is a short, stable, low-cardinality word for metrics
	// ("server_error", "connection", "timeout"); empty means "error".
	Reason string
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

// Unauthorized marks a receiver that refuses our credentials (HTTP 401 or
// 403, a Kafka authorization error). The data is fine and the operator must
// fix the credentials: the pipeline holds the data (never dead-letters it),
// opens the sink's breaker, probes at least every 30 s and reports the sink
// unauthorized.
type Unauthorized struct {
	Err error
}

func (e *Unauthorized) Error() string { return fmt.Sprintf("unauthorized: %v", e.Err) }

func (e *Unauthorized) Unwrap() error { return e.Err }

// Class is how a send error is handled.
type Class int

const (
	// ClassRetryable: try the batch again later. Errors that carry no class
	// are retryable: a sink that cannot tell must not lose data.
	ClassRetryable Class = iota
	// ClassPermanent: never retry; the range goes to the dead-letter queue.
	ClassPermanent
	// ClassUnauthorized: hold the data and retry until the credentials
	// work; never dead-letter.
	ClassUnauthorized
)

// Classify tells how err is handled and, for retryable errors, the
// receiver's retry hint.
func Classify(err error) (Class, time.Duration) {
	var u *Unauthorized
	if errors.As(err, &u) {
		return ClassUnauthorized, 0
	}
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

// Reason returns the short word that labels err in failure metrics: the
// Reason of a *Permanent or *Retryable, "unauthorized", "timeout" for a
// deadline, or "error".
func Reason(err error) string {
	var u *Unauthorized
	var p *Permanent
	var r *Retryable
	switch {
	case errors.As(err, &u):
		return "unauthorized"
	case errors.As(err, &p) && p.Reason != "":
		return p.Reason
	case errors.As(err, &r) && r.Reason != "":
		return r.Reason
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}
