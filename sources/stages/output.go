package stages

import "go.yaml.in/yaml/v3"

// outputOptions are the output stage's options.
type outputOptions struct {
	Source string `yaml:"source"`
}

// outputStage replaces the line with an extracted value.
type outputStage struct {
	source string
	failed func(stage, reason string)
}

func parseOutput(p *parser, n *yaml.Node, key string, line int) Stage {
	var o outputOptions
	if !p.decode(n, key, line, "output", &o) {
		return nil
	}
	if o.Source == "" {
		p.fail(optionLine(n, "source", line), key+".source", "is required (the extracted value that becomes the line)")
		return nil
	}
	return &outputStage{source: o.Source, failed: p.env.Failed}
}

// Process implements Stage: an absent or non-string source leaves the line.
func (s *outputStage) Process(e *Entry, next func(*Entry)) {
	v, ok := e.Extracted[s.source]
	if !ok {
		s.failed("output", "source_missing")
		next(e)
		return
	}
	str, ok := toString(v)
	if !ok {
		s.failed("output", "source_not_a_string")
		next(e)
		return
	}
	e.Line = str
	next(e)
}
