package stages

import "testing"

func TestJSON(t *testing.T) {
	const dockerLine = `{"log":"log message\n","stream":"stderr","time":"2019-04-30T02:12:41.8443515Z","extra":"{\"user\":\"marco\"}"}`
	for _, tc := range []struct {
		name, doc, line string
		want            map[string]any
		failed          string
		dropped         bool
	}{
		// Loki docs, json stage, "Example: Using log line".
		{"doc using log line", `
- json:
    expressions:
      output: log
      stream: stream
      timestamp: time
`, dockerLine, map[string]any{"output": "log message\n", "stream": "stderr", "timestamp": "2019-04-30T02:12:41.8443515Z"}, "", false},
		// Loki docs, json stage, "Example: Using extracted data".
		{"doc using extracted data", `
- json:
    expressions:
      output: log
      stream: stream
      timestamp: time
      extra:
- json:
    expressions:
      user:
    source: extra
`, dockerLine, map[string]any{"extra": `{"user":"marco"}`, "user": "marco"}, "", false},
		// Loki docs, json stage, "Using a JMESPath Literal".
		{"doc jmespath literal", `
- json:
    expressions:
      pod: '"pod.name"'
      app: "labels.app"
`, `{"pod.name":"web-1","labels":{"app":"shop"}}`, map[string]any{"pod": "web-1", "app": "shop"}, "", false},
		{"numbers are float64, 3e2 is 300", `
- json: {expressions: {n: n, big: big, b: b, z: z, missing: missing}}
`, `{"n":3e2,"big":204,"b":true,"z":null}`, map[string]any{"n": 300.0, "big": 204.0, "b": true, "z": nil, "missing": nil}, "", false},
		{"arrays re-encoded with HTML escaping", `
- json: {expressions: {teams: teams, obj: obj}}
`, `{"teams":["r&d","<ops>"],"obj":{"b":1,"a":"x"}}`, map[string]any{"teams": `["r\u0026d","\u003cops\u003e"]`, "obj": `{"a":"x","b":1}`}, "", false},
		{"escaped strings and keys", `
- json: {expressions: {msg: msg, k: '"a\"b"'}}
`, `{"msg":"tab\there \u00e9","a\"b":"q"}`, map[string]any{"msg": "tab\there é"}, "", false},
		{"nested path, last duplicate wins", `
- json: {expressions: {id: user.id}}
`, `{"user":{"id":1},"user":{"id":2,"id":3}}`, map[string]any{"id": 3.0}, "", false},
		{"path through a non-object is nil", `
- json: {expressions: {id: user.id}}
`, `{"user":"x"}`, map[string]any{"id": nil}, "", false},
		{"jmespath function (slow path)", `
- json: {expressions: {first: "items[0].name", n: "length(items)"}}
`, `{"items":[{"name":"a"},{"name":"b"}]}`, map[string]any{"first": "a", "n": 2.0}, "", false},
		{"not json counts and passes", `
- json: {expressions: {a: a}}
`, `not json`, map[string]any{"a": absent}, "json/malformed_json", false},
		{"json array is malformed for the stage", `
- json: {expressions: {a: a}}
`, `[1,2]`, map[string]any{"a": absent}, "json/malformed_json", false},
		{"drop_malformed drops", `
- json: {expressions: {a: a}, drop_malformed: true}
`, `{"a":`, nil, "json/malformed_json", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := runOne(t, tc.doc, tc.line, nil)
			if r.Dropped != tc.dropped {
				t.Fatalf("dropped = %v, want %v", r.Dropped, tc.dropped)
			}
			if !r.Dropped && r.Line != tc.line {
				t.Errorf("line changed: %q", r.Line)
			}
			checkExtracted(t, r.Extracted, tc.want)
			if tc.failed != "" && c.failed[tc.failed] != 1 {
				t.Errorf("failed counts %v, want %s once", c.failed, tc.failed)
			}
			if tc.failed == "" && len(c.failed) > 0 {
				t.Errorf("unexpected failures %v", c.failed)
			}
			if tc.dropped && c.dropped["malformed_json"] != 1 {
				t.Errorf("dropped counts %v", c.dropped)
			}
		})
	}
}

