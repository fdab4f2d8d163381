package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned (wrapped) by every method of a Log after Close,
	// except Close itself, which is idempotent.
	ErrClosed = errors.New("wal closed")

	// ErrNotFound is returned (wrapped) by Read for an index outside
	// [FirstIndex, LastIndex], and by TruncateFront for an index past
	// LastIndex+1.
	ErrNotFound = errors.New("wal index not found")
)

// CorruptionError is returned by Read when a stored record fails its
// checksum, or when the segment holding it cannot be parsed. The record is
// lost; the records around it may still read fine. It drives recovery: a
// caller skips the index (or sends the range to its dead-letter queue) and
// moves on.
type CorruptionError struct {
	// Index is the WAL index whose record is damaged.
	Index uint64
	// Err says what is wrong; it wraps ErrBadRecord for a checksum
	// mismatch.
	Err error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal record %d is corrupt: %v", e.Index, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }
