package stages

import (
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// staticLabelsStage sets fixed labels.
type staticLabelsStage struct {
	pairs []labelSource // source holds the value
}

func parseStaticLabels(p *parser, n *yaml.Node, key string, line int) Stage {
	m, ok := p.stringMap(n, key, "static_labels")
	if !ok {
		return nil
	}
	if n == nil || config.IsNull(n) {
		p.fail(line, key, "needs at least one label: value")
		return nil
	}
	s := &staticLabelsStage{}
	for name, v := range m {
		l := optionLine(n, name, line)
		if !validLabelName(name) {
			p.fail(l, key+"."+name, "invalid label name %q: use letters, digits and _ and do not start with a digit", name)
			continue
		}
		if why := labelValueProblem(v); why != "" {
			p.fail(l, key+"."+name, "invalid label value (%s)", why)
			continue
		}
		if v == "" {
			continue // Promtail skips empty values
		}
		s.pairs = append(s.pairs, labelSource{name, v})
	}
	return s
}

// Process implements Stage.
func (s *staticLabelsStage) Process(e *Entry, next func(*Entry)) {
	for _, ls := range s.pairs {
		e.Labels[ls.label] = ls.source
	}
	next(e)
}
