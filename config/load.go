package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// ParseOptions adjusts ParseWith. The zero value (or nil) behaves as Parse.
type ParseOptions struct {
	// SkipDirCheck skips creating data_dir and checking that it is
	// writable, for tests that only parse.
	SkipDirCheck bool
	// LookupEnv looks up ${VAR} references; nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// SinkTypes are the kinds of sink the program has (cmd's registry). A
	// sink whose type is not among them is a problem.
	SinkTypes []SinkType
	// SourceTypes are the kinds of source the program has (cmd's
	// registry): a source whose type is not among them is a problem, and
	// the other keys of each entry are decoded into its type's options and
	// checked by them. Nil accepts any type name and leaves those keys
	// alone (Source.Options nil), for callers that need only the rest of
	// the file.
	SourceTypes []SourceType
	// CheckFiles also reads every file the configuration names: each
	// sink's FileChecker (password and token files, TLS files, a file
	// sink's directory) and admin.token_file, which must not be empty.
	// logcapturer check sets it.
	CheckFiles bool
	// CheckTokenFile reads admin.token_file (when admin.listen is set),
	// which must not be empty, as logcapturer run does at start; run sets
	// it, so that a bad token file is a problem at its line. CheckFiles
	// implies it.
	CheckTokenFile bool
}

// Load reads the configuration file at path and returns it decoded,
// defaulted and validated, with data_dir created if missing and checked to be
// writable; opts (nil means none) name the sink types and adjust the checks.
// If the file cannot be read it returns that error, wrapped; if the
// configuration has problems it returns an *Error listing all of them, each
// naming path, line and key. Safe for concurrent use.
func Load(path string, opts *ParseOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseWith(path, data, opts)
}

// Parse is Load for a configuration already in memory, with these sink
// types; name is used as the file name in problems. It checks data_dir like
// Load.
func Parse(name string, data []byte, types []SinkType) (*Config, error) {
	return ParseWith(name, data, &ParseOptions{SinkTypes: types})
}

// ParseWith is Parse with options; opts may be nil. Every error it returns
// is an *Error.
func ParseWith(name string, data []byte, opts *ParseOptions) (*Config, error) {
	var o ParseOptions
	if opts != nil {
		o = *opts
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	ps := &problems{file: name}
	root := parseYAML(data, ps)
	if root == nil {
		return nil, ps.err()
	}

	d := &decoder{
		ps:     ps,
		pos:    map[string]int{},
		skip:   map[*yaml.Node]bool{},
		failed: map[string]bool{},
		types:  sinkTypes(o.SinkTypes),

		sourceTypes: o.SourceTypes,
	}
	if d.types == nil {
		d.types = sinkTypes{}
	}
	expandNode(root, o.LookupEnv, ps, d.skip)
	c := d.config(root)
	v := &validator{ps: ps, pos: d.pos, failed: d.failed, types: d.types, sourceTypes: o.SourceTypes, checkFiles: o.CheckFiles,
		checkToken: o.CheckFiles || o.CheckTokenFile}
	v.config(&c)
	if err := ps.err(); err != nil {
		return nil, err
	}
	c.routeDefaults()
	c.Warnings = ps.sortedWarnings()

	if !o.SkipDirCheck {
		if err := checkDataDir(c.DataDir); err != nil {
			line, hint := d.pos["data_dir"], ""
			if _, set := d.pos["data_dir"]; !set {
				hint = " (the default; set data_dir)"
			}
			ps.add(line, "data_dir", "%s is not writable: %v; choose a writable directory%s", c.DataDir, err, hint)
			return nil, ps.err()
		}
	}
	return &c, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses data into its single document's top node, which it checks
// is a mapping. It returns nil after reporting a problem: a syntax error
// (with its line), an empty file, more than one document.
func parseYAML(data []byte, ps *problems) (root *yaml.Node) {
	defer func() {
		// go.yaml.in/yaml/v3 panics on some malformed input ("internal
		// error"); a bad file must give a problem, not a crash.
		if r := recover(); r != nil {
			ps.add(0, "", "invalid YAML: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			ps.add(0, "", "file is empty; at least one source and one sink are required")
		} else {
			addYAMLError(ps, err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		addYAMLError(ps, err)
		return nil
	default:
		ps.add(next.Line, "", "the file holds more than one YAML document; only one is allowed")
		return nil
	}
	if len(doc.Content) == 0 || IsNull(doc.Content[0]) {
		ps.add(0, "", "file is empty; at least one source and one sink are required")
		return nil
	}
	root = doc.Content[0]
	if r := ResolveAlias(root); r == nil || r.Kind != yaml.MappingNode {
		ps.add(root.Line, "", "the top level must be a mapping of keys (data_dir, wal, sources, sinks, admin), got %s", NodeKind(root))
		return nil
	}
	return root
}

func addYAMLError(ps *problems, err error) {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		ps.add(line, "", "invalid YAML: %s", m[2])
		return
	}
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "yaml: " {
		msg = msg[6:]
	}
	ps.add(0, "", "invalid YAML: %s", msg)
}
