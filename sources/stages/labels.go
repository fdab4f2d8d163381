package stages

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

// labelSource is one "label: source" pair of a labels-like stage, in
// sorted label order so that processing is deterministic.
type labelSource struct {
	label, source string
}

// labelsStage sets labels from extracted values.
type labelsStage struct {
	pairs  []labelSource
	failed func(stage, reason string)
}

// parseLabelSources decodes {label: source-or-empty} and checks the label
// names (Promtail checks them with the legacy rule at load time).
func (p *parser) parseLabelSources(n *yaml.Node, key, stage string, line int) ([]labelSource, bool) {
	m, ok := p.stringMap(n, key, stage)
	if !ok {
		return nil, false
	}
	if m == nil {
		// Promtail refuses no mapping (validateLabelsConfig: a nil
		// map), and takes an empty one ({}) as a stage that does nothing.
		p.fail(line, key, "needs at least one label (label: source, or label: with no value to use the extracted value of that name)")
		return nil, false
	}
	var out []labelSource
	for name, src := range m {
		if !validLabelName(name) {
			p.fail(optionLine(n, name, line), key+"."+name, "invalid label name %q: use letters, digits and _ and do not start with a digit", name)
			ok = false
			continue
		}
		if src == "" {
			src = name
		}
		out = append(out, labelSource{name, src})
	}
	slices.SortFunc(out, func(a, b labelSource) int {
		if a.label < b.label {
			return -1
		}
		return 1
	})
	return out, ok
}

func parseLabels(p *parser, n *yaml.Node, key string, line int) Stage {
	pairs, ok := p.parseLabelSources(n, key, "labels", line)
	if !ok {
		return nil
	}
	return &labelsStage{pairs: pairs, failed: p.env.Failed}
}

// Process implements Stage. Values that are absent are skipped silently
// (Promtail); values that cannot be a label value are not set and counted.
func (s *labelsStage) Process(e *Entry, next func(*Entry)) {
	for _, ls := range s.pairs {
		str, ok := extractedString(e, ls.source, "labels", s.failed)
		if !ok {
			continue
		}
		if why := labelValueProblem(str); why != "" {
			s.failed("labels", why)
			continue
		}
		e.Labels[ls.label] = str
	}
	next(e)
}
