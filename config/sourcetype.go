package config

// SourceType is a kind of source, registered by the package that implements
// it (sources.FileSourceType, sources.DockerSourceType, ...) and handed to
// Load in ParseOptions.SourceTypes; cmd holds the one list. config decodes
// every key of a source entry itself (they are the same for every type
// today) and checks what it can; the type's Check then reports what only
// the type knows, such as a multiline or timestamp regex that does not
// compile or a label the type sets itself, each at its key's line, in the
// same run as every other problem.
type SourceType struct {
	// Name is the value of the type key, e.g. "docker".
	Name SourceKind
	// Check reports what is wrong with the source entry s, decoded and
	// defaulted, through c (keys relative to the entry: "multiline.start",
	// "labels.filename"); nil means nothing more to check. A value the
	// decoder already refused is not reported again. It must not touch the
	// file system or the network.
	Check func(s *Source, c *Check)
}

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

// names lists the registered types or, without a registry, the built-in
// ones.
func (ts sourceTypes) names() []SourceKind {
	if ts == nil {
		return []SourceKind{SourceFile, SourceDocker, SourceCRI}
	}
	out := make([]SourceKind, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}
