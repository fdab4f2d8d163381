package stages

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Selector is a LogQL stream selector with optional line filters, the
// part of LogQL the match stage takes:
//
//	{app="api", level=~"warn|error"} |= "timeout" != "retry" |~ `code=5\d\d`
//
// Label matchers are =, !=, =~ and !~ (regexes anchored, as in LogQL; an
// absent label matches as ""). Line filters are |=, !=, |~ and !~ (regexes
// not anchored), each with optional `or "alternative"`s. Parser stages
// (| json, | logfmt...) are refused: the match stage only selects.
type Selector struct {
	matchers []labelMatcher
	filters  []lineFilter
}

type labelMatcher struct {
	name, op, value string
	re              *regexp.Regexp
}

type lineFilter struct {
	op     string
	values []string
	res    []*regexp.Regexp
}

func (m labelMatcher) matches(v string) bool {
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	case "=~":
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

func (f lineFilter) matches(line string) bool {
	any := false
	for i, v := range f.values {
		switch f.op {
		case "|=", "!=":
			any = strings.Contains(line, v)
		default:
			any = f.res[i].MatchString(line)
		}
		if any {
			break
		}
	}
	if f.op == "!=" || f.op == "!~" {
		return !any
	}
	return any
}

// Matches reports whether labels and line are selected.
func (s *Selector) Matches(labels map[string]string, line string) bool {
	for _, m := range s.matchers {
		if !m.matches(labels[m.name]) {
			return false
		}
	}
	for _, f := range s.filters {
		if !f.matches(line) {
			return false
		}
	}
	return true
}

// ParseSelector parses a stream selector with optional line filters. The
// error says where the text stops making sense.
func ParseSelector(text string) (*Selector, error) {
	p := &selParser{s: text}
	sel, err := p.parse()
	if err != nil {
		return nil, err
	}
	return sel, nil
}

type selParser struct {
	s string
	i int
}

func (p *selParser) errf(format string, args ...any) error {
	return fmt.Errorf("at column %d: %s", p.i+1, fmt.Sprintf(format, args...))
}

func (p *selParser) ws() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *selParser) take(tok string) bool {
	p.ws()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *selParser) parse() (*Selector, error) {
	sel := &Selector{}
	if !p.take("{") {
		return nil, p.errf("a selector starts with {, such as {app=\"api\"}")
	}
	for {
		p.ws()
		name := p.ident()
		if name == "" {
			return nil, p.errf("expected a label name")
		}
		p.ws()
		var op string
		for _, o := range []string{"=~", "!~", "!=", "="} {
			if p.take(o) {
				op = o
				break
			}
		}
		if op == "" {
			return nil, p.errf("expected =, !=, =~ or !~ after %s", name)
		}
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		m := labelMatcher{name: name, op: op, value: v}
		if op == "=~" || op == "!~" {
			if m.re, err = regexp.Compile("^(?:" + v + ")$"); err != nil {
				return nil, fmt.Errorf("regex of %s: %w", name, err)
			}
		}
		sel.matchers = append(sel.matchers, m)
		if p.take(",") {
			continue
		}
		if p.take("}") {
			break
		}
		return nil, p.errf("expected , or }")
	}
	nonEmpty := false
	for _, m := range sel.matchers {
		if !m.matches("") {
			nonEmpty = true
		}
	}
	if !nonEmpty {
		return nil, fmt.Errorf("a selector needs at least one matcher that does not match the empty value, such as {app=\"api\"} (LogQL's rule)")
	}
	for {
		p.ws()
		if p.i == len(p.s) {
			return sel, nil
		}
		var op string
		for _, o := range []string{"|=", "!=", "|~", "!~"} {
			if p.take(o) {
				op = o
				break
			}
		}
		if op == "" {
			if strings.HasPrefix(p.s[p.i:], "|") {
				return nil, p.errf("only line filters (|=, !=, |~, !~) may follow the selector in a match stage")
			}
			return nil, p.errf("unexpected %q", p.s[p.i:])
		}
		f := lineFilter{op: op}
		for {
			v, err := p.str()
			if err != nil {
				return nil, err
			}
			f.values = append(f.values, v)
			if op == "|~" || op == "!~" {
				re, err := regexp.Compile(v)
				if err != nil {
					return nil, fmt.Errorf("line filter regex: %w", err)
				}
				f.res = append(f.res, re)
			}
			if !p.takeWord("or") {
				break
			}
		}
		sel.filters = append(sel.filters, f)
	}
}

// takeWord takes a keyword followed by a non-identifier character.
func (p *selParser) takeWord(w string) bool {
	save := p.i
	p.ws()
	if strings.HasPrefix(p.s[p.i:], w) {
		end := p.i + len(w)
		if end == len(p.s) || !isIdentChar(p.s[end], true) {
			p.i = end
			return true
		}
	}
	p.i = save
	return false
}

func isIdentChar(c byte, notFirst bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (notFirst && c >= '0' && c <= '9')
}

func (p *selParser) ident() string {
	start := p.i
	for p.i < len(p.s) && isIdentChar(p.s[p.i], p.i > start) {
		p.i++
	}
	return p.s[start:p.i]
}

// str reads a "double-quoted" (Go escapes) or `raw` string.
func (p *selParser) str() (string, error) {
	p.ws()
	if p.i >= len(p.s) {
		return "", p.errf("expected a quoted string")
	}
	switch p.s[p.i] {
	case '`':
		end := strings.IndexByte(p.s[p.i+1:], '`')
		if end < 0 {
			return "", p.errf("unterminated `string`")
		}
		v := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return v, nil
	case '"':
		j := p.i + 1
		for j < len(p.s) && p.s[j] != '"' {
			if p.s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(p.s) {
			return "", p.errf("unterminated \"string\"")
		}
		v, err := strconv.Unquote(p.s[p.i : j+1])
		if err != nil {
			return "", p.errf("bad string %s: %v", p.s[p.i:j+1], err)
		}
		p.i = j + 1
		return v, nil
	}
	return "", p.errf("expected a quoted string")
}