// TestJSONSearchErrorLeavesValue: a JMESPath expression that fails on an
// entry (join(',', tags) without tags) leaves the value as it was, as
// Promtail's json stage does (`if err != nil { continue }` in
// processEntry): absent stays absent, so a drop on it keeps the entry,
// and a label's copy stays. Found by a reviewer against Promtail's source.
func TestJSONSearchErrorLeavesValue(t *testing.T) {
	r, _ := runOne(t, `
- json:
    expressions:
      tags: "join(',', tags)"
- drop:
    source: tags
`, `{"msg":"no tags here"}`, map[string]string{"job": "x"})
	if r.Dropped {
		t.Errorf("entry dropped: the failed search set tags")
	}
	r, _ = runOne(t, `
- json:
    expressions:
      n: "length(items)"
      msg: msg
`, `{"msg":"x"}`, map[string]string{"n": "from-label"})
	if v, ok := r.Extracted["n"]; !ok || v != "from-label" {
		t.Errorf("extracted[n] = %#v (present %v), want the label's copy", v, ok)
	}
	if r.Extracted["msg"] != "x" {
		t.Errorf("extracted[msg] = %#v", r.Extracted["msg"])
	}
}

// TestJSONInvalidUTF8: a JSON string whose bytes are not UTF-8 is
// extracted with its bytes as they are, as Promtail's json-iterator reads
// it (encoding/json would put U+FFFD in their place): the labels stage
// then sets no label of it, as Promtail's skips a value that is not
// UTF-8, and output writes the bytes. Both the plain-path and the
// JMESPath decoders. Found by a reviewer.
func TestJSONInvalidUTF8(t *testing.T) {
	for _, msgExpr := range []string{"msg", "to_string(msg)"} {
		doc := "- json: {expressions: {user: user, msg: '" + msgExpr + "'}}\n- labels: {user: \"\"}\n- output: {source: msg}\n"
		r, _ := runOne(t, doc, "{\"user\":\"caf\xe9\",\"msg\":\"na\xefve \\u00e9\"}", map[string]string{"job": "x"})
		if v, ok := r.Labels["user"]; ok {
			t.Errorf("%s: label user = %q: a value that is not UTF-8 is no label", msgExpr, v)
		}
		if r.Line != "na\xefve é" {
			t.Errorf("%s: line %q, want the bytes as they are", msgExpr, r.Line)
		}
	}
}

// TestUnquoteSurrogates: surrogate escapes as json-iterator (Promtail)
// reads them: a surrogate that does not pair with the next \u escape is
// U+FFFD, and that escape is taken as it is.
func TestUnquoteSurrogates(t *testing.T) {
	for in, want := range map[string]string{
		`"\ud83d\ude00"`:       "😀",
		`"\ud800\ud83d\ude00"`: "\uFFFD\uFFFD\uFFFD",
		`"\udc00\ud800\udc00"`: "\uFFFD\uFFFD\uFFFD",
		`"\ud800\u0041"`:       "\uFFFDA",
		`"\ud800x"`:            "\uFFFDx",
		`"\ud800\n"`:           "\uFFFD\n",
	} {
		if got := unquote(in); got != want {
			t.Errorf("unquote(%s) = %q, want %q", in, got, want)
		}
	}
	// An object extracted whole keeps a string's bytes until it is
	// encoded again (as U+FFFD), on both paths.
	for _, expr := range []string{"b", "to_string(b)"} {
		r, _ := runOne(t, "- json: {expressions: {v: '"+expr+"'}}\n- output: {source: v}\n", "{\"b\":{\"u\":\"caf\xe9\"}}", nil)
		if r.Line != `{"u":"caf\ufffd"}` {
			t.Errorf("%s: %q", expr, r.Line)
		}
	}
}
