package syslog

import (
	"net"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
)

// GELFType is the value of a gelf source's type key.
const GELFType = "gelf"

// Defaults of a gelf source.
const (
	// DefaultGELFListenAddress is Promtail's (and Graylog's) GELF UDP port.
	DefaultGELFListenAddress = ":12201"
	// DefaultGELFMaxMessageLength bounds a message uncompressed (GELF's
	// 128 chunks of the usual 1,420 to 8,192 bytes carry at most about
	// 1MiB compressed).
	DefaultGELFMaxMessageLength = config.MiB
)

// GELFConfig is the options of a gelf source: a GELF UDP listener, as
// Promtail's gelf scrape config (listen_address, use_incoming_timestamp,
// labels) and Docker's gelf logging driver's receiving end. Zero values
// mean the defaults.
type GELFConfig struct {
	// ListenAddress is host:port. Default ":12201".
	ListenAddress string `yaml:"listen_address"`
	// UseIncomingTimestamp takes the entry's time from the message's
	// timestamp instead of the receive time.
	UseIncomingTimestamp bool `yaml:"use_incoming_timestamp"`
	// MaxMessageLength bounds a message uncompressed; a longer one is
	// dropped, counted. Default 1MiB.
	MaxMessageLength config.ByteSize `yaml:"max_message_length"`
	// PromtailLabels labels entries as Promtail's gelf target does: none
	// of the source's own labels (host, level, facility); relabel_configs
	// make labels from __gelf_message_{host,level,version,facility}. A
	// Promtail config converts to true.
	PromtailLabels bool `yaml:"promtail_labels"`
}

// GELFSourceType registers type: gelf with config; cmd holds it in its list.
func GELFSourceType() config.SourceType {
	return config.SourceType{Name: GELFType, New: func() config.SourceConfig { return &GELFConfig{} }}
}

var (
	_ config.SourceConfig = (*GELFConfig)(nil)
	_ sources.Opener      = (*GELFConfig)(nil)
)

// syslog is the datagram listener's options for c.
func (c *GELFConfig) syslog() Config {
	s := Config{ListenAddress: c.ListenAddress, ListenProtocol: ProtoUDP, UseIncomingTimestamp: c.UseIncomingTimestamp,
		MaxMessageLength: c.MaxMessageLength, PromtailLabels: c.PromtailLabels, gelf: true}
	if s.ListenAddress == "" {
		s.ListenAddress = DefaultGELFListenAddress
	}
	if s.MaxMessageLength == 0 {
		s.MaxMessageLength = DefaultGELFMaxMessageLength
	}
	s.SetDefaults()
	return s
}

// Open builds the source the options describe (bound, not started).
func (c *GELFConfig) Open(deps sources.Deps) (sources.Source, error) { return open(deps, c.syslog()) }

// Check reports what is wrong with the options, each at its key.
func (c *GELFConfig) Check(ch *config.Check) {
	sources.CheckStages(ch)
	if c.ListenAddress != "" {
		if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
			ch.Problem("listen_address", "must be host:port (:12201), got %q", c.ListenAddress)
		}
	}
	if c.MaxMessageLength < 0 || c.MaxMessageLength > MaxMaxMessageLength {
		ch.Problem("max_message_length", "must be between 1 and %dMiB", MaxMaxMessageLength/config.MiB)
	}
	for _, name := range badLabels(ch.Labels(), c.syslog()) {
		ch.Problem("labels."+name, "is set by the gelf source itself")
	}
}
