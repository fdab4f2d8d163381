package stages

import (
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"testing"
)

func sha2Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func sha3Hex(s string) string {
	h := sha3.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestTemplate(t *testing.T) {
	for _, tc := range []struct {
		name, doc, line string
		want            map[string]any
	}{
		// Loki docs, template stage, "Examples" (each snippet).
		{"doc new value", `
- template: {source: new_key, template: 'hello world!'}
`, "x", map[string]any{"new_key": "hello world!"}},
		{"doc suffix", `
- regex: {expression: "app=(?P<app>\\S+)"}
- template: {source: app, template: '{{ .Value }}_some_suffix'}
`, "app=loki", map[string]any{"app": "loki_some_suffix"}},
		{"doc ToLower", `
- regex: {expression: "app=(?P<app>\\S+)"}
- template: {source: app, template: '{{ ToLower .Value }}'}
`, "app=LOKI", map[string]any{"app": "loki"}},
		{"doc Replace", `
- regex: {expression: "app=(?P<app>\\S+)"}
- template: {source: output_msg, template: '{{ .level }} for app {{ ToUpper .app }}'}
- template: {source: app, template: '{{ Replace .Value "loki" "blokey" 1 }}'}
`, "app=loki", map[string]any{"app": "blokey", "output_msg": "<no value> for app LOKI"}},
		{"doc Entry", `
- template: {source: message, template: '{{ .Entry }}'}
`, "the line", map[string]any{"message": "the line"}},
		{"doc TrimSpace and Trim", `
- regex: {expression: "v=(?P<v>.*)$"}
- template: {source: v, template: '{{ Trim (TrimSpace .Value) "!" }}'}
`, "v=  !hi!  ", map[string]any{"v": "hi"}},
		{"doc Hash and Sha2Hash", `
- regex: {expression: "ip=(?P<ip>\\S+)"}
- template: {source: h3, template: '{{ Hash "salt" .ip }}'}
- template: {source: h2, template: '{{ Sha2Hash "salt" .ip }}'}
`, "ip=1.2.3.4", map[string]any{"h3": sha3Hex("salt1.2.3.4"), "h2": sha2Hex("salt1.2.3.4")}},
		{"doc regexReplaceAll", `
- regex: {expression: "v=(?P<v>\\S+)"}
- template: {source: a, template: '{{ regexReplaceAll "(a*)bc" .v "${1}a" }}'}
- template: {source: b, template: '{{ regexReplaceAllLiteral "(a*)bc" .v "${1}" }}'}
`, "v=aaabc", map[string]any{"a": "aaaa", "b": "${1}"}},
		{"sprig functions, numbers as strings", `
- json: {expressions: {n: n}}
- template: {source: d, template: '{{ .missing | default "none" }}-{{ .n }}'}
`, `{"n":3e2}`, map[string]any{"d": "none-300"}},
		{"labels are in the data", `
- template: {source: f, template: '{{ .filename }}'}
`, "x", map[string]any{"f": "/var/log/a.log"}},
		{"empty result deletes", `
- template: {source: filename, template: ''}
`, "x", map[string]any{"filename": absent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := runOne(t, tc.doc, tc.line, map[string]string{"filename": "/var/log/a.log"})
			checkExtracted(t, r.Extracted, tc.want)
			if len(c.failed) > 0 && tc.name != "doc Replace" {
				t.Errorf("failures %v", c.failed)
			}
		})
	}
}

func TestTemplateExecuteFailureCounts(t *testing.T) {
	r, c := runOne(t, `
- template: {source: a, template: '{{ regexReplaceAll "(" .Entry "x" }}'}
`, "line", nil)
	if _, ok := r.Extracted["a"]; ok || c.failed["template/execute_failed"] != 1 {
		t.Errorf("extracted %v failed %v", r.Extracted, c.failed)
	}
}
