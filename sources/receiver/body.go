package receiver

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
)

// errTooLarge is what a read or a decompression past the limit returns.
var errTooLarge = errors.New("too large")

// bufPool holds request buffers (bodies as sent and decompressed), so a
// steady stream of pushes reuses a few buffers instead of allocating one
// per request. Buffers above maxPooled are not kept.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooled = 64 << 20

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if b == nil || cap(*b) > maxPooled {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// readAll appends r to dst until EOF; past limit bytes it stops with
// errTooLarge. hint (a Content-Length, or -1) sizes the buffer once.
func readAll(dst []byte, r io.Reader, limit, hint int64) ([]byte, error) {
	if hint > 0 && hint <= limit && int64(cap(dst)) < hint+1 {
		dst = make([]byte, 0, hint+1) // +1: reading EOF needs room
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > limit {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// decoding is a body's Content-Encoding.
type decoding int

const (
	encIdentity decoding = iota
	encGzip
	encDeflate
	encSnappy
)

// contentEncoding parses the header: identity, gzip (x-gzip), deflate
// (raw DEFLATE, as Loki reads it) or snappy (block format); anything else
// is an error (415).
func contentEncoding(h http.Header) (decoding, error) {
	switch v := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding"))); v {
	case "", "identity":
		return encIdentity, nil
	case "gzip", "x-gzip":
		return encGzip, nil
	case "deflate":
		return encDeflate, nil
	case "snappy":
		return encSnappy, nil
	default:
		return 0, fmt.Errorf("Content-Encoding %q is not supported (identity, gzip, deflate, snappy)", v)
	}
}

// decompress decodes src into dst (reused) with at most limit bytes of
// output: a decompression bomb stops at limit with errTooLarge, having
// produced at most limit+1 bytes.
func decompress(dst, src []byte, enc decoding, limit int64) ([]byte, error) {
	switch enc {
	case encSnappy:
		return Snappy(dst, src, limit)
	case encGzip:
		zr, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return dst, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		out, err := readAll(dst[:0], zr, limit, -1)
		if err != nil && !errors.Is(err, errTooLarge) {
			err = fmt.Errorf("gzip: %w", err)
		}
		return out, err
	case encDeflate:
		fr := flate.NewReader(bytes.NewReader(src))
		defer fr.Close()
		out, err := readAll(dst[:0], fr, limit, -1)
		if err != nil && !errors.Is(err, errTooLarge) {
			err = fmt.Errorf("deflate: %w", err)
		}
		return out, err
	}
	return append(dst[:0], src...), nil
}

// Snappy decodes a snappy block (not framed: Loki's protobuf bodies) into
// dst (reused when large enough). A decoded length above limit is refused
// from the block's header, before any output is made (errTooLarge, which
// the server answers 413).
func Snappy(dst, src []byte, limit int64) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return dst, fmt.Errorf("snappy: %w", err)
	}
	if int64(n) > limit {
		return dst, errTooLarge
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	out, err := snappy.Decode(dst[:n], src)
	if err != nil {
		return dst, fmt.Errorf("snappy: %w", err)
	}
	return out, nil
}
