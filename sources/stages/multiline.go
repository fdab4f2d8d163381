package stages

import (
	"fmt"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"
)

// multilineOptions are the keys of Promtail's multiline stage.
type multilineOptions struct {
	// FirstLine is the RE2 expression that starts a block (required).
	FirstLine *string `yaml:"firstline"`
	// MaxWaitTime is how long a stream may be idle before its block is
	// handed on (a Go duration; default 3s).
	MaxWaitTime *string `yaml:"max_wait_time"`
	// MaxLines is the most lines of a block (default 128; 0: no limit
	// but the byte bound).
	MaxLines *uint64 `yaml:"max_lines"`
}

const (
	defaultMultilineWait  = 3 * time.Second
	defaultMultilineLines = 128
)

// multilineStage joins the lines of a block, per stream (label set),
// Promtail's way:
//
//   - A stream's lines pass through alone until its first line that
//     matches firstline. From then on every line of the stream belongs
//     to a block: a first line ends the block under way and starts one.
//   - A block is handed on as one entry, its lines joined with "\n",
//     with the labels, extracted map, metadata and time of the block's
//     start line, and the Seq of its first line.
//   - A block is handed on when a first line comes, when it has
//     max_lines lines, when it reaches maxJoinedBytes, or when its stream
//     has been idle for max_wait_time (Tick). The lines after such a
//     cut form a block of their own that keeps the start line's
//     labels and time, as Promtail does.
//
// Entries leave in Seq order: while a block is under way, the entries
// of other streams wait behind it (bounded by maxHeldBytes: past it, the
// oldest block is handed on as it is). Not safe for concurrent use; the
// source's goroutine calls Process and Tick.
type multilineStage struct {
	re       *regexp.Regexp
	maxWait  time.Duration
	maxLines uint64
	now      func() time.Time

	keys    streamKeys
	streams map[string]*multilineStream
	out     orderedOut
	pending int // bytes of the blocks under way
	// The streams with a block under way, oldest block first.
	head, tail *multilineStream
}

type multilineStream struct {
	start *Entry // copy of the last start line's entry
	seq   uint64 // Seq of the block's first line
	buf   []byte // the block's lines, joined
	lines uint64
	last  time.Time // when the stream last had a line

	prev, next *multilineStream // in the stage's list of blocks under way
}

var _ Holder = (*multilineStage)(nil)

func parseMultiline(p *parser, n *yaml.Node, key string, line int) Stage {
	var o multilineOptions
	if !p.decode(n, key, line, "multiline", &o) {
		return nil
	}
	s, err := newMultilineStage(o, p.env)
	if err != nil {
		p.failOption(n, key, line, err)
		return nil
	}
	return s
}

