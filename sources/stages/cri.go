package stages

import (
	"container/list"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// criOptions are the keys of Promtail's cri stage.
type criOptions struct {
	// MaxPartialLines: how many streams may have a partial line held at
	// once (Promtail counts streams, not lines); default 100.
	MaxPartialLines int `yaml:"max_partial_lines"`
	// MaxPartialLineSize: with MaxPartialLineSizeTruncate, a joined line
	// is cut to this many bytes ("256KB" or a number of bytes).
	MaxPartialLineSize criSize `yaml:"max_partial_line_size"`
	// MaxPartialLineSizeTruncate turns the cut on.
	MaxPartialLineSizeTruncate bool `yaml:"max_partial_line_size_truncate"`
}

const (
	defaultMaxPartialLines = 100
	// criPartialWait: a partial line whose stream has had no line for
	// this long is handed on as it is (Promtail holds it until the
	// stream's next full line).
	criPartialWait = 3 * time.Second
)

// criStage is Promtail's cri stage: a line "<time> <stdout|stderr>
// <flags> <content>" gives the extracted values time, stream, flags and
// content; the stream label; the entry's time (RFC3339Nano, fudge); and
// the line (content). Partial lines (flags P) are joined per stream (label
// set) until the stream's next full line (F), which ends the joined entry;
// it has the Seq of its first piece and the time and extracted values of
// its last, as in Promtail. A line that does not parse passes unchanged,
// counted (Failed "cri", "malformed_line"), and counts as a full line.
//
// Bounds Promtail lacks: a joined line is handed on once it reaches
// maxJoinedBytes (unless max_partial_line_size_truncate cuts it), and
// after criPartialWait without a line on its stream (Tick). Entries leave
// in Seq order, as in multilineStage. Not safe for concurrent use.
type criStage struct {
	ts          *timestampStage
	failed      func(stage, reason string)
	now         func() time.Time
	maxPartials int
	cutAt       int // 0: no cut

	keys     streamKeys
	partials map[string]*criPartial
	order    list.List // of *criPartial, oldest first
	out      orderedOut
	pending  int // bytes of the partial lines held
}

type criPartial struct {
	key  string
	e    *Entry // copy of the last piece's entry (its line not kept)
	seq  uint64 // Seq of the first piece
	buf  []byte // the pieces joined
	last time.Time
	el   *list.Element
}

var _ Holder = (*criStage)(nil)

func parseCRI(p *parser, n *yaml.Node, key string, line int) Stage {
	var o criOptions
	if !p.decode(n, key, line, "cri", &o) {
		return nil
	}
	s, err := newCRIStage(o, p.env)
	if err != nil {
		p.failOption(n, key, line, err)
		return nil
	}
	return s
}

func newCRIStage(o criOptions, env Env) (*criStage, error) {
	if o.MaxPartialLines < 0 {
		return nil, optErr("max_partial_lines", fmt.Sprintf("must not be negative, got %d", o.MaxPartialLines))
	}
	if o.MaxPartialLines == 0 {
		o.MaxPartialLines = defaultMaxPartialLines
	}
	s := &criStage{
		ts:          rfc3339NanoStage("cri", "time", env),
		failed:      env.Failed,
		now:         env.Now,
		maxPartials: o.MaxPartialLines,
		partials:    make(map[string]*criPartial),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if o.MaxPartialLineSizeTruncate {
		if o.MaxPartialLineSize <= 0 {
			// Promtail would cut every partial line to nothing.
			return nil, optErr("max_partial_line_size", "must be set (more than 0 bytes) when max_partial_line_size_truncate is true")
		}
		s.cutAt = int(o.MaxPartialLineSize)
	}
	return s, nil
}

// splitCRI splits a CRI log line as Promtail's expression
// ^(?s)(?P<time>\S+?) (?P<stream>stdout|stderr) (?P<flags>\S+?) (?P<content>.*)$
// does (\S: not one of \t \n \f \r and space).
func splitCRI(line string) (ts, stream, flags, content string, ok bool) {
	i := criToken(line)
	if i <= 0 || i == len(line) || line[i] != ' ' {
		return
	}
	ts, rest := line[:i], line[i+1:]
	if len(rest) < 7 || (rest[:7] != "stdout " && rest[:7] != "stderr ") {
		return
	}
	stream, rest = rest[:6], rest[7:]
	j := criToken(rest)
	if j <= 0 || j == len(rest) || rest[j] != ' ' {
		return
	}
	return ts, stream, rest[:j], rest[j+1:], true
}

// criToken returns the length of the run of non-space bytes s starts with.
func criToken(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\f', '\r':
			return i
		}
	}
	return len(s)
}

