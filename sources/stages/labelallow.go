package stages

import "go.yaml.in/yaml/v3"

// labelAllowStage keeps only the listed labels. The reserved labels (the
// tenant, "__tenant_id__") are labels like any other here, as in Promtail.
type labelAllowStage struct {
	allow map[string]bool
}

func parseLabelAllow(p *parser, n *yaml.Node, key string, line int) Stage {
	names, ok := p.stringList(n, key, "labelallow")
	if !ok {
		return nil
	}
	if len(names) == 0 {
		p.fail(line, key, "needs at least one label name")
		return nil
	}
	s := &labelAllowStage{allow: map[string]bool{}}
	for _, n := range names {
		s.allow[n] = true
	}
	return s
}

// Process implements Stage.
func (s *labelAllowStage) Process(e *Entry, next func(*Entry)) {
	for k := range e.Labels {
		if !s.allow[k] {
			delete(e.Labels, k)
		}
	}
	next(e)
}
