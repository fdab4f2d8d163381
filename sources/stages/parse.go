package stages

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// Problem is one thing wrong with a pipeline_stages list. Key is relative
// to the list, such as "[3].regex.expression" (the caller prefixes it with
// the list's own path); Line is the YAML line (1-based, 0 if unknown).
type Problem struct {
	Key  string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Key, p.Msg)
	}
	return p.Key + ": " + p.Msg
}

// maxNesting bounds match stages nested in match stages.
const maxNesting = 16

// parser builds stages from YAML and collects problems. One parser builds
// one Pipeline, nested match pipelines included.
type parser struct {
	env      Env
	problems []Problem
	depth    int
}

func (p *parser) fail(line int, key, format string, args ...any) {
	p.problems = append(p.problems, Problem{Key: key, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Parse builds a Pipeline from node, the raw pipeline_stages sequence: each
// item a one-key mapping {stagename: options}, as in Promtail. It reports
// every problem it finds (never a panic); the Pipeline is nil when there is
// any. A nil or null node is an empty pipeline.
func Parse(node *yaml.Node, env Env) (*Pipeline, []Problem) {
	p := &parser{env: env.withDefaults()}
	pl := p.pipeline(node, "", true)
	if len(p.problems) > 0 {
		if pl != nil {
			pl.Close() // what the stages built hold: a geoip database, metric series
		}
		return nil, p.problems
	}
	return pl, nil
}

// pipeline parses a list of stages at key (the list's own key, "" at the
// top). top marks the source's pipeline, whose Extracted map is reset per
// entry; a nested one copies the labels over what is there (Promtail).
func (p *parser) pipeline(node *yaml.Node, key string, top bool) *Pipeline {
	node = config.ResolveAlias(node)
	pl := newPipeline(p.env, top)
	if node == nil || config.IsNull(node) {
		return pl
	}
	if node.Kind != yaml.SequenceNode {
		hint := ""
		if node.Kind == yaml.MappingNode && len(node.Content) > 0 {
			if _, ok := stageList[node.Content[0].Value]; ok {
				hint = fmt.Sprintf(" (write each stage as a list item: \"- %s: ...\")", node.Content[0].Value)
			}
		}
		p.fail(node.Line, key, "must be a list of stages, got %s%s", config.NodeKind(node), hint)
		return nil
	}
	for i, item := range node.Content {
		ikey := key + "[" + strconv.Itoa(i) + "]"
		if s := p.stage(item, ikey); s != nil {
			pl.add(s)
		}
	}
	return pl
}

// stage parses one list item {name: options}.
func (p *parser) stage(item *yaml.Node, key string) Stage {
	item = config.ResolveAlias(item)
	if item == nil {
		p.fail(0, key, "broken alias")
		return nil
	}
	if item.Kind != yaml.MappingNode {
		msg := "a stage must be a mapping of one stage name to its options, got " + config.NodeKind(item)
		if item.Kind == yaml.ScalarNode {
			if _, ok := stageList[item.Value]; ok {
				msg += fmt.Sprintf(" (write \"- %s: {}\" or \"- %s:\" with options below)", item.Value, item.Value)
			}
		}
		p.fail(item.Line, key, "%s", msg)
		return nil
	}
	if len(item.Content) != 2 {
		var names []string
		for i := 0; i < len(item.Content); i += 2 {
			names = append(names, item.Content[i].Value)
		}
		if len(names) == 0 {
			p.fail(item.Line, key, "empty stage: name one stage (%s)", knownStages())
		} else {
			p.fail(item.Line, key, "one stage per list item, got %d keys (%s): start each stage with its own \"- \"", len(names), strings.Join(names, ", "))
		}
		return nil
	}
	name, opts := item.Content[0].Value, item.Content[1]
	skey := key + "." + name
	if why, ok := unsupported[name]; ok {
		p.fail(item.Content[0].Line, skey, "the %s stage is not supported: %s", name, why)
		return nil
	}
	st, ok := stageList[name]
	if !ok {
		msg := fmt.Sprintf("unknown stage %q", name)
		if owners := keyOwners(name); len(owners) > 0 {
			msg += fmt.Sprintf(" (%q is a key of the %s stage; indent it under that stage)", name, strings.Join(owners, ", "))
		} else if s := config.Suggest(name, stageNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		p.fail(item.Content[0].Line, skey, "%s; known stages: %s", msg, knownStages())
		return nil
	}
	before := len(p.problems)
	s := st.parse(p, config.ResolveAlias(opts), skey, item.Content[0].Line)
	if len(p.problems) > before {
		if s != nil {
			closeStage(s) // a match stage whose nested stages hold something
		}
		return nil
	}
	if s == nil {
		p.fail(item.Content[0].Line, skey, "stage could not be built")
	}
	return s
}

// decode fills out (a pointer to a stage's options struct with yaml tags)
// from n, strictly: a key that is not a field is a problem with its line,
// naming the stage it belongs to if it is another stage's key. line is the
// stage name's line, for a null n. It reports whether there was no problem.
func (p *parser) decode(n *yaml.Node, key string, line int, stage string, out any) bool {
	if n == nil || config.IsNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n.Line, key, "the %s stage's options must be a mapping, got %s", stage, config.NodeKind(n))
		return false
	}
	fields := fieldsOf(reflect.TypeOf(out).Elem())
	v := reflect.ValueOf(out).Elem()
	ok := true
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fkey := key + "." + k.Value
		if seen[k.Value] {
			p.fail(k.Line, fkey, "duplicate key")
			ok = false
			continue
		}
		seen[k.Value] = true
		idx, found := fields[k.Value]
		if !found {
			msg := fmt.Sprintf("unknown key %q in the %s stage", k.Value, stage)
			if owners := keyOwners(k.Value); len(owners) > 0 {
				msg += fmt.Sprintf(": it is a key of the %s stage", strings.Join(owners, ", "))
			} else if _, isStage := stageList[k.Value]; isStage {
				msg += fmt.Sprintf(": %s is a stage; start it with its own \"- \" in the list of stages", k.Value)
			}
			var names []string
			for f := range fields {
				names = append(names, f)
			}
			slices.Sort(names)
			if s := config.Suggest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.fail(k.Line, fkey, "%s; %s takes: %s", msg, stage, strings.Join(names, ", "))
			ok = false
			continue
		}
		if config.IsNull(val) {
			continue
		}
		if weakStages[stage] {
			val = weakNode(config.ResolveAlias(val), v.Field(idx).Type())
		}
		if err := config.ResolveAlias(val).Decode(v.Field(idx).Addr().Interface()); err != nil {
			p.fail(val.Line, fkey, "%s", yamlErrMsg(err))
			ok = false
		}
	}
	return ok
}

// weakStages are the stages whose options Promtail decodes with
// mapstructure.WeakDecode (cri, drop, limit, multiline, pack, sampling):
// "10" where a number is due, "true" where a boolean is, a single string
// where a list is, and a number or boolean where a string is (true is
// "1", 1.0 is "1"). A drop value: true then matches an extracted "1", as
// in Promtail.
var weakStages = map[string]bool{"cri": true, "drop": true, "limit": true, "multiline": true, "pack": true, "sampling": true}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// yaml11Bool are the plain scalars yaml.v2 (YAML 1.1) reads as booleans.
var yaml11Bool = map[string]string{
	"y": "true", "Y": "true", "yes": "true", "Yes": "true", "YES": "true", "on": "true", "On": "true", "ON": "true",
	"true": "true", "True": "true", "TRUE": "true",
	"n": "false", "N": "false", "no": "false", "No": "false", "NO": "false", "off": "false", "Off": "false", "OFF": "false",
	"false": "false", "False": "false", "FALSE": "false",
}

// weakNode returns the node WeakDecode would make of the scalar n for a
// field of type t (n itself when there is nothing to convert, or it does
// not convert: the decode then says what is wrong). Scalars are resolved
// as YAML 1.2 (yaml.v3) resolves them.
func weakNode(n *yaml.Node, t reflect.Type) *yaml.Node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return n
	}
	if t.Kind() == reflect.Slice {
		// One value for a list; every element converted.
		items := []*yaml.Node{n}
		if n.Kind == yaml.SequenceNode {
			items = n.Content
		} else if n.Kind != yaml.ScalarNode {
			return n
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: n.Line, Column: n.Column}
		for _, it := range items {
			seq.Content = append(seq.Content, weakNode(config.ResolveAlias(it), t.Elem()))
		}
		return seq
	}
	if n.Kind != yaml.ScalarNode {
		return n
	}
	tag := n.ShortTag()
	if n.Style == 0 && yaml11Bool[n.Value] != "" {
		// Promtail reads its config with yaml.v2 (YAML 1.1), where
		// yes, no, on, off, y and n are booleans too.
		tag = "!!bool"
	}
	var f float64
	isNum := (tag == "!!int" || tag == "!!float") && n.Decode(&f) == nil
	b := yaml11Bool[n.Value] == "true"
	isBool := tag == "!!bool"
	scalar := func(tag, v string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v, Line: n.Line, Column: n.Column}
	}
	bit := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	switch t.Kind() {
	case reflect.String:
		var i int64
		switch {
		case isBool:
			return scalar("!!str", bit(b))
		case tag == "!!int" && n.Decode(&i) == nil:
			return scalar("!!str", strconv.FormatInt(i, 10))
		case isNum:
			return scalar("!!str", strconv.FormatFloat(f, 'f', -1, 64))
		}
	case reflect.Bool:
		switch {
		case isBool:
			return scalar("!!bool", strconv.FormatBool(b))
		case tag == "!!str" && n.Value == "":
			return scalar("!!bool", "false")
		case tag == "!!str":
			if v, err := strconv.ParseBool(n.Value); err == nil {
				return scalar("!!bool", strconv.FormatBool(v))
			}
		case isNum:
			return scalar("!!bool", strconv.FormatBool(f != 0))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		switch {
		case tag == "!!str" && n.Value == "":
			return scalar("!!int", "0")
		case tag == "!!str" && t != reflect.TypeFor[time.Duration]():
			if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				return scalar("!!int", strconv.FormatInt(v, 10))
			}
		case isBool:
			return scalar("!!int", bit(b))
		case tag == "!!float" && isNum:
			return scalar("!!int", strconv.FormatInt(int64(f), 10))
		}
	case reflect.Float32, reflect.Float64:
		switch {
		case tag == "!!str" && n.Value == "":
			return scalar("!!float", "0")
		case tag == "!!str":
			if v, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return scalar("!!float", strconv.FormatFloat(v, 'g', -1, 64))
			}
		case isBool:
			return scalar("!!float", bit(b))
		}
	}
	return n
}