// Process implements Stage.
func (s *criStage) Process(e *Entry, next func(*Entry)) {
	ts, stream, flags, content, ok := splitCRI(e.Line)
	if ok {
		e.Extracted["time"] = ts
		e.Extracted["stream"] = stream
		e.Extracted["flags"] = flags
		e.Extracted["content"] = content
	} else {
		s.fail("malformed_line")
	}
	// Promtail's cri stage also has an output stage for "tags", which
	// nothing extracts: it never changes the line.
	criDockerLabelTimeOutput(e, s.ts, "content", !ok, s.fail)

	key := s.keys.key(e.Labels)
	prev := s.partials[string(key)]
	if f, _ := e.Extracted["flags"].(string); f == "P" {
		if len(s.partials) >= s.maxPartials {
			// Promtail: past max_partial_lines streams, every partial line
			// held is handed on as it is, and this one starts again.
			for s.order.Len() > 0 {
				s.complete(s.order.Front().Value.(*criPartial))
			}
			prev = nil
		}
		if prev == nil {
			prev = &criPartial{key: string(key), seq: e.Seq}
			prev.el = s.order.PushBack(prev)
			s.partials[prev.key] = prev
		}
		prev.e = copyEntry(e)
		prev.e.Line = ""
		s.pending -= len(prev.buf)
		prev.buf = s.cut(append(prev.buf, e.Line...))
		s.pending += len(prev.buf)
		prev.last = s.now()
		if len(prev.buf) >= maxJoinedBytes {
			s.complete(prev)
		}
		s.bound()
		s.release(next)
		return
	}
	if prev != nil {
		// The full line ends the stream's partial line.
		s.pending -= len(prev.buf)
		e.Line = string(s.cut(append(prev.buf, e.Line...)))
		e.Seq = prev.seq
		s.forget(prev)
	}
	if s.out.empty() && s.order.Len() == 0 {
		next(e)
		return
	}
	s.out.add(copyEntry(e))
	s.bound()
	s.release(next)
}

func (s *criStage) fail(reason string) {
	if s.failed != nil {
		s.failed("cri", reason)
	}
}

// cut applies max_partial_line_size_truncate.
func (s *criStage) cut(b []byte) []byte {
	if s.cutAt > 0 && len(b) > s.cutAt {
		return b[:s.cutAt]
	}
	return b
}

// complete hands the partial line p on (to the output queue) as it is.
func (s *criStage) complete(p *criPartial) {
	e := p.e
	e.Seq = p.seq
	e.Line = string(p.buf)
	s.pending -= len(p.buf)
	s.forget(p)
	s.out.add(e)
}

func (s *criStage) forget(p *criPartial) {
	s.order.Remove(p.el)
	delete(s.partials, p.key)
}

// bound hands on the oldest partial lines while the stage holds too much.
func (s *criStage) bound() {
	for s.pending+s.out.bytes > maxHeldBytes && s.order.Len() > 0 {
		s.complete(s.order.Front().Value.(*criPartial))
	}
}

func (s *criStage) release(next func(*Entry)) {
	if s.out.empty() {
		return
	}
	if f := s.order.Front(); f != nil {
		s.out.release(f.Value.(*criPartial).seq, true, next)
		return
	}
	s.out.release(0, false, next)
}

// Tick implements Holder: partial lines idle for criPartialWait are handed
// on as they are.
func (s *criStage) Tick(now time.Time, next func(*Entry)) {
	for el := s.order.Front(); el != nil; {
		n := el.Next()
		if p := el.Value.(*criPartial); now.Sub(p.last) >= criPartialWait {
			s.complete(p)
		}
		el = n
	}
	s.release(next)
}

// Held implements Holder.
func (s *criStage) Held() (uint64, bool) {
	seq, ok := s.out.oldest()
	if f := s.order.Front(); f != nil {
		if p := f.Value.(*criPartial); !ok || p.seq < seq {
			return p.seq, true
		}
	}
	return seq, ok
}

// Flush implements Holder.
func (s *criStage) Flush(next func(*Entry)) {
	for s.order.Len() > 0 {
		s.complete(s.order.Front().Value.(*criPartial))
	}
	s.release(next)
}

// criSize is max_partial_line_size: a number of bytes (Promtail's <int>),
// or a size such as 256KB.
type criSize int

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *criSize) UnmarshalYAML(n *yaml.Node) error {
	var i int
	if err := n.Decode(&i); err == nil {
		*c = criSize(i)
		return nil
	}
	var str string
	if err := n.Decode(&str); err != nil {
		return err
	}
	b, err := parseByteSize(str)
	if err != nil {
		return err
	}
	*c = criSize(b)
	return nil
}
