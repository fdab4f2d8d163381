package stages

import (
	"regexp"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// replaceOptions are the replace stage's options.
type replaceOptions struct {
	Expression string  `yaml:"expression"`
	Source     *string `yaml:"source"`
	Replace    string  `yaml:"replace"`
}

// replaceStage replaces what each capture group of every match captured
// with the rendered replace template ({{ .Value }} is the captured text;
// the extracted values are there too), in the line or in an extracted
// value. Named groups also set extracted values to their replacement.
type replaceStage struct {
	re     *regexp.Regexp
	names  []string
	source *string
	tmpl   *template.Template
	failed func(stage, reason string)
}

func parseReplace(p *parser, n *yaml.Node, key string, line int) Stage {
	var o replaceOptions
	if !p.decode(n, key, line, "replace", &o) {
		return nil
	}
	re := p.compileRegex(o.Expression, n, key, line, "expression")
	if o.Source != nil && *o.Source == "" {
		p.fail(optionLine(n, "source", line), key+".source", "must not be empty (leave it out to work on the line)")
	}
	t := p.parseTemplateText(o.Replace, n, key, line, "replace")
	if re == nil || t == nil {
		return nil
	}
	return &replaceStage{re: re, names: re.SubexpNames(), source: o.Source, tmpl: t, failed: p.env.Failed}
}

// Process implements Stage, with Promtail's algorithm: groups are replaced
// left to right; a group that starts before the end of the previous
// replaced one (a nested group) is rendered but not spliced in.
func (s *replaceStage) Process(e *Entry, next func(*Entry)) {
	in, ok := sourceText(e, s.source)
	if !ok {
		s.failed("replace", sourceReason(e, s.source))
		next(e)
		return
	}
	all := s.re.FindAllStringSubmatchIndex(in, -1)
	if all == nil {
		s.failed("replace", "no_match")
		next(e)
		return
	}
	td := templateData(e.Extracted)
	var out, buf strings.Builder
	captured := map[string]string{}
	prev := 0
	for _, m := range all {
		for i := 2; i+1 < len(m); i += 2 {
			if m[i] < 0 {
				continue
			}
			c := in[m[i]:m[i+1]]
			td["Value"] = c
			buf.Reset()
			if err := s.tmpl.Execute(&buf, td); err != nil {
				s.failed("replace", "execute_failed")
				next(e)
				return
			}
			r := buf.String()
			if prev == 0 || prev <= m[i] {
				out.WriteString(in[prev:m[i]])
				out.WriteString(r)
				prev = m[i+1]
			}
			captured[c] = r
		}
	}
	out.WriteString(in[prev:])
	if s.source != nil {
		e.Extracted[*s.source] = out.String()
	} else {
		e.Line = out.String()
	}
	first := all[0]
	for i, name := range s.names {
		if i == 0 || name == "" {
			continue
		}
		c := ""
		if first[2*i] >= 0 {
			c = in[first[2*i]:first[2*i+1]]
		}
		if r, ok := captured[c]; ok {
			e.Extracted[name] = r
		}
	}
	next(e)
}
