package stages

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/time/rate"
)

// limitOptions are the keys of Promtail's limit stage.
type limitOptions struct {
	Rate              float64 `yaml:"rate"`
	Burst             int     `yaml:"burst"`
	Drop              bool    `yaml:"drop"`
	ByLabelName       string  `yaml:"by_label_name"`
	MaxDistinctLabels int     `yaml:"max_distinct_labels"`
}

const (
	// minDistinctLabels is Promtail's floor for max_distinct_labels (and
	// its default): a smaller value is raised to it, with a warning.
	minDistinctLabels = 10000
	// limitDropReason is Promtail's drop_counter_reason for the stage.
	limitDropReason = "ratelimit_drop_stage"
)

// limitStage is Promtail's limit stage: a token bucket of rate lines a
// second and burst lines. With drop, a line beyond the rate is dropped
// (counted as "ratelimit_drop_stage"); with by_label_name, each value of
// that label has its own bucket (lines without the label are not
// limited), for up to max_distinct_labels recently seen values.
//
// Without drop, Process waits for a token, as Promtail does: the source's
// goroutine sleeps, so the source reads no faster than rate lines a second
// and the files hold the backlog. One wait is at most 1/rate seconds (one
// token; the source calls Process one entry at a time), and Close ends it
// at once: the waiting entry is handed on. Process is called by the
// source's goroutine only; Close may be called from any goroutine.
type limitStage struct {
	drop    bool
	label   string
	now     func() time.Time
	dropped func(reason string)

	newLimiter func() *rate.Limiter
	limiter    *rate.Limiter // without by_label_name
	byValue    genMap        // with by_label_name

	stop     chan struct{} // closed by Close
	stopOnce sync.Once
}

func parseLimit(p *parser, n *yaml.Node, key string, line int) Stage {
	var o limitOptions
	if !p.decode(n, key, line, "limit", &o) {
		return nil
	}
	s, err := newLimitStage(o, p.env)
	if err != nil {
		p.failOption(n, key, line, err)
		return nil
	}
	return s
}

func newLimitStage(o limitOptions, env Env) (*limitStage, error) {
	if o.Rate <= 0 {
		return nil, optErr("rate", fmt.Sprintf("must be more than 0 lines a second, got %v", o.Rate))
	}
	if o.Burst <= 0 {
		return nil, optErr("burst", fmt.Sprintf("must be at least 1 line, got %d", o.Burst))
	}
	if o.ByLabelName != "" && !o.Drop {
		return nil, optErr("drop", "must be true when by_label_name is set (Promtail's rule)")
	}
	if o.MaxDistinctLabels < 0 {
		return nil, optErr("max_distinct_labels", "must not be negative")
	}
	s := &limitStage{
		drop:    o.Drop,
		label:   o.ByLabelName,
		now:     env.Now,
		dropped: env.Dropped,
		stop:    make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.newLimiter = func() *rate.Limiter { return rate.NewLimiter(rate.Limit(o.Rate), o.Burst) }
	if o.ByLabelName == "" {
		s.limiter = s.newLimiter()
		return s, nil
	}
	size := o.MaxDistinctLabels
	if size == 0 {
		size = minDistinctLabels
	} else if size < minDistinctLabels {
		if env.Logger != nil {
			env.Logger.Warn("limit stage: max_distinct_labels raised to Promtail's minimum",
				slog.String("source", env.Source), slog.Int("max_distinct_labels", o.MaxDistinctLabels), slog.Int("used", minDistinctLabels))
		}
		size = minDistinctLabels
	}
	s.byValue = genMap{max: size, cur: map[string]*rate.Limiter{}}
	return s, nil
}

// Process implements Stage.
func (s *limitStage) Process(e *Entry, next func(*Entry)) {
	if s.label != "" {
		v, ok := e.Labels[s.label]
		if ok && !s.byValue.get(v, s.newLimiter).AllowN(s.now(), 1) {
			s.drops()
			return
		}
		next(e)
		return
	}
	if s.drop {
		if !s.limiter.AllowN(s.now(), 1) {
			s.drops()
			return
		}
		next(e)
		return
	}
	now := s.now()
	if d := s.limiter.ReserveN(now, 1).DelayFrom(now); d > 0 {
		s.wait(d)
	}
	next(e)
}

// wait sleeps for d, or until Close.
func (s *limitStage) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.stop:
	}
}

func (s *limitStage) drops() {
	if s.dropped != nil {
		s.dropped(limitDropReason)
	}
}

// Close ends a wait under way and every later one. Safe to call more than
// once, from any goroutine.
func (s *limitStage) Close() { s.stopOnce.Do(func() { close(s.stop) }) }

// genMap keeps the values seen recently, in two generations as Promtail's
// limit stage does: when the current one reaches max values it becomes
// the old one (the values not seen since are forgotten).
type genMap struct {
	max      int
	cur, old map[string]*rate.Limiter
}

func (m *genMap) get(k string, create func() *rate.Limiter) *rate.Limiter {
	if l, ok := m.cur[k]; ok {
		return l
	}
	l, ok := m.old[k]
	if !ok {
		l = create()
	}
	m.cur[k] = l
	if len(m.cur) >= m.max {
		m.old, m.cur = m.cur, make(map[string]*rate.Limiter)
	}
	return l
}
