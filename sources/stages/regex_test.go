package stages

import "testing"

func TestRegex(t *testing.T) {
	for _, tc := range []struct {
		name, doc, line string
		want            map[string]any
		failed          string
	}{
		// Loki docs, regex stage, "Example" (unnamed source: the log line).
		{"doc example", `
- regex:
    expression: "^(?s)(?P<time>\\S+?) (?P<stream>stdout|stderr) (?P<flags>\\S+?) (?P<content>.*)$"
`, "2019-01-01T01:00:00.000000001Z stderr P i'm a log message!",
			map[string]any{"time": "2019-01-01T01:00:00.000000001Z", "stream": "stderr", "flags": "P", "content": "i'm a log message!"}, ""},
		// Loki docs, regex stage, "Example (with source)".
		{"doc example with source", `
- regex:
    expression: "^(?s)(?P<time>\\S+?) (?P<stream>stdout|stderr) (?P<flags>\\S+?) (?P<content>.*)$"
- regex:
    expression: "^(?P<year>\\d+)"
    source: "time"
`, "2019-01-01T01:00:00.000000001Z stderr P i'm a log message!",
			map[string]any{"time": "2019-01-01T01:00:00.000000001Z", "year": "2019"}, ""},
		{"no match passes unchanged and counts", `
- regex: {expression: "^(?P<n>\\d+)$"}
`, "abc", map[string]any{"n": absent}, "regex/no_match"},
		{"missing source counts", `
- regex: {expression: "(?P<n>.)", source: nothere}
`, "abc", map[string]any{"n": absent}, "regex/source_missing"},
		{"optional group that did not match gives empty", `
- regex: {expression: "^(?P<a>a)?(?P<b>b)"}
`, "b", map[string]any{"a": "", "b": "b"}, ""},
		{"labels are extractable as source", `
- regex: {expression: "(?P<base>[^/]+)$", source: filename}
`, "x", map[string]any{"base": "app.log"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := runOne(t, tc.doc, tc.line, map[string]string{"filename": "/var/log/app.log"})
			if r.Dropped || r.Line != tc.line {
				t.Fatalf("entry changed or dropped: %+v", r)
			}
			checkExtracted(t, r.Extracted, tc.want)
			if tc.failed != "" && c.failed[tc.failed] != 1 {
				t.Errorf("failed counts %v, want %s once", c.failed, tc.failed)
			}
			if tc.failed == "" && len(c.failed) > 0 {
				t.Errorf("unexpected failures %v", c.failed)
			}
		})
	}
}
