package config

import (
	"reflect"

	"go.yaml.in/yaml/v3"
)

// SourceType is a kind of source, registered by the package that implements
// it (sources.FileSourceType, sources.DockerSourceType, ...) and handed to
// Load in ParseOptions.SourceTypes; cmd holds the one list. config decodes
// the keys every source has (name, type, labels, sinks, relabel_configs,
// pipeline_stages)
// and hands the rest of the entry to the type named by its type key, as it
// does for sinks (SinkType).
type SourceType struct {
	// Name is the value of the type key, e.g. "docker".
	Name SourceKind
	// New returns the type's options with their defaults set: a pointer to
	// a struct whose exported fields carry yaml tags. The entry's other
	// keys are decoded into it by tag (the field types SinkType.New allows); a
	// key no field carries is a problem.
	New func() SourceConfig
}

// SourceConfig is a source type's own options, decoded from one sources
// entry. It may also be a FileChecker. The program opens the source
// through an interface of the sources package that the options implement.
type SourceConfig interface {
	// Check reports what is wrong with the options, after decoding, on c
	// (keys relative to the entry: "multiline.start"); a value the decoder
	// already refused is not reported again. c also gives the common keys
	// a type may need (Labels, PipelineStages). It must not touch the file
	// system or the network.
	Check(c *Check)
}

// SourceKind is the value of a source's type key: the name of a
// registered SourceType.
type SourceKind string

// sourceTypes is the source registry Load was given; nil when none was.
type sourceTypes []SourceType

func (ts sourceTypes) find(name SourceKind) *SourceType {
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i]
		}
	}
	return nil
}

func (ts sourceTypes) names() []SourceKind {
	out := make([]SourceKind, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// ownersOf lists the types other than self whose options have key.
func (ts sourceTypes) ownersOf(key string, self SourceKind) []string {
	var out []string
	for _, t := range ts {
		if t.Name == self || t.New == nil {
			continue
		}
		if containsKey(structKeys(t.New()), key) {
			out = append(out, string(t.Name))
		}
	}
	return out
}

func containsKey(keys []string, key string) bool {
	for _, k := range keys {
		if k == key {
			return true
		}
	}
	return false
}

// Equal reports whether s and o configure the same source: the same common
// keys, relabel_configs with the same rules, pipeline_stages with the same
// content (where it is written in the file does not matter) and equal
// options (their Equal method if they have one, else reflect.DeepEqual).
// A reload restarts what is not Equal.
func (s *Source) Equal(o *Source) bool {
	if s.Name != o.Name || s.Type != o.Type || s.MaxStreams != o.MaxStreams || !reflect.DeepEqual(s.Labels, o.Labels) ||
		!reflect.DeepEqual(s.Sinks, o.Sinks) || !sameRelabel(s.RelabelConfigs, o.RelabelConfigs) || !sameNode(s.PipelineStages, o.PipelineStages, 0) {
		return false
	}
	if e, ok := s.Options.(interface{ Equal(SourceConfig) bool }); ok {
		return e.Equal(o.Options)
	}
	return reflect.DeepEqual(s.Options, o.Options)
}

// sameNode compares two YAML trees by kind, tag, value and content, not by
// position or style. Aliases are followed (to a bounded depth).
func sameNode(a, b *yaml.Node, depth int) bool {
	a, b = ResolveAlias(a), ResolveAlias(b)
	switch {
	case a == nil || b == nil:
		return a == b
	case depth > maxNodeDepth:
		return false
	case a.Kind != b.Kind || a.ShortTag() != b.ShortTag() || a.Value != b.Value || len(a.Content) != len(b.Content):
		return false
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i], depth+1) {
			return false
		}
	}
	return true
}

// maxNodeDepth bounds sameNode's recursion.
const maxNodeDepth = 1000
