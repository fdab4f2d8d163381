package promtail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// Options adjust Convert. The zero value expands ${VAR} as Promtail's
// -config.expand-env does and refuses what is not covered.
type Options struct {
	// LookupEnv looks up ${VAR} references; nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// NoExpandEnv reads the file as Promtail does without
	// -config.expand-env: a "$" is a "$".
	NoExpandEnv bool
	// KeepEnv writes ${VAR} references of string values into the result
	// as references ("${VAR:-}", which is Promtail's meaning: unset is
	// empty), so that secrets stay out of a converted file; the values
	// are still expanded to convert. logcapturer convert sets it.
	KeepEnv bool
	// SkipUnsupported converts what is covered and lists the rest in
	// Result.Left, instead of failing on it.
	SkipUnsupported bool
	// DataDir is written as the result's data_dir; "" leaves it out (the
	// default, config.DefaultDataDir).
	DataDir string
	// DockerDataRoot is dockerd's data-root, under which a converted
	// docker_sd_configs reads containers/*/*-json.log; "" means
	// DefaultDockerDataRoot. Promtail has no such setting (it asks the
	// Docker API).
	DockerDataRoot string
	// DockerProxyLocal reads a docker_sd_configs host that is not a unix
	// socket (tcp://socket-proxy:2375) as a proxy of this host's Docker
	// socket: the containers' logs under DockerDataRoot. The operator
	// says so (--docker-proxy-local); without it such a host is not
	// covered.
	DockerProxyLocal bool
	// PodLogDir is the kubelet's pod log directory, under which a
	// converted kubernetes_sd_configs reads <namespace>_<pod>_<uid>/
	// <container>/*.log and where its __path__ rules must point; ""
	// means DefaultPodLogDir. For a host whose /var/log/pods is mounted
	// elsewhere (and tests).
	PodLogDir string
	// WorkDir is the directory Promtail ran in, where a relative
	// __path__ is resolved (Promtail makes its matches absolute); ""
	// means the current directory.
	WorkDir string
}

// workDir returns Options.WorkDir, else the current directory.
func (c *conv) workDir() string {
	if c.opts.WorkDir != "" {
		return c.opts.WorkDir
	}
	if d, err := os.Getwd(); err == nil {
		return d
	}
	return "/"
}

// Result is a converted configuration.
type Result struct {
	// File is the name of the Promtail file.
	File string
	// YAML is the native configuration, commented where logcapturer
	// behaves differently.
	YAML []byte
	// Left lists what Options.SkipUnsupported left out, each at its
	// Promtail file:line.
	Left []config.Problem
	// Notes lists where logcapturer behaves differently from Promtail, or
	// a key is accepted and ignored (also comments in YAML).
	Notes []config.Problem
	// origins maps a line of YAML to the Promtail line and key it came
	// from.
	origins map[int]origin
}

// origin is where in the Promtail file an output node came from.
type origin struct {
	line int
	key  string
}

// Load reads the Promtail file at path and converts it; see Convert.
func Load(path string, opts *Options) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Convert(path, data, opts)
}

// Convert translates a Promtail configuration into a native one. Every
// problem comes back at once, as a *config.Error whose problems name
// name:line and Promtail's key path: a YAML error, an unknown key, a value
// of the wrong kind, a stage of the wrong shape, a relabel rule that does
// not compile, and (unless SkipUnsupported) each part that is not
// covered. It touches no file besides none: Parse checks the result.
func Convert(name string, data []byte, opts *Options) (*Result, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	c := &conv{file: name, opts: o, origin: map[*yaml.Node]origin{}, raw: map[*yaml.Node]*yaml.Node{}}
	root := c.parse(data)
	if root == nil {
		return nil, c.err()
	}
	out := c.config(root)
	if err := c.err(); err != nil {
		return nil, err
	}
	return c.render(out)
}

// Parse checks the converted configuration as config.ParseWith does,
// with popts; its problems are mapped back to the Promtail file's lines
// and keys (the native key follows in the message).
func (r *Result) Parse(popts *config.ParseOptions) (*config.Config, error) {
	cfg, err := config.ParseWith(r.File, r.YAML, popts)
	if err == nil {
		for i := range cfg.Warnings {
			cfg.Warnings[i] = r.mapProblem(cfg.Warnings[i])
		}
		return cfg, nil
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		return nil, err
	}
	out := &config.Error{}
	for _, p := range ce.Problems {
		out.Problems = append(out.Problems, r.mapProblem(p))
	}
	slices.SortStableFunc(out.Problems, func(a, b config.Problem) int { return a.Line - b.Line })
	return nil, out
}

// PromtailLine returns the line of the Promtail file that line of YAML
// came from, 0 if none.
func (r *Result) PromtailLine(line int) int { return r.origins[line].line }

