package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SinkType is a kind of sink, registered by the package that implements it
// (sinks.FileSinkType, loki.SinkType, kafka.SinkType, ...) and handed to
// Load in ParseOptions.SinkTypes; cmd holds the one list. config decodes the
// keys every sink has (name, type, batch, workers, retry) and hands the rest
// of the entry to the type named by its type key, as the OpenTelemetry
// Collector's core hands a component's keys to its factory.
type SinkType struct {
	// Name is the value of the type key, e.g. "kafka".
	Name string
	// New returns the type's options with their defaults set: a pointer to
	// a struct whose exported fields carry yaml tags. The entry's other
	// keys are decoded into it by tag: strings, bools, ints, ByteSize,
	// Duration and time.Duration, []string, map[string]string and nested
	// structs of these; a key no field carries is a problem.
	New func() SinkConfig
}

// SinkConfig is a sink type's own options, decoded from one sinks entry.
type SinkConfig interface {
	// Check reports what is wrong with the options, after decoding, on c;
	// a value the decoder already refused (a bad size, say) is not
	// reported again. It must not touch the file system or the network.
	Check(c *Check)
}

// FileChecker is a SinkConfig that can also check the files it names (a
// password file, TLS files) without the network. Load runs it when
// ParseOptions.CheckFiles is set, as logcapturer check does.
type FileChecker interface {
	CheckFiles(c *Check)
}

// Check is handed to a SinkConfig or SourceConfig to report its
// problems. Keys are relative to the entry ("url", "sasl.mechanism",
// "brokers[1]", "multiline.start"); a problem carries the line of its key
// or, for a key left out, of the nearest enclosing mapping in the file. Not
// safe for concurrent use.
type Check struct {
	v      *validator
	path   string // "sinks[2]", "sources[0]"
	kind   string // "sink" or "source"
	name   string
	claims map[string]string // resource -> `sink "name"` that claimed it first (sources have their own map)
	source *Source           // the source entry being checked; nil for a sink
}

// Name is the sink's or source's name ("" when it has none).
func (c *Check) Name() string { return c.name }

// Problem reports that the value at key (relative to the entry; "" for the
// entry itself) is wrong. Nothing is reported under a key whose value the
// decoder already refused.
func (c *Check) Problem(key, format string, args ...any) {
	c.v.add(c.key(key), format, args...)
}

// ProblemAt reports a problem at a line the caller knows (a stage's line,
// found by the stages package in Source.PipelineStages) under key,
// relative to the entry ("pipeline_stages[2].regex.expression"). A line of
// 0 means the line of key, as Problem. Nothing is reported under a key
// whose value the decoder already refused.
func (c *Check) ProblemAt(line int, key, format string, args ...any) {
	c.v.addAt(line, c.key(key), format, args...)
}

// Labels are the labels of the source being checked (nil for a sink, or
// when none are set), for a type that reserves label names it sets itself.
func (c *Check) Labels() map[string]string {
	if c.source == nil {
		return nil
	}
	return c.source.Labels
}

// PipelineStages is the pipeline_stages list of the source being checked,
// as written (see Source.PipelineStages); nil for a sink or when not set.
func (c *Check) PipelineStages() *yaml.Node {
	if c.source == nil {
		return nil
	}
	return c.source.PipelineStages
}

// CheckingFiles reports whether the files the configuration names are
// checked too (ParseOptions.CheckFiles, as logcapturer check does): then a
// Check may read the files its options name (a stage's database).
func (c *Check) CheckingFiles() bool { return c.v.checkFiles }

// Warning reports that the value at key (relative to the entry) is
// probably not what was meant but does not stop the config from loading:
// logcapturer check prints it, run logs it once (Config.Warnings).
func (c *Check) Warning(key, format string, args ...any) {
	c.v.ps.warn(c.v.line(c.key(key)), c.key(key), format, args...)
}

// Has reports whether key is set in the file (false for a Config built in
// code).
func (c *Check) Has(key string) bool { return c.v.has(c.key(key)) }

// Claim records that this sink (or source) uses resource (say
// "file:/var/log/out.log") and reports which one claimed it first, if
// another one did: `sink "archive"`.
func (c *Check) Claim(resource string) (owner string, taken bool) {
	if owner, taken := c.claims[resource]; taken {
		return owner, true
	}
	c.claims[resource] = fmt.Sprintf("%s %q", c.kind, c.name)
	return "", false
}

// Required reports a required string that is missing ("is required") or
// empty ("must not be empty"), and returns whether it is set.
func (c *Check) Required(key, val string) bool { return c.v.required(c.key(key), val) }

// OneOf reports val when it is not one of allowed: "is required" when it is
// empty and was left out, else "must be a, b or c, got "x"".
func (c *Check) OneOf(key, val string, allowed ...string) { oneOf(c.v, c.key(key), val, allowed...) }

// Glob reports a path glob (filepath.Match syntax, plus Promtail's "**"
// and {a,b}: package internal/glob) that is empty, does not compile, or
// has "**" inside a path element.
func (c *Check) Glob(key, pattern string) { c.v.glob(c.key(key), pattern) }

// Positive reports a duration that is not greater than 0.
func (c *Check) Positive(key string, d time.Duration) { c.v.positive(c.key(key), Duration(d)) }

func (c *Check) key(k string) string {
	switch {
	case c.path == "":
		return k
	case k == "":
		return c.path
	case strings.HasPrefix(k, "["):
		return c.path + k
	}
	return c.path + "." + k
}

