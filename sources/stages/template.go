package stages

import (
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"regexp"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"go.yaml.in/yaml/v3"
)

// templateOptions are the template stage's options.
type templateOptions struct {
	Source   string `yaml:"source"`
	Template string `yaml:"template"`
}

// templateFuncs are the functions Promtail's template and replace stages
// offer: all of sprig's text functions (as Promtail: sprig.TxtFuncMap) plus
// Promtail's own, which win over sprig's of the same name.
func templateFuncs() template.FuncMap {
	fm := sprig.TxtFuncMap()
	own := template.FuncMap{
		"ToLower":    strings.ToLower,
		"ToUpper":    strings.ToUpper,
		"Replace":    strings.Replace,
		"Trim":       strings.Trim,
		"TrimLeft":   strings.TrimLeft,
		"TrimRight":  strings.TrimRight,
		"TrimPrefix": strings.TrimPrefix,
		"TrimSuffix": strings.TrimSuffix,
		"TrimSpace":  strings.TrimSpace,
		// Hash is SHA3-256 of salt+input, hex; Sha2Hash the same with SHA-256.
		"Hash": func(salt, input string) string {
			h := sha3.Sum256([]byte(salt + input))
			return hex.EncodeToString(h[:])
		},
		"Sha2Hash": func(salt, input string) string {
			h := sha256.Sum256([]byte(salt + input))
			return hex.EncodeToString(h[:])
		},
		// A regex that does not compile fails the template (Promtail's
		// MustCompile panics; text/template turns that into an error too).
		"regexReplaceAll": func(re, s, repl string) (string, error) {
			r, err := regexp.Compile(re)
			if err != nil {
				return "", err
			}
			return r.ReplaceAllString(s, repl), nil
		},
		"regexReplaceAllLiteral": func(re, s, repl string) (string, error) {
			r, err := regexp.Compile(re)
			if err != nil {
				return "", err
			}
			return r.ReplaceAllLiteralString(s, repl), nil
		},
	}
	for k, v := range own {
		fm[k] = v
	}
	return fm
}

// templateStage sets an extracted value from a Go template over the
// extracted map (values as strings), .Value (the source's value) and
// .Entry (the line). An empty result deletes the value.
type templateStage struct {
	source string
	tmpl   *template.Template
	failed func(stage, reason string)
	buf    strings.Builder
}

func (p *parser) parseTemplateText(text string, n *yaml.Node, key string, line int, opt string) *template.Template {
	t, err := template.New("pipeline_template").Funcs(templateFuncs()).Parse(text)
	if err != nil {
		p.fail(optionLine(n, opt, line), key+"."+opt, "does not parse: %v", err)
		return nil
	}
	return t
}

func parseTemplate(p *parser, n *yaml.Node, key string, line int) Stage {
	var o templateOptions
	if !p.decode(n, key, line, "template", &o) {
		return nil
	}
	if o.Source == "" {
		p.fail(optionLine(n, "source", line), key+".source", "is required (the extracted value the template sets)")
		return nil
	}
	t := p.parseTemplateText(o.Template, n, key, line, "template")
	if t == nil {
		return nil
	}
	return &templateStage{source: o.Source, tmpl: t, failed: p.env.Failed}
}

// templateData is what a template sees: the extracted values that convert
// to strings.
func templateData(extracted map[string]any) map[string]any {
	td := make(map[string]any, len(extracted)+2)
	for k, v := range extracted {
		if s, ok := toString(v); ok {
			td[k] = s
		}
	}
	return td
}

// Process implements Stage.
func (s *templateStage) Process(e *Entry, next func(*Entry)) {
	td := templateData(e.Extracted)
	if v, ok := td[s.source]; ok {
		td["Value"] = v
	}
	td["Entry"] = e.Line
	s.buf.Reset()
	if err := s.tmpl.Execute(&s.buf, td); err != nil {
		s.failed("template", "execute_failed")
		next(e)
		return
	}
	if out := s.buf.String(); out == "" {
		delete(e.Extracted, s.source)
	} else {
		e.Extracted[s.source] = out
	}
	next(e)
}
