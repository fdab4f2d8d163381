package stages

import "testing"

func TestLogfmt(t *testing.T) {
	const line = `time=2012-11-01T22:08:41+00:00 app=loki level=WARN duration=125 message="this is a log line" extra="user=foo"`
	for _, tc := range []struct {
		name, doc, line string
		want            map[string]any
		failed          string
	}{
		// Loki docs, logfmt stage, "Example: Using log line".
		{"doc using log line", `
- logfmt:
    mapping:
      timestamp: time
      app:
      duration:
      unknown:
`, line, map[string]any{"timestamp": "2012-11-01T22:08:41+00:00", "app": "loki", "duration": "125", "unknown": absent}, ""},
		// Loki docs, logfmt stage, "Example: Using extracted data".
		{"doc using extracted data", `
- logfmt:
    mapping:
      extra:
- logfmt:
    mapping:
      user:
    source: extra
`, line, map[string]any{"extra": "user=foo", "user": "foo"}, ""},
		{"garbage counts, keeps what came before", `
- logfmt: {mapping: {a: , b: }}
`, `a=1 "b=2`, map[string]any{"a": "1", "b": absent}, "logfmt/malformed_logfmt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := runOne(t, tc.doc, tc.line, nil)
			if r.Dropped || r.Line != tc.line {
				t.Fatalf("entry changed: %+v", r)
			}
			checkExtracted(t, r.Extracted, tc.want)
			if tc.failed != "" && c.failed[tc.failed] != 1 {
				t.Errorf("failed counts %v, want %s", c.failed, tc.failed)
			}
		})
	}
}
