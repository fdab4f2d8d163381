package syslog

import (
	"errors"
	"strings"
	"testing"

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
