package stages

import (
	"fmt"
	"hash/fnv"
	"math"

	"go.yaml.in/yaml/v3"
)

// samplingOptions are the keys of Promtail's sampling stage.
type samplingOptions struct {
	// Rate is the share of entries kept, 0 to 1.
	Rate float64 `yaml:"rate"`
	// DropCounterReason counts the dropped entries; default sampling_stage.
	DropCounterReason string `yaml:"drop_counter_reason"`
}

// samplingStage keeps a share rate of the entries and drops the others,
// counted under drop_counter_reason.
//
// Promtail draws a random number per entry from a generator seeded with
// the clock. Here the draw is a hash of the entry's Seq (and the source's
// name), so a source that reads the same lines again with the same Seq
// (a re-read after a crash) keeps and drops the same ones. The hash is a
// good mix, so the kept share is rate; two sampling stages with the same
// rate in one pipeline decide alike (the second keeps all the first did).
type samplingStage struct {
	boundary uint64 // keep when the draw is at most this
	salt     uint64
	reason   string
	dropped  func(reason string)
}

// maxDraw is the largest draw (Promtail's 2^63-1).
const maxDraw = 1<<63 - 1

func parseSampling(p *parser, n *yaml.Node, key string, line int) Stage {
	var o samplingOptions
	if !p.decode(n, key, line, "sampling", &o) {
		return nil
	}
	s, err := newSamplingStage(o, p.env)
	if err != nil {
		p.failOption(n, key, line, err)
		return nil
	}
	return s
}

func newSamplingStage(o samplingOptions, env Env) (*samplingStage, error) {
	if math.IsNaN(o.Rate) || o.Rate < 0 || o.Rate > 1 {
		return nil, optErr("rate", fmt.Sprintf("must be between 0.0 and 1.0, got %v", o.Rate))
	}
	h := fnv.New64a()
	h.Write([]byte(env.Source))
	s := &samplingStage{
		boundary: uint64(float64(maxDraw) * o.Rate),
		salt:     h.Sum64(),
		reason:   o.DropCounterReason,
		dropped:  env.Dropped,
	}
	if s.reason == "" {
		s.reason = "sampling_stage"
	}
	return s, nil
}

// Process implements Stage.
func (s *samplingStage) Process(e *Entry, next func(*Entry)) {
	if s.keep(e.Seq) {
		next(e)
		return
	}
	if s.dropped != nil {
		s.dropped(s.reason)
	}
}

// keep draws a number in [1, 2^63-1] from seq and compares it with the
// boundary, as Promtail compares its random draw (never 0, so rate 0
// keeps nothing).
func (s *samplingStage) keep(seq uint64) bool {
	d := splitmix64(seq^s.salt) & maxDraw
	if d == 0 {
		d = 1
	}
	return d <= s.boundary
}

// splitmix64 is the finalizer of the SplitMix64 generator: a bijective
// mix of x whose outputs are uniformly spread for consecutive inputs.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