// mapProblem moves a problem of the converted YAML to the Promtail line
// and key it came from.
func (r *Result) mapProblem(p config.Problem) config.Problem {
	o, ok := r.origins[p.Line]
	if !ok {
		if p.Key != "" {
			p.Msg = "(in the converted configuration) " + p.Msg
		}
		p.Line = 0
		return p
	}
	if p.Key != "" && p.Key != o.key {
		p.Msg += " (logcapturer key " + p.Key + ")"
	}
	p.Line, p.Key = o.line, o.key
	return p
}

// conv is one conversion: the problems found so far, and where each
// output node came from.
type conv struct {
	file        string
	opts        Options
	problems    []config.Problem
	unsupported []config.Problem
	notes       []config.Problem
	origin      map[*yaml.Node]origin
	// raw maps each scalar of the expanded tree to its twin as written
	// (for KeepEnv).
	raw map[*yaml.Node]*yaml.Node
	// global settings, read before scrape_configs.
	syncPeriod  string
	limitStage  *yaml.Node // appended to each source's pipeline_stages
	maxLineSize string
}

func (c *conv) problem(line int, key, format string, args ...any) {
	c.problems = append(c.problems, config.Problem{File: c.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// notCovered reports a part of the file logcapturer does not cover: a
// problem, or with SkipUnsupported an entry of Result.Left.
func (c *conv) notCovered(line int, key, format string, args ...any) {
	c.unsupported = append(c.unsupported, config.Problem{File: c.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// note records a difference in behaviour; the returned text is also
// written as a comment.
func (c *conv) note(line int, key, format string, args ...any) string {
	msg := fmt.Sprintf(format, args...)
	c.notes = append(c.notes, config.Problem{File: c.file, Line: line, Key: key, Msg: msg})
	return msg
}

func (c *conv) err() error {
	ps := slices.Clone(c.problems)
	if !c.opts.SkipUnsupported {
		for _, p := range c.unsupported {
			p.Msg += " (not covered by logcapturer; --skip-unsupported converts the rest)"
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b config.Problem) int { return a.Line - b.Line })
	return &config.Error{Problems: ps}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse parses the single document of data, expands ${VAR} in its values
// (keeping the tree as written for KeepEnv) and returns its top mapping;
// nil after a problem.
func (c *conv) parse(data []byte) (root *yaml.Node) {
	defer func() {
		if r := recover(); r != nil { // the YAML decoder panics on some input
			c.problem(0, "", "invalid YAML: %v", r)
			root = nil
		}
	}()
	var doc, raw yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			c.problem(0, "", "file is empty")
			return nil
		}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			c.problem(line, "", "invalid YAML: %s", m[2])
		} else {
			c.problem(0, "", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		c.problem(next.Line, "", "the file holds more than one YAML document; Promtail reads one")
		return nil
	}
	_ = yaml.Unmarshal(data, &raw) // the same document: it decoded above
	if len(doc.Content) == 0 || config.IsNull(doc.Content[0]) {
		c.problem(0, "", "file is empty")
		return nil
	}
	root = doc.Content[0]
	c.expand(root, raw.Content[0], "", 0)
	if r := config.ResolveAlias(root); r == nil || r.Kind != yaml.MappingNode {
		c.problem(root.Line, "", "the top level must be a mapping (server, clients, positions, scrape_configs, ...), got %s", config.NodeKind(root))
		return nil
	}
	return config.ResolveAlias(root)
}

// maxDepth bounds the recursion over the tree (aliases are followed).
const maxDepth = 200

// expand expands ${VAR} in every scalar value under n, recording the twin
// of each scalar in r, the same tree as written.
func (c *conv) expand(n, r *yaml.Node, path string, depth int) {
	if n == nil || r == nil || depth > maxDepth || n.Kind != r.Kind || len(n.Content) != len(r.Content) {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		c.raw[n] = r
		if c.opts.NoExpandEnv {
			return
		}
		// In the file, a double-quoted value writes each backslash as \\.
		if strings.Contains(n.Value, `\\`) || strings.Contains(n.Value, `\/`) ||
			r.Style&yaml.DoubleQuotedStyle != 0 && strings.Contains(n.Value, `\`) {
			c.note(n.Line, path, `promtail: with -config.expand-env Promtail reads \\ as \ and \/ as / in the file (its envsubst); converted as written, as Promtail reads it without the flag: check which one your Promtail ran`)
		}
		if !strings.Contains(n.Value, "$") {
			return
		}
		v, errs := expandEnv(n.Value, c.opts.LookupEnv)
		for _, e := range errs {
			c.problem(n.Line, path, "%s", e)
		}
		n.Value = v
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.expand(n.Content[i+1], r.Content[i+1], joinKey(path, n.Content[i].Value), depth+1)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for i := range n.Content {
			c.expand(n.Content[i], r.Content[i], path+"["+strconv.Itoa(i)+"]", depth+1)
		}
	}
}

// render encodes the output tree and maps its lines to their origins.
func (c *conv) render(out *yaml.Node) (*Result, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{out}}
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode the converted configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode the converted configuration: %w", err)
	}
	var back yaml.Node
	if err := yaml.Unmarshal(buf.Bytes(), &back); err != nil {
		return nil, fmt.Errorf("read back the converted configuration: %w", err)
	}
	r := &Result{File: c.file, YAML: buf.Bytes(), origins: map[int]origin{}}
	c.lines(out, back.Content[0], r.origins, 0)
	if c.opts.SkipUnsupported {
		r.Left = c.unsupported
	}
	r.Notes = c.notes
	return r, nil
}

// lines walks the built tree and the same tree read back in parallel,
// recording the origin of each line read back.
func (c *conv) lines(built, back *yaml.Node, m map[int]origin, depth int) {
	if built == nil || back == nil || depth > maxDepth || len(built.Content) != len(back.Content) {
		return
	}
	if o, ok := c.origin[built]; ok {
		if _, set := m[back.Line]; !set {
			m[back.Line] = o
		}
	}
	for i := range built.Content {
		c.lines(built.Content[i], back.Content[i], m, depth+1)
	}
}

// Output tree helpers.

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func list(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

// str is a string scalar: quoted by the encoder when it would read as
// something else.
func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// plain is a scalar written as is (a number, a boolean, a duration).
func plain(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// put adds key: v to mapping m, both from the Promtail node from at key
// pkey (nil: no origin). It returns the key node, for a comment.
func (c *conv) put(m *yaml.Node, key string, v *yaml.Node, from *yaml.Node, pkey string) *yaml.Node {
	k := &yaml.Node{Kind: yaml.ScalarNode, Value: key}
	if from != nil {
		c.origin[k] = origin{from.Line, pkey}
		if _, ok := c.origin[v]; !ok {
			c.origin[v] = origin{from.Line, pkey}
		}
	}
	m.Content = append(m.Content, k, v)
	return k
}

// from records the origin of an output node.
func (c *conv) from(n, src *yaml.Node, pkey string) *yaml.Node {
	c.origin[n] = origin{src.Line, pkey}
	return n
}

// outStr is the output form of the string scalar n: its expanded value
// with "$" escaped, or, with KeepEnv, its references kept.
func (c *conv) outStr(n *yaml.Node) *yaml.Node {
	if c.keepsRef(n) {
		return str(keepRefs(c.raw[n].Value))
	}
	return str(escape(n.Value))
}

// keepsRef reports whether outStr writes the scalar n with its ${VAR}
// references (KeepEnv, and n has some).
func (c *conv) keepsRef(n *yaml.Node) bool {
	r, ok := c.raw[n]
	return ok && c.opts.KeepEnv && !c.opts.NoExpandEnv && strings.Contains(r.Value, "$")
}

// copyTree copies the expanded subtree n for the output, escaping "$" (or
// keeping references with KeepEnv), and records every node's origin under
// pkey.
func (c *conv) copyTree(n *yaml.Node, pkey string, depth int) *yaml.Node {
	n = config.ResolveAlias(n)
	if n == nil || depth > maxDepth {
		return plain("null")
	}
	out := &yaml.Node{Kind: n.Kind, Tag: n.Tag, Style: n.Style &^ (yaml.FlowStyle | yaml.TaggedStyle), Value: n.Value}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			out.Value = c.outStr(n).Value
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			kp := joinKey(pkey, n.Content[i].Value)
			out.Content = append(out.Content, c.copyTree(n.Content[i], kp, depth+1), c.copyTree(n.Content[i+1], kp, depth+1))
		}
	case yaml.SequenceNode:
		for i, it := range n.Content {
			out.Content = append(out.Content, c.copyTree(it, pkey+"["+strconv.Itoa(i)+"]", depth+1))
		}
	}
	c.origin[out] = origin{n.Line, pkey}
	return out
}

// copyStages copies a pipeline_stages list (copyTree) and gives each
// timestamp stage without a location, nested ones in match stages too,
// location: UTC: Promtail reads a time without a zone as UTC
// (time.Parse), logcapturer in the host's zone unless told.
func (c *conv) copyStages(n *yaml.Node, pkey string) *yaml.Node {
	out := c.copyTree(n, pkey, 0)
	utcTimestamps(out, 0)
	return out
}

func utcTimestamps(list *yaml.Node, depth int) {
	if list == nil || list.Kind != yaml.SequenceNode || depth > maxDepth {
		return
	}
	for _, st := range list.Content {
		if st.Kind != yaml.MappingNode || len(st.Content) != 2 || st.Content[1].Kind != yaml.MappingNode {
			continue
		}
		name, opts := st.Content[0].Value, st.Content[1]
		switch name {
		case "timestamp":
			if !hasKey(opts, "location") {
				k := plain("location")
				k.LineComment = "promtail: reads a time without a zone as UTC"
				opts.Content = append(opts.Content, k, str("UTC"))
			}
		case "match":
			for i := 0; i+1 < len(opts.Content); i += 2 {
				if opts.Content[i].Value == "stages" {
					utcTimestamps(opts.Content[i+1], depth+1)
				}
			}
		}
	}
}

// Reading helpers.

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// entry is one key: value of a Promtail mapping.
type entry struct {
	k, v *yaml.Node
	path string
}

// fields returns the entries of mapping n at path (merge keys applied,
// nulls left out), reporting a key not in known as unknown (Promtail
// refuses unknown keys too). nil, false when n is not a mapping.
func (c *conv) fields(n *yaml.Node, path string, known ...string) (map[string]entry, bool) {
	m := config.ResolveAlias(n)
	if m == nil || m.Kind != yaml.MappingNode {
		c.problem(n.Line, path, "must be a mapping, got %s", config.NodeKind(n))
		return nil, false
	}
	out := map[string]entry{}
	var walk func(m *yaml.Node, depth int)
	walk = func(m *yaml.Node, depth int) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Tag == "!!merge" {
				if s := config.ResolveAlias(v); s != nil && s.Kind == yaml.MappingNode && depth < 16 {
					walk(s, depth+1)
				}
				continue
			}
			kp := joinKey(path, k.Value)
			if !slices.Contains(known, k.Value) {
				c.problem(k.Line, kp, "unknown key (Promtail does not know it either)")
				continue
			}
			if _, dup := out[k.Value]; dup && depth == 0 {
				c.problem(k.Line, kp, "duplicate key")
				continue
			}
			if _, dup := out[k.Value]; dup {
				continue
			}
			if config.IsNull(v) {
				continue
			}
			out[k.Value] = entry{k: k, v: config.ResolveAlias(v), path: kp}
		}
	}
	walk(m, 0)
	return out, true
}

// scalar returns the value of e, or reports that it must be a what.
func (c *conv) scalar(e entry, what string) (string, bool) {
	if e.v == nil || e.v.Kind != yaml.ScalarNode {
		c.problem(e.k.Line, e.path, "must be %s, got %s", what, config.NodeKind(e.v))
		return "", false
	}
	return e.v.Value, true
}

func (c *conv) duration(e entry) (string, bool) {
	s, ok := c.scalar(e, "a duration like 10s")
	if !ok {
		return "", false
	}
	if _, err := config.ParseDuration(s); err != nil {
		c.problem(e.k.Line, e.path, "must be a duration like 10s, got %q", s)
		return "", false
	}
	return s, true
}

func (c *conv) integer(e entry) (int64, bool) {
	s, ok := c.scalar(e, "an integer")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		c.problem(e.k.Line, e.path, "must be a non-negative integer, got %q", s)
		return 0, false
	}
	return n, true
}

func (c *conv) boolean(e entry) (bool, bool) {
	s, ok := c.scalar(e, "true or false")
	if !ok {
		return false, false
	}
	b, err := strconv.ParseBool(s)
	switch strings.ToLower(s) { // Promtail reads YAML 1.1 (gopkg.in/yaml.v2)
	case "yes", "y", "on":
		b, err = true, nil
	case "no", "n", "off":
		b, err = false, nil
	}
	if err != nil {
		c.problem(e.k.Line, e.path, "must be true or false, got %q", s)
		return false, false
	}
	return b, true
}

// stringMap reads a mapping of label names to values.
func (c *conv) stringMap(e entry) ([]entry, bool) {
	m := e.v
	if m.Kind != yaml.MappingNode {
		c.problem(e.k.Line, e.path, "must be a mapping, got %s", config.NodeKind(m))
		return nil, false
	}
	var out []entry
	ok := true
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], config.ResolveAlias(m.Content[i+1])
		kp := joinKey(e.path, k.Value)
		if v == nil || v.Kind != yaml.ScalarNode {
			c.problem(k.Line, kp, "must be a string, got %s", config.NodeKind(v))
			ok = false
			continue
		}
		out = append(out, entry{k: k, v: v, path: kp})
	}
	return out, ok
}

// items returns the items of the list in e, or reports it is not one.
func (c *conv) items(e entry) []*yaml.Node {
	if e.v.Kind != yaml.SequenceNode {
		c.problem(e.k.Line, e.path, "must be a list, got %s", config.NodeKind(e.v))
		return nil
	}
	out := make([]*yaml.Node, len(e.v.Content))
	for i, it := range e.v.Content {
		out[i] = config.ResolveAlias(it)
		if out[i] == nil {
			out[i] = it
		}
	}
	return out
}
