package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrTruncated is returned (wrapped) by a Decoder that ran out of bytes.
var ErrTruncated = errors.New("truncated")

// Decoder reads the varint-framed fields logcapturer stores (WAL blocks,
// retry and dead-letter records). After the first error every call
// returns zero values and Err keeps that first error, so a caller reads
// all fields and checks Err once. It never panics and never allocates
// more than the bytes it holds.
type Decoder struct {
	// Buf is what is left to read.
	Buf []byte
	// Err is the first error.
	Err error
}

// Fail records err (if it is the first) and stops reading.
func (d *Decoder) Fail(err error) {
	if d.Err == nil {
		d.Err = err
	}
	d.Buf = nil
}

func (d *Decoder) truncated(what string) { d.Fail(fmt.Errorf("%w %s", ErrTruncated, what)) }

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if len(d.Buf) < 1 {
		d.truncated("byte")
		return 0
	}
	c := d.Buf[0]
	d.Buf = d.Buf[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	v, n := binary.Uvarint(d.Buf)
	if n <= 0 {
		d.truncated("uvarint")
		return 0
	}
	d.Buf = d.Buf[n:]
	return v
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	v, n := binary.Varint(d.Buf)
	if n <= 0 {
		d.truncated("varint")
		return 0
	}
	d.Buf = d.Buf[n:]
	return v
}

// Count reads an element count, bounded by the bytes left (every element
// takes at least one byte), so a corrupt count cannot cause a huge
// allocation.
func (d *Decoder) Count() int {
	v := d.Uvarint()
	if v > uint64(len(d.Buf)) {
		d.truncated("count")
		return 0
	}
	return int(v)
}

// Bytes reads uvarint-length-prefixed bytes, aliasing Buf.
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if n > uint64(len(d.Buf)) {
		d.truncated("bytes")
		return nil
	}
	b := d.Buf[:n:n]
	d.Buf = d.Buf[n:]
	return b
}

// String reads a uvarint-length-prefixed string (a copy).
func (d *Decoder) String() string { return string(d.Bytes()) }

// AppendString appends s, uvarint-length-prefixed, as Decoder.String
// reads it.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// UvarintLen is the length of x's uvarint encoding.
func UvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}
