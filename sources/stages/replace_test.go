package stages

import "testing"

func TestReplace(t *testing.T) {
	const access = `11.11.11.11 - frank [25/Jan/2000:14:00:01 -0500] "GET /1986.js HTTP/1.1" 200 932 "-" "Mozilla/5.0"`
	for _, tc := range []struct {
		name, doc, line, wantLine string
		want                      map[string]any
	}{
		// Loki docs, replace stage, "Example: without source".
		{"doc without source", `
- replace:
    expression: "password (\\S+)"
    replace: "****"
`, "2019-01-01T01:00:00.000000001Z stderr P i'm a log message who has sensitive information with password xyz!",
			"2019-01-01T01:00:00.000000001Z stderr P i'm a log message who has sensitive information with password ****", nil},
		// Loki docs, replace stage, "Example: with source".
		{"doc with source", `
- regex:
    expression: "^(?s)(?P<time>\\S+?) (?P<stream>stdout|stderr) (?P<flags>\\S+?) (?P<content>.*)$"
- replace:
    expression: "\\S+ (\\S+)"
    source: "content"
    replace: "abc"
`, "2019-01-01T01:00:00.000000001Z stderr P i'm a log message who has sensitive information with password xyz!",
			"2019-01-01T01:00:00.000000001Z stderr P i'm a log message who has sensitive information with password xyz!",
			map[string]any{"content": "i'm abc log abc who abc sensitive abc with abc xyz!"}},
		// Loki docs, replace stage, "Example: with multiple capture groups".
		{"doc templated groups", `
- replace:
    expression: '^(?P<ip>\S+) (?P<identd>\S+) (?P<user>\S+) \[(?P<timestamp>[\w:/]+\s[+\-]\d{4})\] "(?P<action>\S+)\s?(?P<path>\S+)?\s?(?P<protocol>\S+)?" (?P<status>\d{3}|-) (?P<size>\d+|-)\s?"?(?P<referer>[^"]*)"?\s?"?(?P<useragent>[^"]*)?"?$'
    replace: '{{ if eq .Value "200" }}{{ Replace .Value "200" "HttpStatusOk" -1 }}{{ else }}{{ .Value | ToUpper }}{{ end }}'
`, access, `11.11.11.11 - FRANK [25/JAN/2000:14:00:01 -0500] "GET /1986.JS HTTP/1.1" HttpStatusOk 932 "-" "MOZILLA/5.0"`,
			map[string]any{"user": "FRANK", "status": "HttpStatusOk", "path": "/1986.JS"}},
		// Loki docs, replace stage, nested capture groups: the outer group
		// is replaced, the inner ones only set their extracted values.
		{"doc nested groups", `
- replace:
    expression: '(?P<ip_user>^(?P<ip>\S+) (?P<identd>\S+) (?P<user>\S+)) \[(?P<timestamp>[\w:/]+\s[+\-]\d{4})\] "(?P<action_path>(?P<action>\S+)\s?(?P<path>\S+)?)\s?(?P<protocol>\S+)?" (?P<status>\d{3}|-) (\d+|-)\s?"?(?P<referer>[^"]*)"?\s?"?(?P<useragent>[^"]*)?"?$'
    replace: '{{ if eq .Value "200" }}{{ Replace .Value "200" "HttpStatusOk" -1 }}{{ else }}{{ .Value | ToUpper }}{{ end }}'
`, access, `11.11.11.11 - FRANK [25/JAN/2000:14:00:01 -0500] "GET /1986.JS HTTP/1.1" HttpStatusOk 932 "-" "MOZILLA/5.0"`,
			map[string]any{"ip_user": "11.11.11.11 - FRANK", "action_path": "GET /1986.JS", "user": "FRANK", "ip": "11.11.11.11"}},
		// Loki docs, replace stage, "Example: with an empty replace".
		{"doc empty replace", `
- replace:
    expression: "11.11.11.11 - (\\S+\\s)"
    replace: ""
`, access, `11.11.11.11 - [25/Jan/2000:14:00:01 -0500] "GET /1986.js HTTP/1.1" 200 932 "-" "Mozilla/5.0"`, nil},
		{"hash an ip", `
- replace:
    expression: '(\d+\.\d+\.\d+\.\d+)'
    replace: '{{ .Value | Sha2Hash "salt" }}'
`, "from 10.0.0.1", "from 9a0e2fd7d1a4a9a4f5a1cfd4c2ef98eeef8e4bb8a4cdcc4fb1b3eaed8a6c3b0a", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := runOne(t, tc.doc, tc.line, nil)
			if tc.name == "hash an ip" {
				tc.wantLine = "from " + sha2Hex("salt10.0.0.1")
			}
			if r.Line != tc.wantLine {
				t.Errorf("line\n got %q\nwant %q", r.Line, tc.wantLine)
			}
			checkExtracted(t, r.Extracted, tc.want)
		})
	}
}

func TestReplaceNoMatchCounts(t *testing.T) {
	r, c := runOne(t, `
- replace: {expression: "(x)", replace: "y"}
`, "abc", nil)
	if r.Line != "abc" || c.failed["replace/no_match"] != 1 {
		t.Errorf("line %q, failed %v", r.Line, c.failed)
	}
}
