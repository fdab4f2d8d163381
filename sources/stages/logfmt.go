package stages

import (
	"strings"

	"github.com/go-logfmt/logfmt"
	"go.yaml.in/yaml/v3"
)

// logfmtOptions are the logfmt stage's options.
type logfmtOptions struct {
	Mapping yaml.Node `yaml:"mapping"`
	Source  *string   `yaml:"source"`
}

// logfmtStage extracts logfmt keys (go-logfmt, as Promtail) into the
// extracted map under the mapped names.
type logfmtStage struct {
	inverse map[string]string // logfmt key → extracted name
	source  *string
	failed  func(stage, reason string)
}

func parseLogfmt(p *parser, n *yaml.Node, key string, line int) Stage {
	var o logfmtOptions
	if !p.decode(n, key, line, "logfmt", &o) {
		return nil
	}
	m, ok := p.stringMap(&o.Mapping, key+".mapping", "logfmt")
	if !ok {
		return nil
	}
	if len(m) == 0 {
		p.fail(optionLine(n, "mapping", line), key+".mapping", "is required: name: logfmt-key (or name: with no value for the same key)")
		return nil
	}
	if o.Source != nil && *o.Source == "" {
		p.fail(optionLine(n, "source", line), key+".source", "must not be empty (leave it out to parse the line)")
		return nil
	}
	s := &logfmtStage{inverse: map[string]string{}, source: o.Source, failed: p.env.Failed}
	for name, k := range m {
		if k == "" {
			k = name
		}
		s.inverse[k] = name
	}
	return s
}

// Process implements Stage. Keys before a syntax error are kept (as
// Promtail); the error is counted.
func (s *logfmtStage) Process(e *Entry, next func(*Entry)) {
	in, ok := sourceText(e, s.source)
	if !ok {
		s.failed("logfmt", sourceReason(e, s.source))
		next(e)
		return
	}
	d := logfmt.NewDecoder(strings.NewReader(in))
	for d.ScanRecord() {
		for d.ScanKeyval() {
			if name, ok := s.inverse[string(d.Key())]; ok {
				e.Extracted[name] = string(d.Value())
			}
		}
	}
	if d.Err() != nil {
		s.failed("logfmt", "malformed_logfmt")
	}
	next(e)
}
