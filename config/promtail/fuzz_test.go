package promtail

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzConvert: whatever a promtail.yaml holds, Convert and Parse of its
// result answer with problems, never a panic (the file is the operator's,
// and run --config-format promtail reads it at every start).
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("clients:\n  - url: https://${U}:${P:-a}@h/x\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__path__: ${D:-/x}/*.log, host: ${HOSTNAME}, e: \"\"}\n"))
	f.Add([]byte("scrape_configs:\n  - job_name: a\n    static_configs: [{labels: {__path__: /a}}]\n  - job_name: a\n    static_configs: [{labels: {__path__: /b}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, o := range []Options{{LookupEnv: testEnv, KeepEnv: true}, {LookupEnv: testEnv, SkipUnsupported: true, NoExpandEnv: true}} {
			r, err := Convert("f.yaml", data, &o)
			if err != nil {
				continue
			}
			_, _ = r.Parse(parseOpts())
		}
	})
}
