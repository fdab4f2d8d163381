package stages

import (
	"encoding/json"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// packOptions are the pack stage's options.
type packOptions struct {
	Labels          []string `yaml:"labels"`
	IngestTimestamp *bool    `yaml:"ingest_timestamp"`
}

// packStage replaces the line with a JSON object of the listed extracted
// values (sorted by name) and "_entry" (the line), removes the labels of
// those names, and (ingest_timestamp, the default) sets the timestamp to
// the time of packing.
type packStage struct {
	labels []string // sorted
	ingest bool
	env    Env
}

func parsePack(p *parser, n *yaml.Node, key string, line int) Stage {
	var o packOptions
	if !p.decode(n, key, line, "pack", &o) {
		return nil
	}
	s := &packStage{labels: slices.Clone(o.Labels), ingest: o.IngestTimestamp == nil || *o.IngestTimestamp, env: p.env}
	slices.Sort(s.labels)
	s.labels = slices.Compact(s.labels)
	return s
}

// Process implements Stage.
func (s *packStage) Process(e *Entry, next func(*Entry)) {
	var b strings.Builder
	b.WriteByte('{')
	for _, name := range s.labels {
		str, ok := extractedString(e, name, "pack", s.env.Failed)
		if !ok {
			continue
		}
		writeJSONString(&b, name)
		b.WriteByte(':')
		writeJSONString(&b, str)
		b.WriteByte(',')
		delete(e.Labels, name)
	}
	b.WriteString(`"_entry":`)
	writeJSONString(&b, e.Line)
	b.WriteByte('}')
	e.Line = b.String()
	if s.ingest {
		e.Time = s.env.Now().UTC()
	}
	next(e)
}

// writeJSONString writes v as a JSON string, HTML-escaped (as Promtail's
// encoder).
func writeJSONString(b *strings.Builder, v string) {
	q, _ := json.Marshal(v)
	b.Write(q)
}
