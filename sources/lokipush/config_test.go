package lokipush

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks"
)

func parse(t *testing.T, src string, checkFiles bool) (*config.Config, []string) {
	t.Helper()
	c, err := config.ParseWith("c.yaml", []byte(src), &config.ParseOptions{
		SinkTypes: []config.SinkType{sinks.StdoutSinkType()}, SourceTypes: []config.SourceType{SourceType()},
		SkipDirCheck: true, CheckFiles: checkFiles, LookupEnv: func(string) (string, bool) { return "", false },
	})
	var ce *config.Error
	if errors.As(err, &ce) {
		var out []string
		for _, p := range ce.Problems {
			out = append(out, p.String())
		}
		return nil, out
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, nil
}

// TestConfig: defaults, every key decoded, and each problem at its key's
// line (pipeline_stages refused until the stages runner is wired in).
func TestConfig(t *testing.T) {
	c, probs := parse(t, `sources:
  - name: p
    type: loki_push
sinks: [{name: out, type: stdout}]
`, false)
	if probs != nil {
		t.Fatal(probs)
	}
	if o := c.Sources[0].Options.(*Config); o.ListenAddress != DefaultListenAddress || o.UseIncomingTimestamp {
		t.Fatalf("defaults: %+v", o)
	}
	c, probs = parse(t, `sources:
  - name: p
    type: loki_push
    listen_address: "0.0.0.0:3600"
    use_incoming_timestamp: true
    max_request_bytes: 2MiB
    max_inflight_bytes: 32MiB
    bearer_token: tok
    labels: {job: pushed}
sinks: [{name: out, type: stdout}]
`, false)
	if probs != nil {
		t.Fatal(probs)
	}
	o := c.Sources[0].Options.(*Config)
	if o.ListenAddress != "0.0.0.0:3600" || !o.UseIncomingTimestamp || o.MaxRequestBytes != 2*config.MiB || o.MaxInflightBytes != 32*config.MiB || o.BearerToken != "tok" {
		t.Fatalf("decoded %+v", o)
	}

	_, probs = parse(t, `sources:
  - name: p
    type: loki_push
    listen_address: "nope"
    max_request_bytes: 64MiB
    max_inflight_bytes: 1MiB
    tls: {cert_file: /c.pem, client_auth: require}
    basic_auth: {username: u}
    bearer_token: t
    pipeline_stages:
      - regex: {expression: "("}
  - name: q
    type: loki_push
    listen_address: "127.0.0.1:99999"
  - name: r
    type: loki_push
    listen_address: "nope"
sinks: [{name: out, type: stdout}]
`, false)
	want := []string{
		`c.yaml:4: sources[0].listen_address: must be host:port, got "nope"`,
		`c.yaml:6: sources[0].max_inflight_bytes: must be at least max_request_bytes (64MiB), got 1MiB`,
		`c.yaml:7: sources[0].tls.key_file: is required with TLS`,
		`c.yaml:7: sources[0].tls.ca_file: is required with client_auth require`,
		`c.yaml:8: sources[0].basic_auth: cannot be set with bearer_token or bearer_token_file`,
		`c.yaml:8: sources[0].basic_auth.password: is required with basic_auth (or password_file)`,
		"c.yaml:11: sources[0].pipeline_stages[0].regex.expression: does not compile: error parsing regexp: missing closing ): `(`",
		`c.yaml:14: sources[1].listen_address: port must be a number from 0 to 65535, got "99999"`,
		`c.yaml:17: sources[2].listen_address: must be host:port, got "nope"`,
		`c.yaml:17: sources[2].listen_address: is also the listen_address of source "p"`,
	}
	if strings.Join(probs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(probs, "\n"), strings.Join(want, "\n"))
	}

	dir := t.TempDir()
	_, probs = parse(t, `sources:
  - name: p
    type: loki_push
    bearer_token_file: `+filepath.Join(dir, "missing")+`
    tls: {cert_file: `+filepath.Join(dir, "c.pem")+`, key_file: `+filepath.Join(dir, "k.pem")+`}
sinks: [{name: out, type: stdout}]
`, true)
	if len(probs) != 2 || !strings.Contains(probs[0], "bearer_token_file: cannot be read") || !strings.Contains(probs[1], "tls: load cert_file and key_file") {
		t.Fatalf("file problems: %q", probs)
	}
}
