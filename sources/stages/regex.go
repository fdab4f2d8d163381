package stages

import (
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// regexOptions are the regex stage's options (Promtail's RegexConfig).
type regexOptions struct {
	Expression string  `yaml:"expression"`
	Source     *string `yaml:"source"`
}

// regexStage extracts the named groups of a RE2 expression matched against
// the line or an extracted value.
type regexStage struct {
	re     *regexp.Regexp
	names  []string // subexpression names, "" for unnamed
	source *string
	failed func(stage, reason string)
}

func parseRegex(p *parser, n *yaml.Node, key string, line int) Stage {
	var o regexOptions
	if !p.decode(n, key, line, "regex", &o) {
		return nil
	}
	re := p.compileRegex(o.Expression, n, key, line, "expression")
	if o.Source != nil && *o.Source == "" {
		p.fail(line, key+".source", "must not be empty (leave it out to match the line)")
	}
	if re == nil {
		return nil
	}
	return &regexStage{re: re, names: re.SubexpNames(), source: o.Source, failed: p.env.Failed}
}

// compileRegex compiles a required expression option, reporting problems
// at the option's line.
func (p *parser) compileRegex(expr string, n *yaml.Node, key string, line int, opt string) *regexp.Regexp {
	l := optionLine(n, opt, line)
	if expr == "" {
		p.fail(l, key+"."+opt, "is required (a RE2 regular expression)")
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		p.fail(l, key+"."+opt, "does not compile: %v", err)
		return nil
	}
	return re
}

// optionLine returns the line of option key in mapping n, or def.
func optionLine(n *yaml.Node, key string, def int) int {
	if n = config.ResolveAlias(n); n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1].Line
			}
		}
		return n.Line
	}
	return def
}

// Process implements Stage. Documented: Loki "regex" stage.
func (s *regexStage) Process(e *Entry, next func(*Entry)) {
	in, ok := sourceText(e, s.source)
	if !ok {
		s.failed("regex", sourceReason(e, s.source))
		next(e)
		return
	}
	m := s.re.FindStringSubmatchIndex(in)
	if m == nil {
		s.failed("regex", "no_match")
		next(e)
		return
	}
	for i, name := range s.names {
		if i == 0 || name == "" {
			continue
		}
		if m[2*i] < 0 {
			// An optional group that did not take part: Promtail's
			// FindStringSubmatch gives "" for it.
			e.Extracted[name] = ""
			continue
		}
		e.Extracted[name] = in[m[2*i]:m[2*i+1]]
	}
	next(e)
}

// sourceReason says why sourceText failed.
func sourceReason(e *Entry, src *string) string {
	if _, ok := e.Extracted[*src]; ok {
		return "source_not_a_string"
	}
	return "source_missing"
}
