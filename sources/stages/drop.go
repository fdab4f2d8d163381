package stages

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// dropOptions are the drop stage's options.
type dropOptions struct {
	Source            stringOrList `yaml:"source"`
	Separator         *string      `yaml:"separator"`
	Expression        *string      `yaml:"expression"`
	Value             *string      `yaml:"value"`
	OlderThan         *string      `yaml:"older_than"`
	LongerThan        *string      `yaml:"longer_than"`
	DropCounterReason string       `yaml:"drop_counter_reason"`
}

// stringOrList is a string or a list of strings (drop's source).
type stringOrList struct {
	set  bool
	list []string
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *stringOrList) UnmarshalYAML(n *yaml.Node) error {
	s.set = true
	if n.Kind == yaml.ScalarNode {
		s.list = []string{n.Value}
		return nil
	}
	if err := n.Decode(&s.list); err != nil {
		return fmt.Errorf("must be a string or a list of strings")
	}
	return nil
}

// dropStage drops the entries that meet every condition it has.
type dropStage struct {
	sources    []string
	separator  string
	re         *regexp.Regexp
	olderThan  time.Duration
	longerThan int
	hasOlder   bool
	hasLonger  bool
	reason     string
	env        Env
	parts      []string // scratch
}

func parseDrop(p *parser, n *yaml.Node, key string, line int) Stage {
	var o dropOptions
	if !p.decode(n, key, line, "drop", &o) {
		return nil
	}
	s := &dropStage{sources: o.Source.list, separator: ";", reason: "drop_stage", env: p.env}
	if o.DropCounterReason != "" {
		s.reason = o.DropCounterReason
	}
	if o.Separator != nil {
		s.separator = *o.Separator
	}
	if !o.Source.set && o.Expression == nil && o.OlderThan == nil && o.LongerThan == nil {
		p.fail(line, key, "needs at least one of source, expression, older_than or longer_than")
		return nil
	}
	if o.Source.set && len(o.Source.list) == 0 {
		p.fail(optionLine(n, "source", line), key+".source", "must name at least one extracted value")
	}
	if o.Value != nil && !o.Source.set {
		p.fail(optionLine(n, "value", line), key+".value", "needs source (the extracted value to compare)")
	}
	if o.Value != nil && o.Expression != nil {
		p.fail(optionLine(n, "value", line), key+".value", "value and expression cannot both be set")
	}
	if o.Expression != nil {
		s.re = p.compileRegex(*o.Expression, n, key, line, "expression")
	}
	if o.Value != nil {
		s.re = regexp.MustCompile("^" + regexp.QuoteMeta(*o.Value) + "$")
	}
	if o.OlderThan != nil {
		d, err := time.ParseDuration(*o.OlderThan)
		if err != nil {
			p.fail(optionLine(n, "older_than", line), key+".older_than", "not a duration (such as 24h or 90m): %v", err)
		}
		s.olderThan, s.hasOlder = d, true
	}
	if o.LongerThan != nil {
		b, err := parseByteSize(*o.LongerThan)
		if err != nil {
			p.fail(optionLine(n, "longer_than", line), key+".longer_than", "%v", err)
		}
		s.longerThan, s.hasLonger = b, true
	}
	return s
}

// parseByteSize reads sizes as Promtail's longer_than does (datasize,
// upper-cased): a whole number with an optional unit B, K/KB, M/MB, G/GB,
// T/TB (also KiB-style), 1K = 1024.
func parseByteSize(v string) (int, error) {
	u := strings.ToUpper(strings.TrimSpace(v))
	i := 0
	for i < len(u) && u[i] >= '0' && u[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("not a size (such as 4KB or 1MB): %q", v)
	}
	n, err := strconv.ParseInt(u[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q too large", v)
	}
	shift := 0
	switch strings.TrimSpace(u[i:]) {
	case "", "B":
	case "K", "KB", "KIB":
		shift = 10
	case "M", "MB", "MIB":
		shift = 20
	case "G", "GB", "GIB":
		shift = 30
	case "T", "TB", "TIB":
		shift = 40
	default:
		return 0, fmt.Errorf("not a size (such as 4KB or 1MB): %q", v)
	}
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q too large", v)
	}
	return int(n << shift), nil
}

// Process implements Stage.
func (s *dropStage) Process(e *Entry, next func(*Entry)) {
	if s.shouldDrop(e) {
		s.env.Dropped(s.reason)
		return
	}
	next(e)
}

// shouldDrop is true when every configured condition holds, as Promtail.
func (s *dropStage) shouldDrop(e *Entry) bool {
	if s.hasLonger && len(e.Line) <= s.longerThan {
		return false
	}
	if s.hasOlder && !e.Time.Before(s.env.Now().Add(-s.olderThan)) {
		return false
	}
	switch {
	case s.sources != nil && s.re == nil:
		for _, src := range s.sources {
			if _, ok := e.Extracted[src]; !ok {
				return false
			}
		}
	case s.sources == nil && s.re != nil:
		if !s.re.MatchString(e.Line) {
			return false
		}
	case s.sources != nil && s.re != nil:
		// Only the sources present are joined (Promtail).
		s.parts = s.parts[:0]
		for _, src := range s.sources {
			v, ok := e.Extracted[src]
			if !ok {
				continue
			}
			str, ok := toString(v)
			if !ok {
				return false
			}
			s.parts = append(s.parts, str)
		}
		var in string
		if len(s.parts) == 1 {
			in = s.parts[0]
		} else {
			in = strings.Join(s.parts, s.separator)
		}
		if !s.re.MatchString(in) {
			return false
		}
	}
	return true
}
