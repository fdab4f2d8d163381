package otlp

import (
	"errors"
	"strings"
	"testing"

	"github.com/logcapturer/logcapturer/config"
)

// TestCheckReceiverKeys: the keys otlp shares with every push type
// (receiver.Keys) are checked at their lines, with otlp's own default
// address named, and two sources cannot listen on one address.
func TestCheckReceiverKeys(t *testing.T) {
	_, err := config.ParseWith("o.yaml", []byte(`sources:
  - name: a
    type: otlp
    listen_address: ""
    max_request_bytes: 8MiB
    max_inflight_bytes: 1MiB
    basic_auth: {username: u, password: p}
    bearer_token: t
  - name: b
    type: otlp
    listen_address: "127.0.0.1:4319"
    tls: {cert_file: /c.pem}
  - name: c
    type: otlp
    listen_address: "127.0.0.1:4319"
sinks: [{name: out, type: stdout}]
`), &config.ParseOptions{SkipDirCheck: true,
		SinkTypes: []config.SinkType{{Name: "stdout"}}, SourceTypes: []config.SourceType{SourceType()}})
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err %v, want a config.Error", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`o.yaml:4: sources[0].listen_address: must not be empty (default 127.0.0.1:4318)`,
		`o.yaml:6: sources[0].max_inflight_bytes: must be at least max_request_bytes (8MiB), got 1MiB`,
		`o.yaml:7: sources[0].basic_auth: cannot be set with bearer_token or bearer_token_file`,
		`o.yaml:12: sources[1].tls.key_file: is required with TLS`,
		`o.yaml:15: sources[2].listen_address: is also the listen_address of source "b"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
