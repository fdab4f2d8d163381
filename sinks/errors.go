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
