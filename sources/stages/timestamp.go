package stages

import (
	"container/list"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// timestampOptions are the keys of Promtail's timestamp stage.
type timestampOptions struct {
	// Source is the extracted value holding the time.
	Source string `yaml:"source"`
	// Format is a Go layout or one of the named formats (ANSIC ...
	// RFC3339Nano, Unix, UnixMs, UnixUs, UnixNs).
	Format string `yaml:"format"`
	// FallbackFormats are tried in order when Format does not parse.
	FallbackFormats []string `yaml:"fallback_formats"`
	// Location is the IANA zone of times that carry none (nil: Env.Location).
	Location *string `yaml:"location"`
	// ActionOnFailure is fudge (default) or skip.
	ActionOnFailure *string `yaml:"action_on_failure"`
}

const (
	timestampFudge = "fudge"
	timestampSkip  = "skip"
	// fudgeStreams is how many label sets the fudge action remembers a
	// last good timestamp for (Promtail's LRU size).
	fudgeStreams = 10000
)

// Reasons counted by Env.Failed for a timestamp that was not set.
const (
	reasonTimestampMissing  = "timestamp_source_missing"
	reasonTimestampNotText  = "timestamp_not_a_string"
	reasonTimestampNoParse  = "timestamp_parse_failed"
	reasonTimestampTooLarge = "timestamp_out_of_range"
)

// timestampStage sets an entry's time from an extracted value.
type timestampStage struct {
	name   string // the stage name Env.Failed is given
	source string
	parse  timeParser
	fudge  *fudgeCache // nil: action_on_failure skip
	failed func(stage, reason string)
}

func parseTimestamp(p *parser, n *yaml.Node, key string, line int) Stage {
	var o timestampOptions
	if !p.decode(n, key, line, "timestamp", &o) {
		return nil
	}
	s, err := newTimestampStage(o, p.env)
	if err != nil {
		p.failOption(n, key, line, err)
		return nil
	}
	return s
}

// newTimestampStage checks o and builds the stage. Errors name the key.
func newTimestampStage(o timestampOptions, env Env) (*timestampStage, error) {
	if o.Source == "" {
		return nil, optErr("source", "is required")
	}
	if o.Format == "" {
		return nil, optErr("format", "is required")
	}
	loc := env.Location
	if o.Location != nil {
		l, err := time.LoadLocation(*o.Location)
		if err != nil {
			return nil, optErr("location", fmt.Sprintf("%q is not an IANA time zone: %v", *o.Location, err))
		}
		loc = l
	}
	if loc == nil {
		loc = time.Local
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	action := timestampFudge
	if o.ActionOnFailure != nil {
		action = *o.ActionOnFailure
	}
	if action != timestampFudge && action != timestampSkip {
		return nil, optErr("action_on_failure", fmt.Sprintf("must be fudge or skip, got %q", action))
	}
	parsers := make([]timeParser, 0, 1+len(o.FallbackFormats))
	parsers = append(parsers, newTimeParser(o.Format, loc, now))
	for i, f := range o.FallbackFormats {
		if f == "" {
			return nil, optErr(fmt.Sprintf("fallback_formats[%d]", i), "must not be empty")
		}
		parsers = append(parsers, newTimeParser(f, loc, now))
	}
	s := &timestampStage{name: "timestamp", source: o.Source, failed: env.Failed}
	s.parse = parsers[0]
	if len(parsers) > 1 {
		s.parse = func(text string) (time.Time, error) {
			t, err := parsers[0](text)
			if err == nil {
				return t, nil
			}
			for _, p := range parsers[1:] {
				if t, err2 := p(text); err2 == nil {
					return t, nil
				}
			}
			return t, err
		}
	}
	if action == timestampFudge {
		s.fudge = newFudgeCache(fudgeStreams)
	}
	return s, nil
}

// Process implements Stage.
func (s *timestampStage) Process(e *Entry, next func(*Entry)) {
	if reason := s.set(e); reason != "" && s.failed != nil {
		s.failed(s.name, reason)
	}
	next(e)
}

// set sets e.Time from the source value. When it cannot, it applies the
// action on failure and returns why (the caller counts it).
func (s *timestampStage) set(e *Entry) (reason string) {
	v, ok := e.Extracted[s.source]
	if !ok {
		return s.fail(e, reasonTimestampMissing)
	}
	text, ok := toString(v)
	if !ok {
		return s.fail(e, reasonTimestampNotText)
	}
	t, err := s.parse(text)
	if err == nil && (t.Before(minTime) || t.After(maxTime)) {
		err = errTimeRange
	}
	if err != nil {
		if errors.Is(err, errTimeRange) {
			return s.fail(e, reasonTimestampTooLarge)
		}
		return s.fail(e, reasonTimestampNoParse)
	}
	e.Time = t.UTC()
	if s.fudge != nil {
		s.fudge.put(e.Labels, e.Time)
	}
	return ""
}

// fail applies the action on failure to e and returns reason.
func (s *timestampStage) fail(e *Entry, reason string) string {
	if s.fudge == nil {
		return reason
	}
	// Promtail's fudge: the last good (or fudged) time of the same label
	// set plus 1ns; the entry's own time when there is none.
	if last, ok := s.fudge.get(e.Labels); ok {
		if last.Before(maxTime) {
			last = last.Add(time.Nanosecond)
		}
		e.Time = last
		s.fudge.put(e.Labels, e.Time)
	}
	return reason
}

// timeParser parses the text of a timestamp.
type timeParser func(string) (time.Time, error)

// errTimeRange: a time the WAL cannot store (Unix nanoseconds in an
// int64: years 1678 to 2262).
var errTimeRange = errors.New("timestamp out of range")

var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

// namedLayouts are the named formats that are Go layouts.
var namedLayouts = map[string]string{
	"ANSIC":       time.ANSIC,
	"UnixDate":    time.UnixDate,
	"RubyDate":    time.RubyDate,
	"RFC822":      time.RFC822,
	"RFC822Z":     time.RFC822Z,
	"RFC850":      time.RFC850,
	"RFC1123":     time.RFC1123,
	"RFC1123Z":    time.RFC1123Z,
	"RFC3339":     time.RFC3339,
	"RFC3339Nano": time.RFC3339Nano,
}

// newTimeParser returns the parser of format: a named format, a Unix
// epoch format, or a Go layout. Text without a zone is in loc. A layout
// without a year takes the year of now (the previous or next year when
// the month is December or January across new year), as Promtail does.
func newTimeParser(format string, loc *time.Location, now func() time.Time) timeParser {
	if layout, ok := namedLayouts[format]; ok {
		return func(s string) (time.Time, error) { return time.ParseInLocation(layout, s, loc) }
	}
	switch format {
	case "Unix":
		return parseUnixSeconds
	case "UnixMs":
		return unixScaled(int64(time.Millisecond))
	case "UnixUs":
		return unixScaled(int64(time.Microsecond))
	case "UnixNs":
		return unixScaled(1)
	}
	if !strings.Contains(format, "06") {
		return func(s string) (time.Time, error) { return parseWithoutYear(format, s, loc, now()) }
	}
	return func(s string) (time.Time, error) { return time.ParseInLocation(format, s, loc) }
}

// parseUnixSeconds parses seconds since the epoch, with an optional
// fraction of up to 9 digits significant ("1562708916.000000123").
func parseUnixSeconds(s string) (time.Time, error) {
	sec, frac, hasFrac := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var ns int64
	if hasFrac {
		if frac == "" {
			return time.Time{}, fmt.Errorf("parse %q: empty fraction", s)
		}
		for i := 0; i < len(frac); i++ {
			c := frac[i]
			if c < '0' || c > '9' {
				return time.Time{}, fmt.Errorf("parse %q: fraction is not digits", s)
			}
			if i < 9 {
				ns = ns*10 + int64(c-'0')
			}
		}
		for i := len(frac); i < 9; i++ {
			ns *= 10
		}
	}
	const maxSec = (1<<63 - 1) / int64(time.Second)
	if n > maxSec || n < -maxSec {
		return time.Time{}, errTimeRange
	}
	return time.Unix(n, ns), nil
}

// unixScaled parses an integer count of unit nanoseconds since the epoch.
func unixScaled(unit int64) timeParser {
	return func(s string) (time.Time, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		if n > (1<<63-1)/unit || n < -(1<<63-1)/unit {
			return time.Time{}, errTimeRange
		}
		return time.Unix(0, n*unit), nil
	}
}

// parseWithoutYear parses s with a layout that has no year and puts the
// time in the year of now, or in the year before or after when the time
// is in December and now in January, or the other way round.
func parseWithoutYear(layout, s string, loc *time.Location, now time.Time) (time.Time, error) {
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return t, err
	}
	if t.Year() != 0 {
		return t, fmt.Errorf("timestamp %q is expected to not contain the year", s)
	}
	year := now.In(loc).Year()
	switch {
	case t.Month() == time.December && now.Month() == time.January:
		year--
	case t.Month() == time.January && now.Month() == time.December:
		year++
	}
	return t.AddDate(year, 0, 0), nil
}

// fudgeCache remembers the last good timestamp of up to size label sets,
// dropping the least recently used. Not safe for concurrent use.
type fudgeCache struct {
	size  int
	keys  streamKeys
	items map[string]*list.Element
	lru   list.List // of *fudgeItem, most recent first
}

type fudgeItem struct {
	key string
	t   time.Time
}

func newFudgeCache(size int) *fudgeCache {
	return &fudgeCache{size: size, items: make(map[string]*list.Element)}
}

func (c *fudgeCache) get(labels map[string]string) (time.Time, bool) {
	el, ok := c.items[string(c.keys.key(labels))]
	if !ok {
		return time.Time{}, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*fudgeItem).t, true
}

func (c *fudgeCache) put(labels map[string]string, t time.Time) {
	k := c.keys.key(labels)
	if el, ok := c.items[string(k)]; ok {
		el.Value.(*fudgeItem).t = t
		c.lru.MoveToFront(el)
		return
	}
	if c.lru.Len() >= c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.items, old.Value.(*fudgeItem).key)
	}
	it := &fudgeItem{key: string(k), t: t}
	c.items[it.key] = c.lru.PushFront(it)
}
