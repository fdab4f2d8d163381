package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrFraming is wrapped by the error of a stream whose bytes are not RFC
// 6587 frames: a bad octet count, or a connection closed in the middle of
// an octet-counted frame. The stream is not read further.
var ErrFraming = errors.New("syslog framing error")

// frameStatus says what Next returned.
type frameStatus int

const (
	frameWhole   frameStatus = iota // a whole message
	frameCut                        // the first max bytes of a longer message (truncate policy)
	frameDropped                    // a longer message, dropped (drop policy); no bytes
)

// busyBuffer is the most a stream's buffer grows to for a busy
// connection (frames longer than it grow it further, once).
const busyBuffer = 64 << 10

// maxCountDigits bounds an octet count: 9 digits is more than
// MaxMaxMessageLength.
const maxCountDigits = 9

// framer splits a byte stream into syslog messages as RFC 6587 frames
// them, deciding per frame: a frame that starts with a digit is octet
// counted ("LEN SP MSG"), any other is non-transparent, ended by LF (a
// '\r' before it is dropped). LF and CR between frames are skipped, so
// octet-counted frames followed by a newline (as some senders write them)
// are read too. A message longer than max is cut to max bytes or dropped;
// the rest of it is discarded as it arrives, never buffered. At the end
// of the stream an unterminated non-transparent message is a message; an
// octet-counted one cut short is a framing error.
//
// Its buffer starts at initial bytes and grows while a frame longer than
// that arrives (to at most max plus the octet count), or, doubling, while
// reads fill it (a busy connection; up to busyBuffer); it shrinks back once
// the frame is consumed or reads are small again. Not safe for concurrent
// use.
type framer struct {
	r       io.Reader
	buf     []byte
	start   int // buf[start:end] is read and not consumed
	end     int
	max     int
	drop    bool
	initial int
	skip    int  // bytes of an oversized octet-counted frame still to discard
	skipLF  bool // discarding up to the next LF (an oversized non-transparent frame)
	eof     bool
	// lastRead is the size of the last read: a read that fills the free
	// space doubles the buffer (a busy connection reads more at once, up
	// to busyBuffer); one under initial/2 shrinks it back.
	lastRead int
	// beforeRead, when set, is called before every read of r (which may
	// block): the connection hands over what it parsed.
	beforeRead func()
	// received counts the bytes read from r.
	received int64
}

func newFramer(r io.Reader, max, initial int, drop bool) *framer {
	initial = min(initial, max+maxCountDigits+2)
	return &framer{r: r, buf: make([]byte, initial), max: max, drop: drop, initial: initial}
}

// partial reports whether part of a frame has been read: the bytes an
// error now would lose.
func (f *framer) partial() bool { return f.end > f.start || f.skip > 0 || f.skipLF }

// next returns the next message. Its bytes are valid until the next call.
// The error is io.EOF at a clean end of the stream, a wrapped ErrFraming,
// or r's error; after an error next must not be called again.
func (f *framer) next() ([]byte, frameStatus, error) {
	for {
		if f.skip > 0 {
			n := min(f.skip, f.end-f.start)
			f.start += n
			f.skip -= n
		}
		if f.skipLF {
			if i := bytes.IndexByte(f.buf[f.start:f.end], '\n'); i >= 0 {
				f.start += i + 1
				f.skipLF = false
			} else {
				f.start = f.end
			}
		}
		for f.skip == 0 && !f.skipLF && f.start < f.end && (f.buf[f.start] == '\n' || f.buf[f.start] == '\r') {
			f.start++
		}
		data := f.buf[f.start:f.end]
		if f.skip == 0 && !f.skipLF && len(data) > 0 {
			var (
				msg  []byte
				st   frameStatus
				done bool
				err  error
			)
			if isDigit(data[0]) {
				msg, st, done, err = f.octetCounted(data)
			} else {
				msg, st, done = f.nonTransparent(data)
			}
			if err != nil {
				return nil, 0, err
			}
			if done {
				return msg, st, nil
			}
		}
		if err := f.fill(); err != nil {
			return nil, 0, err
		}
	}
}

