package stages

import "go.yaml.in/yaml/v3"

// structuredMetadataStage sets structured metadata from extracted values,
// or from labels, as Promtail 3.6 does: for each "name: source", the
// extracted value of source, else the label source; and a label named like
// a source whose value was used is removed from the stream (so
// "filename: ”" moves the filename label into metadata). Also registered
// as non_indexed_labels, Promtail's older name.
type structuredMetadataStage struct {
	pairs  []labelSource
	failed func(stage, reason string)
	moved  map[string]string // scratch, per entry
}

func parseStructuredMetadata(p *parser, n *yaml.Node, key string, line int) Stage {
	pairs, ok := p.parseLabelSources(n, key, "structured_metadata", line)
	if !ok {
		return nil
	}
	return &structuredMetadataStage{pairs: pairs, failed: p.env.Failed, moved: map[string]string{}}
}

// Process implements Stage.
func (s *structuredMetadataStage) Process(e *Entry, next func(*Entry)) {
	clear(s.moved)
	for _, ls := range s.pairs {
		str, ok := extractedString(e, ls.source, "structured_metadata", s.failed)
		if !ok {
			continue
		}
		if why := labelValueProblem(str); why == "label_value_not_utf8" {
			s.failed("structured_metadata", why)
			continue
		}
		s.set(e, ls.label, str)
		s.moved[ls.source] = str
	}
	for _, ls := range s.pairs {
		if _, ok := s.moved[ls.source]; ok {
			continue
		}
		if v, ok := e.Labels[ls.source]; ok {
			s.set(e, ls.label, v)
			s.moved[ls.source] = v
		}
	}
	for src, v := range s.moved {
		if lv, ok := e.Labels[src]; ok && lv == v {
			delete(e.Labels, src)
		}
	}
	next(e)
}

func (s *structuredMetadataStage) set(e *Entry, name, v string) {
	if e.Metadata == nil {
		e.Metadata = map[string]string{}
	}
	e.Metadata[name] = v
}
