package stages

import (
	"strings"
	"testing"
)

func TestLabelStages(t *testing.T) {
	base := map[string]string{"job": "app", "filename": "/var/log/a.log"}
	for _, tc := range []struct {
		name, doc, line string
		want            map[string]string
		wantMeta        map[string]string
		failed          string
	}{
		// Loki docs, output stage, "Example" (json, labels, output).
		{"doc output example", `
- json: {expressions: {user: user, message: message}}
- labels: {user: }
- output: {source: message}
`, `{"user": "alexis", "message": "hello, world!"}`, map[string]string{"job": "app", "filename": "/var/log/a.log", "user": "alexis"}, nil, ""},
		// Loki docs, labels stage, "Example" (stream from a regex).
		{"doc labels with source", `
- regex: {expression: "^(?P<stream>stdout|stderr) "}
- labels: {stream: , level: lvl}
`, "stderr boom", map[string]string{"job": "app", "filename": "/var/log/a.log", "stream": "stderr"}, nil, ""},
		{"numbers and booleans become strings", `
- json: {expressions: {code: code, ok: ok}}
- labels: {code: , ok: }
`, `{"code":204,"ok":true}`, map[string]string{"job": "app", "filename": "/var/log/a.log", "code": "204", "ok": "true"}, nil, ""},
		{"value over 2048 bytes is not set and counted", `
- regex: {expression: "(?P<big>.*)"}
- labels: {big: }
`, strings.Repeat("x", 2049), base, nil, "labels/label_value_too_long"},
		// Loki docs, static_labels stage, "Example".
		{"doc static_labels", `
- static_labels: {custom_key: custom_value}
`, "x", map[string]string{"job": "app", "filename": "/var/log/a.log", "custom_key": "custom_value"}, nil, ""},
		// Loki docs, labeldrop stage, "Example".
		{"doc labeldrop", `
- labeldrop: [filename, nothere]
`, "x", map[string]string{"job": "app"}, nil, ""},
		// Loki docs, labelallow stage, "Example".
		{"doc labelallow", `
- labelallow: [job]
`, "x", map[string]string{"job": "app"}, nil, ""},
		// Loki docs, structured_metadata stage, "Example".
		{"doc structured_metadata", `
- logfmt: {mapping: {traceID: traceID}}
- structured_metadata: {traceID: }
`, `level=info traceID=0242ac120002 msg="x"`, base, map[string]string{"traceID": "0242ac120002"}, ""},
		{"structured_metadata moves a label out of the stream", `
- structured_metadata: {filename: }
`, "x", map[string]string{"job": "app"}, map[string]string{"filename": "/var/log/a.log"}, ""},
		{"structured_metadata from a renamed label", `
- structured_metadata: {file: filename}
`, "x", map[string]string{"job": "app"}, map[string]string{"file": "/var/log/a.log"}, ""},
		// Loki docs, tenant stage, "Example: extract the tenant ID from a structured log".
		{"doc tenant from source", `
- json: {expressions: {customer_id: customer_id}}
- tenant: {source: customer_id}
`, `{"customer_id":"1","log":"x"}`, map[string]string{"job": "app", "filename": "/var/log/a.log", TenantLabel: "1"}, nil, ""},
		// Loki docs, tenant stage, "Example: override the tenant ID with the configured value".
		{"doc tenant value", `
- tenant: {value: team-a}
`, "x", map[string]string{"job": "app", "filename": "/var/log/a.log", TenantLabel: "team-a"}, nil, ""},
		{"tenant from label", `
- tenant: {label: job}
`, "x", map[string]string{"job": "app", "filename": "/var/log/a.log", TenantLabel: "app"}, nil, ""},
		{"tenant missing source counts", `
- tenant: {source: nothere}
`, "x", base, nil, "tenant/source_missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := runOne(t, tc.doc, tc.line, base)
			checkLabels(t, r.Labels, tc.want)
			checkLabels(t, r.Metadata, tc.wantMeta)
			if tc.failed != "" && c.failed[tc.failed] != 1 {
				t.Errorf("failed %v, want %s", c.failed, tc.failed)
			}
			if tc.failed == "" && len(c.failed) > 0 {
				t.Errorf("unexpected failures %v", c.failed)
			}
		})
	}
}

func TestOutputStage(t *testing.T) {
	r, _ := runOne(t, `
- json: {expressions: {message: message}}
- output: {source: message}
`, `{"message":"hello, world!"}`, nil)
	if r.Line != "hello, world!" {
		t.Errorf("line = %q", r.Line)
	}
	r, c := runOne(t, `- output: {source: nothere}`, "keep", nil)
	if r.Line != "keep" || c.failed["output/source_missing"] != 1 {
		t.Errorf("line %q failed %v", r.Line, c.failed)
	}
}

// TestEmptyLabelsMapping: labels: {} and structured_metadata: {} do
// nothing, as in Promtail (validateLabelsConfig refuses only no mapping);
// labels: with no value is refused, as there.
func TestEmptyLabelsMapping(t *testing.T) {
	env, _ := testEnv(testNow)
	for _, doc := range []string{`[{labels: {}}]`, `[{structured_metadata: {}}]`} {
		if _, ps := parseYAML(t, doc, env); len(ps) > 0 {
			t.Errorf("%s: refused: %v", doc, ps)
		}
	}
	r, _ := runOne(t, "- labels: {}\n", "line", map[string]string{"job": "x"})
	if r.Dropped || r.Labels["job"] != "x" || len(r.Labels) != 1 {
		t.Errorf("labels: {} changed the entry: %+v", r)
	}
	if _, ps := parseYAML(t, "[{labels: }]", env); len(ps) == 0 || !strings.Contains(ps[0].Msg, "needs at least one label") {
		t.Errorf("labels: with no value: %v", ps)
	}
}