// CheckOnly runs sc.Check outside a file, for options built in code. It
// returns nil or an *Error whose problems have keys relative to the entry
// and no line.
func CheckOnly(sc SinkConfig) error {
	ps := &problems{}
	sc.Check(&Check{v: &validator{ps: ps}, kind: "sink", claims: map[string]string{}})
	return ps.err()
}

// CheckSource runs the options' Check outside a file, for a source built
// in code (s.Options must not be nil). It returns nil or an *Error whose
// problems have keys relative to the entry and no line.
func CheckSource(s *Source) error {
	ps := &problems{}
	s.Options.Check(&Check{v: &validator{ps: ps}, kind: "source", name: s.Name, claims: map[string]string{}, source: s})
	return ps.err()
}

// sinkTypes is the registry Load was given.
type sinkTypes []SinkType

func (ts sinkTypes) find(name string) *SinkType {
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i]
		}
	}
	return nil
}

func (ts sinkTypes) names() []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// ownersOf lists the types other than self whose options have key.
func (ts sinkTypes) ownersOf(key, self string) []string {
	var out []string
	for _, t := range ts {
		if t.Name == self || t.New == nil {
			continue
		}
		if slices.Contains(structKeys(t.New()), key) {
			out = append(out, t.Name)
		}
	}
	return out
}

// structKeys lists the top-level yaml keys of a type's options.
func structKeys(sc any) []string {
	v := reflect.ValueOf(sc)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	t := v.Elem().Type()
	for i := 0; i < t.NumField(); i++ {
		if k := yamlKey(t.Field(i)); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// yamlKey is a struct field's key: its yaml tag's name; "" for fields
// without a tag, with "-", or unexported.
func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

var (
	byteSizeType = reflect.TypeFor[ByteSize]()
	durationType = reflect.TypeFor[Duration]()
	stdDurType   = reflect.TypeFor[time.Duration]()
	stringsType  = reflect.TypeFor[[]string]()
	strMapType   = reflect.TypeFor[map[string]string]()
)

// structFields returns the fields of the struct v (addressable) by yaml
// tag. Field types: string kinds, bool, int kinds, ByteSize (a size),
// Duration and time.Duration (a duration), []string, map[string]string,
// and structs of these (a nested mapping).
func (d *decoder) structFields(v reflect.Value) []field {
	t := v.Type()
	var fields []field
	for i := 0; i < t.NumField(); i++ {
		key := yamlKey(t.Field(i))
		if key == "" {
			continue
		}
		fields = append(fields, field{key, d.valueField(v.Field(i))})
	}
	return fields
}

func (d *decoder) valueField(fv reflect.Value) func(*yaml.Node, string) {
	switch ft := fv.Type(); {
	case ft == byteSizeType:
		return d.sizeField(fv.Addr().Interface().(*ByteSize))
	case ft == durationType:
		return d.durationField(fv.Addr().Interface().(*Duration))
	case ft == stdDurType:
		var tmp Duration
		f := d.durationField(&tmp)
		return func(n *yaml.Node, path string) {
			tmp = Duration(fv.Int())
			f(n, path)
			fv.SetInt(int64(tmp))
		}
	case ft == stringsType:
		return d.stringList(fv.Addr().Interface().(*[]string))
	case ft == strMapType:
		return d.stringMap(fv.Addr().Interface().(*map[string]string))
	case ft.Kind() == reflect.String:
		return func(n *yaml.Node, path string) {
			if v := d.scalar(n, path, "a string"); v != nil {
				fv.SetString(v.Value)
			}
		}
	case ft.Kind() == reflect.Bool:
		var tmp bool
		f := d.boolField(&tmp)
		return func(n *yaml.Node, path string) {
			tmp = fv.Bool()
			f(n, path)
			fv.SetBool(tmp)
		}
	case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Int64:
		var tmp int
		f := d.intField(&tmp)
		return func(n *yaml.Node, path string) {
			tmp = int(fv.Int())
			f(n, path)
			fv.SetInt(int64(tmp))
		}
	case ft.Kind() == reflect.Struct:
		return func(n *yaml.Node, path string) {
			d.mapping(n, path, d.structFields(fv))
		}
	}
	return func(n *yaml.Node, path string) {
		d.fail(n.Line, path, "internal error: cannot decode a %s", fv.Type())
	}
}

// article is "a" or "an" for a sink type's name.
func article(name string) string {
	if name != "" && (strings.ContainsRune("aeiou", rune(name[0])) || strings.HasPrefix(name, "http")) {
		return "an"
	}
	return "a"
}

// typeKeys decodes the keys of a sink or source entry (kind) that are not
// common ones into opts, the options of its type. A key the type does not
// have is a problem that names the types that do have it (owners), or
// suggests a close key. It reports whether opts is an options struct.
func (d *decoder) typeKeys(rest []pair, path string, opts any, kind, typeName string, common []field, owners func(key string) []string) bool {
	v := reflect.ValueOf(opts)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		d.ps.add(d.pos[path], path, "internal error: %s type %s has no options struct", kind, typeName)
		return false
	}
	fields := d.structFields(v.Elem())
	known := append(append([]field{}, fields...), common...)
	d.mappingPairs(rest, path, fields, func(p pair) {
		key := p.k.Value
		if owners := owners(key); len(owners) > 0 {
			d.ps.add(p.k.Line, joinKey(path, key), "must not be set for %s %s %s; it is a key of %s %ss",
				article(typeName), typeName, kind, andList(owners), kind)
			return
		}
		msg := fmt.Sprintf("unknown key %q", key)
		if s := Suggest(key, fieldKeys(known)); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		d.ps.add(p.k.Line, path, "%s", msg)
	})
	return true
}