// octetCounted takes one "LEN SP MSG" frame from data, which starts with
// a digit; done is false when more bytes are needed.
func (f *framer) octetCounted(data []byte) (msg []byte, st frameStatus, done bool, err error) {
	n, i := 0, 0
	for ; i < len(data) && isDigit(data[i]); i++ {
		if i == maxCountDigits {
			return nil, 0, false, fmt.Errorf("%w: octet count %q... has more than %d digits", ErrFraming, data[:i], maxCountDigits)
		}
		n = n*10 + int(data[i]-'0')
	}
	if i == len(data) {
		return nil, 0, false, nil // the count goes on
	}
	if data[i] != ' ' {
		return nil, 0, false, fmt.Errorf("%w: octet count %q followed by %q, not a space", ErrFraming, data[:i], data[i])
	}
	if n == 0 || data[0] == '0' {
		return nil, 0, false, fmt.Errorf("%w: octet count %q", ErrFraming, data[:i])
	}
	hdr := i + 1
	switch {
	case n <= f.max:
		if len(data) < hdr+n {
			f.want(hdr + n)
			return nil, 0, false, nil
		}
		f.start += hdr + n
		return data[hdr : hdr+n], frameWhole, true, nil
	case f.drop:
		f.start += hdr
		f.skip = n
		return nil, frameDropped, true, nil
	default:
		if len(data) < hdr+f.max {
			f.want(hdr + f.max)
			return nil, 0, false, nil
		}
		f.start += hdr + f.max
		f.skip = n - f.max
		return data[hdr : hdr+f.max], frameCut, true, nil
	}
}

// nonTransparent takes one LF-terminated frame from data; done is false
// when more bytes are needed.
func (f *framer) nonTransparent(data []byte) (msg []byte, st frameStatus, done bool) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		f.start += i + 1
		msg, st = f.limit(bytes.TrimSuffix(data[:i], []byte{'\r'}))
		return msg, st, true
	}
	if len(data) > f.max+1 { // longer than max even if it ends with "\r\n"
		if f.drop {
			f.start = f.end
			f.skipLF = true
			return nil, frameDropped, true
		}
		f.start += f.max
		f.skipLF = true
		return data[:f.max], frameCut, true
	}
	if f.eof {
		f.start = f.end
		msg, st = f.limit(bytes.TrimSuffix(data, []byte{'\r'}))
		return msg, st, true
	}
	f.want(f.max + 2)
	return nil, 0, false
}

// limit applies the length policy to a whole non-transparent message.
func (f *framer) limit(msg []byte) ([]byte, frameStatus) {
	switch {
	case len(msg) <= f.max:
		return msg, frameWhole
	case f.drop:
		return nil, frameDropped
	}
	return msg[:f.max], frameCut
}

// want makes room for a frame of n bytes from start.
func (f *framer) want(n int) {
	if n <= len(f.buf) {
		return
	}
	if f.start > 0 {
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.start = 0
		if n <= len(f.buf) {
			return
		}
	}
	size := len(f.buf)
	for size < n {
		size *= 2
	}
	size = min(size, f.max+maxCountDigits+2)
	nb := make([]byte, max(size, n))
	f.end = copy(nb, f.buf[:f.end])
	f.buf = nb
}

// fill reads more bytes into the buffer, compacting it first.
func (f *framer) fill() error {
	if f.eof {
		if f.end > f.start && isDigit(f.buf[f.start]) && f.skip == 0 && !f.skipLF {
			return fmt.Errorf("%w: stream ended in the middle of an octet-counted frame (%d bytes)", ErrFraming, f.end-f.start)
		}
		if f.skip > 0 {
			return fmt.Errorf("%w: stream ended %d bytes before the end of a frame", ErrFraming, f.skip)
		}
		return io.EOF
	}
	switch {
	case f.start == f.end:
		f.start, f.end = 0, 0
		switch {
		case len(f.buf) > busyBuffer || (len(f.buf) > f.initial && f.lastRead < f.initial/2):
			f.buf = make([]byte, f.initial) // a long frame is done, or the connection is quiet
		case f.lastRead == len(f.buf) && len(f.buf) < busyBuffer:
			f.buf = make([]byte, 2*len(f.buf)) // busy: read more at once
		}
	case f.end == len(f.buf) && f.start > 0:
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.start = 0
	case f.end == len(f.buf):
		f.want(min(len(f.buf)*2, f.max+maxCountDigits+2)) // a count or an oversized line that did not fit yet
	}
	if f.end == len(f.buf) {
		// cannot happen: a frame is decided before it outgrows the buffer
		return fmt.Errorf("%w: internal error: %d bytes buffered and no frame decided", ErrFraming, f.end-f.start)
	}
	if f.beforeRead != nil {
		f.beforeRead()
	}
	n, err := f.r.Read(f.buf[f.end:])
	f.lastRead = n
	f.end += n
	f.received += int64(n)
	if errors.Is(err, io.EOF) {
		f.eof = true
		return nil
	}
	return err
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
