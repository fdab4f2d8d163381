package config

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Limits that keep hostile documents (alias bombs, merge cycles) cheap.
const (
	maxSteps      = 200_000 // mapping pairs, list items and merge sources visited
	maxMergeDepth = 16
)

// decoder turns a yaml.Node tree into a Config. It records the line of every
// key it sees in pos, keyed by path ("sources[0].paths[1]"), and the line of
// every mapping and list item, so that validation can point at the key or,
// for a key left out, at the mapping that should hold it.
type decoder struct {
	ps     *problems
	pos    map[string]int
	skip   map[*yaml.Node]bool // values whose ${VAR} expansion failed
	failed map[string]bool     // paths of those values
	steps  int
	capped bool // the step limit was hit and reported
	types  sinkTypes
	// sourceTypes is nil when Load was given none.
	sourceTypes sourceTypes
}

type field struct {
	key    string
	decode func(n *yaml.Node, path string)
}

type pair struct{ k, v *yaml.Node }

// pairs returns the key/value pairs of mapping m, merge keys ("<<") applied:
// explicit keys first, then merged keys not set explicitly (the first merged
// mapping wins, as YAML specifies). Duplicate explicit keys are problems.
func (d *decoder) pairs(m *yaml.Node, path string, depth int) []pair {
	var out, merges []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if !d.step(k.Line, path) {
			return out
		}
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, pair{k, v})
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.ps.add(k.Line, path, "keys must be strings, got %s", NodeKind(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.ps.add(k.Line, joinKey(path, k.Value), "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, pair{k, v})
	}
	for _, mp := range merges {
		srcs := []*yaml.Node{mp.v}
		if r := ResolveAlias(mp.v); r != nil && r.Kind == yaml.SequenceNode {
			srcs = r.Content
		}
		for _, s := range srcs {
			if !d.step(s.Line, path) {
				return out
			}
			rs := ResolveAlias(s)
			if rs == nil || rs.Kind != yaml.MappingNode {
				d.ps.add(mp.k.Line, path, "<< must merge a mapping or a list of mappings, got %s", NodeKind(s))
				continue
			}
			if depth >= maxMergeDepth {
				d.ps.add(mp.k.Line, path, "merges nested too deeply")
				continue
			}
			for _, p := range d.pairs(rs, path, depth+1) {
				if _, ok := seen[p.k.Value]; !ok {
					seen[p.k.Value] = p.k.Line
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// step counts one unit of work, and reports false once the limit is hit, so
// that alias and merge fan-out stays bounded however it is nested.
func (d *decoder) step(line int, path string) bool {
	if d.steps++; d.steps <= maxSteps {
		return true
	}
	if !d.capped {
		d.capped = true
		d.ps.add(line, path, "document too complex (too many aliases or merges)")
	}
	return false
}

// mapping decodes mapping n at path with fields. Unknown keys are problems;
// a key with a null value is treated as left out. It reports whether n was a
// mapping.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) bool {
	m := d.mappingNode(n, path)
	if m == nil {
		return false
	}
	d.mappingPairs(d.pairs(m, path, 0), path, fields, func(p pair) {
		msg := fmt.Sprintf("unknown key %q", p.k.Value)
		if s := Suggest(p.k.Value, fieldKeys(fields)); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		d.ps.add(p.k.Line, path, "%s", msg)
	})
	return true
}

// mappingNode resolves n to a mapping and records its line, or reports
// that it is not one and returns nil.
func (d *decoder) mappingNode(n *yaml.Node, path string) *yaml.Node {
	m := ResolveAlias(n)
	if m == nil || m.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "must be a mapping, got %s", NodeKind(n))
		return nil
	}
	if _, ok := d.pos[path]; !ok {
		d.pos[path] = m.Line
	}
	return m
}

// mappingPairs decodes pairs with fields; a key no field has goes to
// unknown.
func (d *decoder) mappingPairs(pairs []pair, path string, fields []field, unknown func(pair)) {
	for _, p := range pairs {
		key := p.k.Value
		f := findField(fields, key)
		if f == nil {
			unknown(p)
			continue
		}
		kp := joinKey(path, key)
		d.pos[kp] = p.k.Line
		if d.skip[p.v] {
			d.failed[kp] = true
			continue
		}
		if IsNull(p.v) {
			continue
		}
		f.decode(p.v, kp)
	}
}

// fail reports a problem with the value at path and marks the path failed,
// so that validation does not report it again (as missing, say).
func (d *decoder) fail(line int, path, format string, args ...any) {
	d.ps.add(line, path, format, args...)
	d.failed[path] = true
}

func findField(fields []field, key string) *field {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i]
		}
	}
	return nil
}

