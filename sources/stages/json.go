package stages

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/jmespath/go-jmespath"
	"go.yaml.in/yaml/v3"
)

// jsonOptions are the json stage's options.
type jsonOptions struct {
	Expressions   yaml.Node `yaml:"expressions"`
	Source        *string   `yaml:"source"`
	DropMalformed bool      `yaml:"drop_malformed"`
}

// jsonExpr is one "name: expression" of a json stage. path is set when the
// expression is a plain field path (a.b."c-d"), which the stage evaluates
// while it scans the line, without decoding the rest of it.
type jsonExpr struct {
	name  string
	jmes  *jmespath.JMESPath
	path  []string
	value any  // scratch
	keep  bool // scratch: the search failed, the extracted value stays as it was
}

// jsonStage extracts values from a JSON object with JMESPath expressions,
// with Promtail's types: strings, float64 numbers, booleans and nil as
// they are; arrays and objects re-encoded as JSON (HTML-escaped).
type jsonStage struct {
	exprs         []jsonExpr
	fast          bool     // every expression is a plain path
	firsts        []string // first path segments, sorted, deduplicated
	source        *string
	dropMalformed bool
	env           Env
	spans         []span // scratch: value of firsts[i] in the line
}

func parseJSON(p *parser, n *yaml.Node, key string, line int) Stage {
	var o jsonOptions
	if !p.decode(n, key, line, "json", &o) {
		return nil
	}
	m, ok := p.stringMap(&o.Expressions, key+".expressions", "json")
	if !ok {
		return nil
	}
	if len(m) == 0 {
		p.fail(optionLine(n, "expressions", line), key+".expressions", "is required: name: JMESPath expression (or name: with no value for the field of that name)")
		return nil
	}
	if o.Source != nil && *o.Source == "" {
		p.fail(optionLine(n, "source", line), key+".source", "must not be empty (leave it out to parse the line)")
		return nil
	}
	s := &jsonStage{source: o.Source, dropMalformed: o.DropMalformed, env: p.env, fast: true}
	for name, expr := range m {
		if expr == "" {
			expr = name
		}
		j, err := jmespath.Compile(expr)
		if err != nil {
			p.fail(optionLine(&o.Expressions, name, line), key+".expressions."+name, "JMESPath expression %q does not compile: %v", expr, err)
			continue
		}
		path, ok := plainPath(expr)
		if !ok {
			s.fast = false
		}
		s.exprs = append(s.exprs, jsonExpr{name: name, jmes: j, path: path})
	}
	slices.SortFunc(s.exprs, func(a, b jsonExpr) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	for _, x := range s.exprs {
		if len(x.path) > 0 && !slices.Contains(s.firsts, x.path[0]) {
			s.firsts = append(s.firsts, x.path[0])
		}
	}
	s.spans = make([]span, len(s.firsts))
	return s
}

// Process implements Stage. A line that is not a JSON object is passed on
// unchanged and counted, or dropped (reason "malformed_json"... counted as
// a drop) with drop_malformed.
func (s *jsonStage) Process(e *Entry, next func(*Entry)) {
	in, ok := sourceText(e, s.source)
	if !ok {
		s.env.Failed("json", sourceReason(e, s.source))
		next(e)
		return
	}
	var err error
	if s.fast {
		err = s.extractFast(in)
	} else {
		err = s.extractJMESPath(in)
	}
	if err != nil {
		s.env.Failed("json", "malformed_json")
		if s.dropMalformed {
			s.env.Dropped("malformed_json")
			return
		}
		next(e)
		return
	}
	for i := range s.exprs {
		x := &s.exprs[i]
		if !x.keep {
			e.Extracted[x.name] = x.value
		}
		x.value, x.keep = nil, false
	}
	next(e)
}

// extractJMESPath is Promtail's way: decode the whole object, search it.
func (s *jsonStage) extractJMESPath(in string) error {
	data, err := decodeObject(in)
	if err != nil {
		return err
	}
	for i := range s.exprs {
		x := &s.exprs[i]
		r, err := x.jmes.Search(data)
		if err != nil {
			// Promtail leaves the value as it was (absent stays
			// absent): join(',', tags) without tags errors.
			x.keep = true
			continue
		}
		x.value = jsonResult(r)
	}
	return nil
}

// jsonResult converts a JMESPath result to Promtail's extracted types.
func jsonResult(r any) any {
	switch r.(type) {
	case float64, string, bool, nil:
		return r
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil
	}
	return string(b)
}

// extractFast scans the line once, validating it, and records the value of
// each first path segment; then follows the rest of each path inside those
// values.
func (s *jsonStage) extractFast(in string) error {
	for i := range s.spans {
		s.spans[i] = span{-1, -1}
	}
	if err := scanTopObject(in, s.firsts, s.spans); err != nil {
		return err
	}
	for i := range s.exprs {
		x := &s.exprs[i]
		j, _ := slices.BinarySearch(s.firsts, x.path[0])
		sp := s.spans[j]
		for _, seg := range x.path[1:] {
			if sp.start < 0 {
				break
			}
			sp = findField(in, sp, seg)
		}
		x.value = spanValue(in, sp)
	}
	return nil
}

// spanValue converts the JSON value in[sp] to Promtail's extracted types.
func spanValue(in string, sp span) any {
	if sp.start < 0 {
		return nil
	}
	v := in[sp.start:sp.end]
	switch v[0] {
	case '"':
		return unquote(v)
	case 't':
		return true
	case 'f':
		return false
	case 'n':
		return nil
	case '{', '[':
		a, _, err := decodeValue(in, sp.start)
		if err != nil {
			return nil
		}
		return jsonResult(a)
	default:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			// Out of float64 range: encoding/json refuses it too.
			return nil
		}
		return f
	}
}
