package otlp_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks/otlp"
)

const otlpHead = "sources: [{name: app, type: file, paths: [/a.log]}]\nsinks:\n  - name: o\n    type: otlp\n"

type problem struct {
	line int
	key  string
	msg  string
}

func parse(src string) (*config.Config, error) {
	return config.ParseWith("o.yaml", []byte(otlpHead+src), &config.ParseOptions{SkipDirCheck: true, CheckFiles: true,
		SinkTypes: []config.SinkType{otlp.SinkType()}})
}

// match checks got against want: file, line and key exactly, the message
// as a substring.
func match(t *testing.T, what string, got []config.Problem, want []problem) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d %s, want %d:\n%v", len(got), what, len(want), got)
	}
	for i, w := range want {
		if g := got[i]; g.File != "o.yaml" || g.Line != w.line || g.Key != w.key || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("%s %d:\n got  %s\n want o.yaml:%d: %s: ...%s...", what, i, g, w.line, w.key, w.msg)
		}
	}
}

// TestCheck lists what logcapturer check reports for otlp sinks, each at
// its file:line; a mapping that names no label is a warning, not an error.
func TestCheck(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tok, []byte("t\n"), 0o600)
	for _, tt := range []struct {
		name     string
		src      string
		problems []problem
		warnings []problem
	}{
		{"minimal", "    url: http://collector:4318/v1/logs\n", nil, nil},
		{"everything", "    url: https://loki:3100/otlp/v1/logs\n    encoding: json\n    compression: none\n" +
			"    headers: {X-Scope-OrgID: t1}\n    bearer_token_file: " + tok + "\n    timeout: 5s\n" +
			"    resource_attributes: {service.name: 'app, job', k8s.namespace.name: namespace}\n" +
			"    attributes: {log.file.path: filename}\n    severity_label: severity\n    trace_id_label: '-'\n", nil, nil},
		{"no url", "    encoding: json\n", []problem{{3, "sinks[0].url", "is required"}}, nil},
		{"bad url", "    url: ftp://h/v1/logs\n", []problem{{5, "sinks[0].url", "must start with http:// or https://"}}, nil},
		{"credentials in url", "    url: http://u:p@h/v1/logs\n", []problem{{5, "sinks[0].url", "credentials in the URL are not allowed"}}, nil},
		{"enums", "    url: http://h/v1/logs\n    encoding: xml\n    compression: zstd\n", []problem{
			{6, "sinks[0].encoding", `must be protobuf or json, got "xml"`},
			{7, "sinks[0].compression", `must be gzip or none, got "zstd"`},
		}, nil},
		{"headers", "    url: http://h/v1/logs\n    headers: {Content-Type: text/plain, Authorization: x}\n    bearer_token: t\n", []problem{
			{6, "sinks[0].headers", "Authorization is set by basic_auth or the bearer token"},
			{6, "sinks[0].headers", `"Content-Type" is set by the sink`},
		}, nil},
		{"auth", "    url: http://h/v1/logs\n    basic_auth: {password: p}\n    bearer_token_file: /nonexistent/tok\n", []problem{
			{6, "sinks[0].basic_auth.username", "required with basic_auth"},
			{6, "sinks[0].basic_auth", "mutually exclusive"},
			{7, "sinks[0].bearer_token_file", "cannot be read: open /nonexistent/tok"},
		}, nil},
		{"tls", "    url: https://h/v1/logs\n    tls: {cert_file: /c}\n", []problem{
			{6, "sinks[0].tls", "cert_file and key_file must be given together"},
			{6, "sinks[0].tls", "cert_file/key_file: open /c"},
		}, nil},
		{"timeout", "    url: http://h/v1/logs\n    timeout: 0s\n", []problem{{6, "sinks[0].timeout", "must be greater than 0"}}, nil},
		{"bad label names", "    url: http://h/v1/logs\n    resource_attributes:\n      service.name: 'my-app'\n" +
			"      host.name: __host__\n    severity_label: 'lvl!'\n", []problem{
			{7, "sinks[0].resource_attributes.service.name", `"my-app" is not a valid label name`},
			{8, "sinks[0].resource_attributes.host.name", `"__host__": labels starting with __ are reserved`},
			{9, "sinks[0].severity_label", `"lvl!" is not a valid label name`},
		}, nil},
		{"mapping that names nothing", "    url: http://h/v1/logs\n    resource_attributes:\n      service.name: job\n" +
			"      deployment.environment: ''\n    attributes:\n      pod: ' , '\n", nil, []problem{
			{8, "sinks[0].resource_attributes.deployment.environment", "names no label: the attribute is never set"},
			{10, "sinks[0].attributes.pod", "names no label: the attribute is never set"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.src)
			if tt.problems == nil {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				match(t, "warnings", c.Warnings, tt.warnings)
				return
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			match(t, "problems", ce.Problems, tt.problems)
		})
	}
}

// TestDefaults: an entry with only url has every documented default, and
// the sink opens from it.
func TestDefaults(t *testing.T) {
	c, err := parse("    url: http://h:4318/v1/logs\n")
	if err != nil {
		t.Fatal(err)
	}
	o := c.Sinks[0].Options.(*otlp.Options)
	if o.Encoding != "protobuf" || o.Compression != "gzip" || o.Timeout != otlp.DefaultTimeout {
		t.Fatalf("defaults: %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(otlp.DefaultResourceAttributes()) != "map[host.name:host,hostname service.name:service_name,job]" {
		t.Fatalf("documented resource defaults changed: %v", otlp.DefaultResourceAttributes())
	}
}