// fieldKeys returns the keys of fields, for Suggest.
func fieldKeys(fields []field) []string {
	keys := make([]string, len(fields))
	for i := range fields {
		keys[i] = fields[i].key
	}
	return keys
}

// scalar returns the resolved scalar node under n, or reports that n must be
// a what and returns nil.
func (d *decoder) scalar(n *yaml.Node, path, what string) *yaml.Node {
	v := ResolveAlias(n)
	if v == nil || v.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, "must be %s, got %s", what, NodeKind(n))
		return nil
	}
	return v
}

func stringField[T ~string](d *decoder, out *T) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if v := d.scalar(n, path, "a string"); v != nil {
			*out = T(v.Value)
		}
	}
}

func (d *decoder) intField(out *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v := d.scalar(n, path, "an integer")
		if v == nil {
			return
		}
		i, err := strconv.Atoi(v.Value)
		if err != nil {
			d.fail(n.Line, path, "must be an integer, got %q", v.Value)
			return
		}
		*out = i
	}
}

func (d *decoder) boolField(out *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v := d.scalar(n, path, "true or false")
		if v == nil {
			return
		}
		b, err := strconv.ParseBool(v.Value)
		if err != nil {
			d.fail(n.Line, path, "must be true or false, got %q", v.Value)
			return
		}
		*out = b
	}
}

func (d *decoder) sizeField(out *ByteSize) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v := d.scalar(n, path, "a size like 64KiB or 16MiB")
		if v == nil {
			return
		}
		s, err := ParseByteSize(v.Value)
		if err != nil {
			d.fail(n.Line, path, "%v", err)
			return
		}
		*out = s
	}
}

func (d *decoder) durationField(out *Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v := d.scalar(n, path, "a duration like 250ms")
		if v == nil {
			return
		}
		dur, err := ParseDuration(v.Value)
		if err != nil {
			d.fail(n.Line, path, "%v", err)
			return
		}
		*out = dur
	}
}

// list calls item for each element of the list n, with its path and index.
func (d *decoder) list(n *yaml.Node, path string, item func(n *yaml.Node, path string)) bool {
	s := ResolveAlias(n)
	if s == nil || s.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, "must be a list, got %s", NodeKind(n))
		return false
	}
	for i, c := range s.Content {
		if !d.step(c.Line, path) {
			break
		}
		ip := path + "[" + strconv.Itoa(i) + "]"
		d.pos[ip] = c.Line
		if d.skip[c] {
			d.failed[ip] = true
			continue
		}
		item(c, ip)
	}
	return true
}

// stringList decodes a list of strings. An explicit empty list gives an
// empty, non-nil slice, so validation can tell it from a key left out.
func (d *decoder) stringList(out *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		l := []string{}
		d.list(n, path, func(c *yaml.Node, ip string) {
			// A placeholder for a bad item keeps the indexes of the
			// others right in later problems.
			item := ""
			if v := d.scalar(c, ip, "a string"); v != nil {
				item = v.Value
			}
			l = append(l, item)
		})
		*out = l
	}
}

// stringMap decodes a mapping of strings to strings, such as labels.
func (d *decoder) stringMap(out *map[string]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		m := ResolveAlias(n)
		if m == nil || m.Kind != yaml.MappingNode {
			d.fail(n.Line, path, "must be a mapping, got %s", NodeKind(n))
			return
		}
		res := map[string]string{}
		for _, p := range d.pairs(m, path, 0) {
			kp := joinKey(path, p.k.Value)
			d.pos[kp] = p.k.Line
			if d.skip[p.v] {
				d.failed[kp] = true
				continue
			}
			if IsNull(p.v) {
				res[p.k.Value] = ""
				continue
			}
			if v := d.scalar(p.v, kp, "a string"); v != nil {
				res[p.k.Value] = v.Value
			}
		}
		*out = res
	}
}