// yamlErrMsg strips yaml's "yaml: unmarshal errors:\n  line N: " framing.
func yamlErrMsg(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "cannot unmarshal "); i >= 0 {
		msg = "cannot decode " + msg[i+len("cannot unmarshal "):]
	}
	return strings.TrimPrefix(msg, "yaml: ")
}

// fieldsOf maps a struct's yaml keys to field indexes.
func fieldsOf(t reflect.Type) map[string]int {
	out := map[string]int{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			out[tag] = i
		}
	}
	return out
}

// keyOwners lists the stages that take key as an option.
func keyOwners(key string) []string {
	var out []string
	for _, name := range stageNames() {
		if opts := stageList[name].opts; opts != nil {
			if _, ok := fieldsOf(reflect.TypeOf(opts))[key]; ok {
				out = append(out, name)
			}
		}
	}
	return out
}

func stageNames() []string {
	names := make([]string, 0, len(stageList))
	for n := range stageList {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func knownStages() string { return strings.Join(stageNames(), ", ") }

// stringMap decodes a mapping of strings whose values may be null (labels,
// structured_metadata, logfmt mapping...). A value that is not a scalar is
// a problem.
func (p *parser) stringMap(n *yaml.Node, key, stage string) (map[string]string, bool) {
	n = config.ResolveAlias(n)
	if n == nil || config.IsNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n.Line, key, "the %s stage takes a mapping, got %s", stage, config.NodeKind(n))
		return nil, false
	}
	out := map[string]string{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], config.ResolveAlias(n.Content[i+1])
		if _, dup := out[k.Value]; dup {
			p.fail(k.Line, key+"."+k.Value, "duplicate key")
			ok = false
			continue
		}
		switch {
		case config.IsNull(v):
			out[k.Value] = ""
		case v.Kind == yaml.ScalarNode:
			out[k.Value] = v.Value
		default:
			p.fail(v.Line, key+"."+k.Value, "must be a string, got %s", config.NodeKind(v))
			ok = false
		}
	}
	return out, ok
}

// stringList decodes a list of strings.
func (p *parser) stringList(n *yaml.Node, key, stage string) ([]string, bool) {
	n = config.ResolveAlias(n)
	if n == nil || config.IsNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n.Line, key, "the %s stage takes a list of label names, got %s", stage, config.NodeKind(n))
		return nil, false
	}
	var out []string
	ok := true
	for i, v := range n.Content {
		v = config.ResolveAlias(v)
		if v == nil || v.Kind != yaml.ScalarNode || config.IsNull(v) {
			p.fail(n.Line, key+"["+strconv.Itoa(i)+"]", "must be a string, got %s", config.NodeKind(v))
			ok = false
			continue
		}
		out = append(out, v.Value)
	}
	return out, ok
}
