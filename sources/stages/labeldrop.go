package stages

import "go.yaml.in/yaml/v3"

// labelDropStage removes the listed labels.
type labelDropStage struct {
	names []string
}

func parseLabelDrop(p *parser, n *yaml.Node, key string, line int) Stage {
	names, ok := p.stringList(n, key, "labeldrop")
	if !ok {
		return nil
	}
	if len(names) == 0 {
		p.fail(line, key, "needs at least one label name")
		return nil
	}
	return &labelDropStage{names: names}
}

// Process implements Stage.
func (s *labelDropStage) Process(e *Entry, next func(*Entry)) {
	for _, n := range s.names {
		delete(e.Labels, n)
	}
	next(e)
}