func (d *decoder) config(root *yaml.Node) Config {
	c := defaultConfig()
	d.mapping(root, "", []field{
		{"data_dir", stringField(d, &c.DataDir)},
		{"memory_limit", d.sizeField(&c.MemoryLimit)},
		{"shutdown_timeout", d.durationField(&c.ShutdownTimeout)},
		{"wal", func(n *yaml.Node, path string) { d.wal(n, path, &c.WAL) }},
		{"dlq", func(n *yaml.Node, path string) {
			d.mapping(n, path, []field{
				{"max_bytes", d.sizeField(&c.DLQ.MaxBytes)},
				{"max_age", d.durationField(&c.DLQ.MaxAge)},
			})
		}},
		{"sources", func(n *yaml.Node, path string) {
			c.Sources = []Source{}
			d.list(n, path, func(n *yaml.Node, path string) {
				c.Sources = append(c.Sources, d.source(n, path))
			})
		}},
		{"sinks", func(n *yaml.Node, path string) {
			c.Sinks = []Sink{}
			d.list(n, path, func(n *yaml.Node, path string) {
				c.Sinks = append(c.Sinks, d.sink(n, path))
			})
		}},
		{"admin", func(n *yaml.Node, path string) {
			d.mapping(n, path, []field{
				{"listen", stringField(d, &c.Admin.Listen)},
				{"token_file", stringField(d, &c.Admin.TokenFile)},
				{"unready_after", d.durationField(&c.Admin.UnreadyAfter)},
				{"pprof", d.boolField(&c.Admin.PProf)},
			})
		}},
		{"takeover", func(n *yaml.Node, path string) {
			d.mapping(n, path, []field{
				{"promtail_positions", stringField(d, &c.Takeover.PromtailPositions)},
				{"ignore_invalid", d.boolField(&c.Takeover.IgnoreInvalid)},
			})
		}},
	})
	c.Takeover.Line = d.pos["takeover.promtail_positions"]
	return c
}

func (d *decoder) wal(n *yaml.Node, path string, w *WAL) {
	d.mapping(n, path, []field{
		{"segment_size", d.sizeField(&w.SegmentSize)},
		{"max_bytes", d.sizeField(&w.MaxBytes)},
		{"sync", stringField(d, &w.Sync)},
		{"sync_interval", d.durationField(&w.SyncInterval)},
		{"full_policy", stringField(d, &w.FullPolicy)},
		{"compression", stringField(d, &w.Compression)},
	})
}

// source decodes one sources entry: the common keys here, the rest by the
// options of its type. The rest of an entry of an unknown or missing type,
// or of any entry when Load was given no source types, is left alone.
func (d *decoder) source(n *yaml.Node, path string) Source {
	var s Source
	common := []field{
		{"name", stringField(d, &s.Name)},
		{"type", stringField(d, &s.Type)},
		{"labels", d.stringMap(&s.Labels)},
		{"sinks", d.stringList(&s.Sinks)},
		{"max_streams", d.intField(&s.MaxStreams)},
		{"relabel_configs", d.relabelConfigs(&s.RelabelConfigs)},
		{"pipeline_stages", func(n *yaml.Node, path string) {
			if l := ResolveAlias(n); l != nil && l.Kind == yaml.SequenceNode {
				s.PipelineStages = l
				return
			}
			d.fail(n.Line, path, "must be a list, got %s", NodeKind(n))
		}},
	}
	m := d.mappingNode(n, path)
	if m == nil {
		return s
	}
	var rest []pair
	d.mappingPairs(d.pairs(m, path, 0), path, common, func(p pair) { rest = append(rest, p) })
	if d.sourceTypes == nil {
		return s
	}
	t := d.sourceTypes.find(s.Type)
	if t == nil || t.New == nil {
		return s
	}
	sc := t.New()
	if d.typeKeys(rest, path, sc, "source", string(t.Name), common,
		func(key string) []string { return d.sourceTypes.ownersOf(key, t.Name) }) {
		s.Options = sc
	}
	return s
}

// sink decodes one sinks entry: the common keys here, the rest by the
// options of its type. The rest of an entry of an unknown or missing type
// is left alone (the type is the problem to report).
func (d *decoder) sink(n *yaml.Node, path string) Sink {
	s := defaultSink()
	common := []field{
		{"name", stringField(d, &s.Name)},
		{"type", stringField(d, &s.Type)},
		{"batch", func(n *yaml.Node, path string) {
			d.mapping(n, path, []field{
				{"max_entries", d.intField(&s.Batch.MaxEntries)},
				{"max_bytes", d.sizeField(&s.Batch.MaxBytes)},
				{"max_wait", d.durationField(&s.Batch.MaxWait)},
			})
		}},
		{"workers", d.intField(&s.Workers)},
		{"retry", func(n *yaml.Node, path string) {
			d.mapping(n, path, []field{
				{"max_attempts", d.intField(&s.Retry.MaxAttempts)},
				{"min_backoff", d.durationField(&s.Retry.MinBackoff)},
				{"max_backoff", d.durationField(&s.Retry.MaxBackoff)},
			})
		}},
	}
	m := d.mappingNode(n, path)
	if m == nil {
		return s
	}
	var rest []pair
	d.mappingPairs(d.pairs(m, path, 0), path, common, func(p pair) { rest = append(rest, p) })
	if t := d.types.find(s.Type); t != nil && t.New != nil {
		sc := t.New()
		d.typeKeys(rest, path, sc, "sink", t.Name, common,
			func(key string) []string { return d.types.ownersOf(key, t.Name) })
		s.Options = sc
	}
	return s
}
