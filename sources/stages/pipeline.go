package stages

import (
	"log/slog"
	"maps"
	"slices"
	"time"
)

// maxReordered bounds the entries a Pipeline keeps back behind a held one.
// Past it, the holders are flushed (a multiline block is cut short) so the
// buffer cannot grow without bound.
const maxReordered = 4096

// Pipeline is a parsed list of stages. It is not safe for concurrent use:
// one source goroutine owns it. It is itself a Holder, so a match stage
// runs its nested Pipeline like any other stage.
type Pipeline struct {
	env     Env
	top     bool
	stages  []Stage
	holders []Holder
	chain   []func(*Entry) // chain[i] runs stages[i] with chain[i+1] as next
	out     func(*Entry)   // the caller's next during a call
	buf     []*Entry       // entries behind a held one, sorted by Seq
	boxed   map[string]any // label values boxed for Extracted, reused
	warned  bool           // the reorder limit was logged
}

var _ Holder = (*Pipeline)(nil)

func newPipeline(env Env, top bool) *Pipeline {
	return &Pipeline{env: env, top: top, boxed: map[string]any{}}
}

func (p *Pipeline) add(s Stage) {
	p.stages = append(p.stages, s)
	if h, ok := s.(Holder); ok && isHolding(s) {
		p.holders = append(p.holders, h)
	}
	p.chain = nil
}

// isHolding reports whether s can actually hold entries (a nested pipeline
// only if one of its stages can).
func isHolding(s Stage) bool {
	switch s := s.(type) {
	case *Pipeline:
		return len(s.holders) > 0
	case *matchStage:
		return s.pipeline != nil && len(s.pipeline.holders) > 0
	}
	return true
}

// Len returns the number of stages (nested ones not counted).
func (p *Pipeline) Len() int { return len(p.stages) }

func (p *Pipeline) build() {
	p.chain = make([]func(*Entry), len(p.stages)+1)
	p.chain[len(p.stages)] = p.emit
	for i := len(p.stages) - 1; i >= 0; i-- {
		s, next := p.stages[i], p.chain[i+1]
		p.chain[i] = func(e *Entry) { s.Process(e, next) }
	}
}

// Process runs e through the stages and hands what comes out to next, in
// Seq order. First it sets e.Extracted to a copy of e.Labels (the source's
// pipeline clears it first; a nested match pipeline copies the labels over
// what earlier stages extracted, as Promtail does). e.Labels and
// e.Extracted may be nil. e and its maps belong to the caller again when
// Process returns; next must not keep them.
func (p *Pipeline) Process(e *Entry, next func(*Entry)) {
	if p.chain == nil {
		p.build()
	}
	if e.Labels == nil {
		e.Labels = map[string]string{}
	}
	if e.Extracted == nil {
		e.Extracted = make(map[string]any, len(e.Labels)+8)
	} else if p.top {
		clear(e.Extracted)
	}
	for k, v := range e.Labels {
		e.Extracted[k] = p.box(k, v)
	}
	p.out = next
	p.chain[0](e)
	p.drain()
	p.out = nil
}

// box returns v as an interface, reusing the last boxing of label k so a
// source's unchanging labels cost no allocation per entry.
func (p *Pipeline) box(k, v string) any {
	if b, ok := p.boxed[k]; ok {
		if s, _ := b.(string); s == v {
			return b
		}
	}
	if len(p.boxed) > 256 {
		clear(p.boxed)
	}
	b := any(v)
	p.boxed[k] = b
	return b
}

// Tick lets every holder release the entries whose time has come (by now).
func (p *Pipeline) Tick(now time.Time, next func(*Entry)) {
	if len(p.holders) == 0 && len(p.buf) == 0 {
		return
	}
	if p.chain == nil {
		p.build()
	}
	p.out = next
	for i, s := range p.stages {
		if h, ok := s.(Holder); ok && isHolding(s) {
			h.Tick(now, p.chain[i+1])
		}
	}
	p.drain()
	p.out = nil
}

// Flush hands on everything held, in Seq order (the file is gone, the
// source stops).
func (p *Pipeline) Flush(next func(*Entry)) {
	if p.chain == nil {
		p.build()
	}
	p.out = next
	p.flushHolders()
	p.drain()
	p.out = nil
}

func (p *Pipeline) flushHolders() {
	for i, s := range p.stages {
		if h, ok := s.(Holder); ok && isHolding(s) {
			h.Flush(p.chain[i+1])
		}
	}
}

// Held returns the smallest Seq of the entries the pipeline holds: in a
// holder stage, or kept back behind one.
func (p *Pipeline) Held() (uint64, bool) {
	seq, ok := p.heldByStages()
	if len(p.buf) > 0 && (!ok || p.buf[0].Seq < seq) {
		return p.buf[0].Seq, true
	}
	return seq, ok
}

func (p *Pipeline) heldByStages() (uint64, bool) {
	var seq uint64
	ok := false
	for _, h := range p.holders {
		if s, held := h.Held(); held && (!ok || s < seq) {
			seq, ok = s, true
		}
	}
	return seq, ok
}

// emit is the end of the chain: pass e on, or keep a copy of it back if an
// entry with a smaller Seq is still held.
func (p *Pipeline) emit(e *Entry) {
	held, ok := p.heldByStages()
	if (len(p.buf) == 0 || e.Seq <= p.buf[0].Seq) && (!ok || e.Seq <= held) {
		p.out(e)
		return
	}
	c := copyEntry(e)
	i, _ := slices.BinarySearchFunc(p.buf, c.Seq, func(x *Entry, s uint64) int {
		if x.Seq <= s {
			return -1
		}
		return 1
	})
	p.buf = slices.Insert(p.buf, i, c)
}

// drain passes on the kept-back entries no held entry precedes.
func (p *Pipeline) drain() {
	if len(p.buf) == 0 {
		return
	}
	if len(p.buf) > maxReordered {
		if !p.warned {
			p.warned = true
			p.env.Logger.Warn("too many entries held back behind a held entry; flushing held entries early (logged once)",
				slog.String("source", p.env.Source), slog.Int("limit", maxReordered))
		}
		p.flushHolders()
	}
	held, ok := p.heldByStages()
	n := 0
	for _, e := range p.buf {
		if ok && e.Seq > held {
			break
		}
		p.out(e)
		n++
	}
	clear(p.buf[:n])
	p.buf = slices.Delete(p.buf, 0, n)
}

// copyEntry copies what leaves a pipeline (not Extracted, which does not).
func copyEntry(e *Entry) *Entry {
	return &Entry{
		Seq:       e.Seq,
		Time:      e.Time,
		Line:      e.Line,
		Labels:    maps.Clone(e.Labels),
		Metadata:  maps.Clone(e.Metadata),
		Extracted: maps.Clone(e.Extracted),
	}
}

// withDefaults fills in what a zero Env leaves out.
func (env Env) withDefaults() Env {
	if env.Location == nil {
		env.Location = time.Local
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	if env.Dropped == nil {
		env.Dropped = func(string) {}
	}
	if env.Failed == nil {
		env.Failed = func(string, string) {}
	}
	return env
}