func newMultilineStage(o multilineOptions, env Env) (*multilineStage, error) {
	if o.FirstLine == nil || *o.FirstLine == "" {
		return nil, optErr("firstline", "is required: the RE2 expression that matches the first line of a block")
	}
	re, err := regexp.Compile(*o.FirstLine)
	if err != nil {
		return nil, optErr("firstline", fmt.Sprintf("does not compile: %v", err))
	}
	s := &multilineStage{
		re:       re,
		maxWait:  defaultMultilineWait,
		maxLines: defaultMultilineLines,
		now:      env.Now,
		streams:  make(map[string]*multilineStream),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if o.MaxWaitTime != nil {
		d, err := time.ParseDuration(*o.MaxWaitTime)
		if err != nil {
			return nil, optErr("max_wait_time", fmt.Sprintf("is not a duration (like 3s): %v", err))
		}
		if d < 0 {
			return nil, optErr("max_wait_time", "must not be negative")
		}
		s.maxWait = d
	}
	if o.MaxLines != nil {
		s.maxLines = *o.MaxLines
	}
	return s, nil
}

// Process implements Stage.
func (s *multilineStage) Process(e *Entry, next func(*Entry)) {
	key := s.keys.key(e.Labels)
	st := s.streams[string(key)]
	first := s.re.MatchString(e.Line)
	if st == nil {
		if !first {
			// Before the stream's first start line: the line passes alone.
			s.pass(e, next)
			return
		}
		st = s.newStream(string(key))
	}
	if first {
		s.complete(st)
		st.start = copyEntry(e)
	}
	if st.lines == 0 {
		st.seq = e.Seq
		s.link(st)
	} else {
		st.buf = append(st.buf, '\n')
		s.pending++
	}
	st.buf = append(st.buf, e.Line...)
	s.pending += len(e.Line)
	st.lines++
	st.last = s.now()
	if st.lines == s.maxLines || len(st.buf) >= maxJoinedBytes {
		s.complete(st)
	}
	s.bound()
	s.release(next)
}

// pass hands e on, or queues a copy behind the blocks under way.
func (s *multilineStage) pass(e *Entry, next func(*Entry)) {
	if s.out.empty() && s.head == nil {
		next(e)
		return
	}
	s.out.add(copyEntry(e))
	s.bound()
	s.release(next)
}

func (s *multilineStage) newStream(key string) *multilineStream {
	if len(s.streams) >= maxHeldStreams {
		// Forget the stream idle the longest (handing on its block).
		var oldest string
		var ot time.Time
		for k, st := range s.streams {
			if oldest == "" || st.last.Before(ot) {
				oldest, ot = k, st.last
			}
		}
		s.complete(s.streams[oldest])
		delete(s.streams, oldest)
	}
	st := &multilineStream{}
	s.streams[key] = st
	return st
}

// complete moves the block under way in st, if any, to the output queue.
func (s *multilineStage) complete(st *multilineStream) {
	if st.lines == 0 {
		return
	}
	e := copyEntry(st.start)
	e.Seq = st.seq
	e.Line = string(st.buf)
	s.pending -= len(st.buf)
	st.buf = st.buf[:0]
	if cap(st.buf) > 64<<10 {
		st.buf = nil // do not keep a large block's buffer for ever
	}
	st.lines = 0
	s.unlink(st)
	s.out.add(e)
}

// link appends st, whose block has just started, to the list of blocks
// under way (blocks start in Seq order, so the list stays sorted).
func (s *multilineStage) link(st *multilineStream) {
	st.prev, st.next = s.tail, nil
	if s.tail != nil {
		s.tail.next = st
	} else {
		s.head = st
	}
	s.tail = st
}

func (s *multilineStage) unlink(st *multilineStream) {
	if st.prev != nil {
		st.prev.next = st.next
	} else {
		s.head = st.next
	}
	if st.next != nil {
		st.next.prev = st.prev
	} else {
		s.tail = st.prev
	}
	st.prev, st.next = nil, nil
}

// oldestBlock returns the stream whose block under way is the oldest.
func (s *multilineStage) oldestBlock() *multilineStream { return s.head }

// bound hands on the oldest blocks while the stage holds too much.
func (s *multilineStage) bound() {
	for s.pending+s.out.bytes > maxHeldBytes {
		o := s.oldestBlock()
		if o == nil {
			return
		}
		s.complete(o)
	}
}

// release hands on the queued entries older than every block under way.
func (s *multilineStage) release(next func(*Entry)) {
	if s.out.empty() {
		return
	}
	if o := s.oldestBlock(); o != nil {
		s.out.release(o.seq, true, next)
		return
	}
	s.out.release(0, false, next)
}

// Tick implements Holder: the blocks of streams idle for max_wait_time
// are handed on.
func (s *multilineStage) Tick(now time.Time, next func(*Entry)) {
	for st := s.head; st != nil; {
		n := st.next
		if now.Sub(st.last) >= s.maxWait {
			s.complete(st)
		}
		st = n
	}
	s.release(next)
}

// Held implements Holder.
func (s *multilineStage) Held() (uint64, bool) {
	seq, ok := s.out.oldest()
	if o := s.oldestBlock(); o != nil && (!ok || o.seq < seq) {
		return o.seq, true
	}
	return seq, ok
}

// Flush implements Holder.
func (s *multilineStage) Flush(next func(*Entry)) {
	for s.head != nil {
		s.complete(s.head)
	}
	s.release(next)
}
