package syslog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/config"
)

func TestConfigCheck(t *testing.T) {
	ok := NewConfig()
	ok.ListenAddress = "0.0.0.0:514"
	if err := config.CheckOnly(ok); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := map[string]func(c *Config){
		"listen_address":     func(c *Config) { c.ListenAddress = "" },
		"listen_protocol":    func(c *Config) { c.ListenProtocol = "sctp" },
		"syslog_format":      func(c *Config) { c.SyslogFormat = "rfc9999" },
		"max_message_policy": func(c *Config) { c.MaxMessagePolicy = "keep" },
		"idle_timeout":       func(c *Config) { c.IdleTimeout = -1 },
		"max_message_length": func(c *Config) { c.MaxMessageLength = 65 * config.MiB },
		"max_connections":    func(c *Config) { c.MaxConnections = -1 },
		"location":           func(c *Config) { c.Location = "Mars/Olympus" },
		"tls_config":         func(c *Config) { c.TLS = TLSConfig{CertFile: "x"} },
	}
	for key, mut := range bad {
		c := *ok
		mut(&c)
		err := config.CheckOnly(&c)
		var ce *config.Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v", key, err)
		}
	}
	c := *ok
	c.ListenProtocol, c.TLS = ProtoUDP, TLSConfig{CertFile: "a", KeyFile: "b"}
	if err := config.CheckOnly(&c); err == nil || !strings.Contains(err.Error(), "tcp only") {
		t.Errorf("tls on udp: %v", err)
	}
}

// TestConfigFileProblemsAtTheirLines: a syslog entry decoded by config
// (the type registered) reports each problem at its key's line, and
// decodes the keys into Config.
func TestConfigFileProblemsAtTheirLines(t *testing.T) {
	yaml := `data_dir: /tmp/x
sources:
  - name: net
    type: syslog
    labels: {hostname: a}
    listen_address: ":514"
    listen_protocol: sctp
    idle_timeout: 5m
    max_message_length: 64KiB
    tls_config: {cert_file: /c.pem}
sinks: [{name: out, type: file, path: /tmp/out.log}]
`
	opts := &config.ParseOptions{SkipDirCheck: true, SourceTypes: []config.SourceType{SourceType()},
		SinkTypes: []config.SinkType{fileSinkType()}}
	_, err := config.ParseWith("c.yaml", []byte(yaml), opts)
	for _, want := range []string{
		`c.yaml:5: sources[0].labels.hostname: is set by the syslog source itself`,
		`c.yaml:7: sources[0].listen_protocol: must be tcp, udp, unix, unixgram, got "sctp"`,
		`c.yaml:10: sources[0].tls_config: cert_file and key_file are required for TLS`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	good := strings.NewReplacer("labels: {hostname: a}", "labels: {job: a}", "sctp", "udp", "    tls_config: {cert_file: /c.pem}\n", "").Replace(yaml)
	cfg, err := config.ParseWith("c.yaml", []byte(good), opts)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Sources[0].Options.(*Config)
	if c.ListenProtocol != ProtoUDP || c.IdleTimeout != config.Duration(5*time.Minute) || c.MaxMessageLength != 64*config.KiB ||
		c.SyslogFormat != FormatRFC5424 || c.MaxConnections != DefaultMaxConnections {
		t.Errorf("decoded %+v", c)
	}
}

// fileSinkType is a stand-in sink type for parsing (sources/syslog does
// not import sinks).
func fileSinkType() config.SinkType {
	return config.SinkType{Name: "file", New: func() config.SinkConfig { return &pathOnly{} }}
}

type pathOnly struct {
	Path string `yaml:"path"`
}

func (*pathOnly) Check(*config.Check) {}
