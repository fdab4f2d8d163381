package stages

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jmespath/go-jmespath"
	"go.yaml.in/yaml/v3"
)

// FuzzJSON checks the json stage's fast path against Promtail's way
// (decode the whole object, evaluate with go-jmespath): same verdict on
// malformed lines, same values.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":"x","b":{"c":1}}`, `{"a":3e2,"b":null}`, `null`, `[1]`, `{"a":"\u00e9\ud83d\ude00"}`,
		`{"a":[1,"r&d"],"x y":true}`, `{"a":1,"a":{"b":2}}`, `{"a":01}`, `{"a":1e400}`, "{\"a\":\"\xff\"}",
		`{"b":{"c":{"d":1},"c":"s"}}`, ` {"a" : -0.5e-3 } `, `{"a":"x"} x`, `{"a\u0062":1}`,
		"{\"a\":1,\"a\":{\"?\xc2\xc2b\":2}}", `{"a":"\ud800\ud83d\ude00"}`,
	} {
		f.Add(s)
	}
	exprs := map[string]string{"a": "a", "c": "b.c", "q": `"x y"`, "ab": `"a\u0062"`}
	env, _ := testEnv(testNow)
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(`
- json:
    expressions:
      a: a
      c: b.c
      q: '"x y"'
`), &node); err != nil {
		f.Fatal(err)
	}
	pl, ps := Parse(node.Content[0], env)
	if len(ps) > 0 {
		f.Fatal(ps)
	}
	js := pl.stages[0].(*jsonStage)
	if !js.fast {
		f.Fatal("expected the fast path")
	}
	f.Fuzz(func(t *testing.T, line string) {
		fastErr := js.extractFast(line)
		got := map[string]any{}
		for _, x := range js.exprs {
			got[x.name] = x.value
		}
		// encoding/json says what is valid; decodeObject (the JMESPath
		// path's decoder) must agree with it on valid UTF-8, and keeps
		// the bytes of other strings as they are, as Promtail's
		// json-iterator does, where encoding/json puts U+FFFD.
		var std map[string]any
		stdErr := json.Unmarshal([]byte(line), &std)
		data, slowErr := decodeObject(line)
		if (fastErr == nil) != (stdErr == nil) || (slowErr == nil) != (stdErr == nil) {
			t.Fatalf("%q: fast err %v, decodeObject err %v, encoding/json err %v", line, fastErr, slowErr, stdErr)
		}
		if stdErr != nil {
			return
		}
		// (Unpaired surrogate escapes differ too: encoding/json tries the
		// next escape again as a pair's start, json-iterator does not.)
		if utf8.ValidString(line) && !strings.Contains(strings.ToLower(line), `\ud`) && !reflect.DeepEqual(data, std) {
			t.Fatalf("%q: decodeObject %#v, encoding/json %#v", line, data, std)
		}
		for name, expr := range exprs {
			if name == "ab" {
				continue
			}
			r, err := jmespath.Search(expr, data)
			if err != nil {
				t.Fatal(err)
			}
			if want := jsonResult(r); !reflect.DeepEqual(got[name], want) {
				t.Fatalf("%q: %s = %#v, jmespath gives %#v", line, name, got[name], want)
			}
		}
		// The whole stage must not panic either.
		e := &Entry{Line: line}
		pl.Process(e, func(*Entry) {})
	})
}

// FuzzLogfmt runs the logfmt stage on arbitrary lines.
func FuzzLogfmt(f *testing.F) {
	for _, s := range []string{`a=1 b="x y" c`, `a="unterminated`, `=x`, "a=\xff b=\"\\u00\"", ``} {
		f.Add(s)
	}
	env, _ := testEnv(testNow)
	pl := mustParse(f, "- logfmt: {mapping: {a: , b: , c: }}\n", env)
	f.Fuzz(func(t *testing.T, line string) {
		pl.Process(&Entry{Line: line}, func(*Entry) {})
	})
}

// FuzzRegex compiles an arbitrary expression as a regex stage and runs it
// on an arbitrary line.
func FuzzRegex(f *testing.F) {
	f.Add(`^(?P<a>\w+) (?P<b>.*)$`, "hello world")
	f.Add(`(?P<a>x)?(?P<b>y)|(?P<c>z)`, "z")
	f.Add(`(`, "x")
	f.Add(`(?P<a>\d+`, "1")
	f.Fuzz(func(t *testing.T, expr, line string) {
		n := &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{
			Kind: yaml.MappingNode, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Value: "regex"},
				{Kind: yaml.MappingNode, Content: []*yaml.Node{
					{Kind: yaml.ScalarNode, Value: "expression"},
					{Kind: yaml.ScalarNode, Tag: "!!str", Value: expr},
				}},
			},
		}}}
		env, _ := testEnv(testNow)
		pl, ps := Parse(n, env)
		if pl == nil {
			if len(ps) == 0 {
				t.Fatal("no pipeline and no problem")
			}
			return
		}
		pl.Process(&Entry{Line: line}, func(*Entry) {})
	})
}

// FuzzTemplate renders Promtail-style templates over arbitrary values.
func FuzzTemplate(f *testing.F) {
	f.Add("hello", "v=world")
	f.Add("", "")
	f.Add("\xff", "v={{")
	env, _ := testEnv(testNow)
	pl := mustParse(f, `
- regex: {expression: "v=(?P<v>.*)"}
- template: {source: a, template: '{{ .Value | ToUpper }}-{{ Replace .Entry "a" "b" -1 }}-{{ Hash "s" .v }}'}
- template: {source: b, template: '{{ regexReplaceAll "(a+)" .Entry "${1}x" }}{{ .v | default "d" | trunc 5 }}{{ TrimPrefix .v "v" }}'}
- template: {source: c, template: '{{ if eq .v "x" }}{{ fromJson .Entry }}{{ else }}{{ .v | b64enc }}{{ end }}'}
- replace: {expression: "(a|b)", replace: '{{ .Value | ToUpper }}{{ .v }}'}
`, env)
	f.Fuzz(func(t *testing.T, label, line string) {
		pl.Process(&Entry{Line: line, Labels: map[string]string{"v": label}}, func(*Entry) {})
	})
}

// FuzzSelector parses arbitrary selectors and runs those that parse.
func FuzzSelector(f *testing.F) {
	for _, s := range []string{`{a="b"}`, `{a=~"b.*", c!="d"} |= "x" or "y" !~ "z"`, "{a=`b`} |~ `\\d+`", `{a="\x"}`, `{`, `{a="b"} | json`} {
		f.Add(s, "a line")
	}
	f.Fuzz(func(t *testing.T, sel, line string) {
		s, err := ParseSelector(sel)
		if err != nil {
			return
		}
		s.Matches(map[string]string{"a": line}, line)
	})
}
