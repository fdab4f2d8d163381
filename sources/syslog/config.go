package syslog

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
)

// Values of Config.ListenProtocol.
const (
	ProtoTCP      = "tcp"      // a TCP listener (TLS with tls_config), RFC 6587 framing
	ProtoUDP      = "udp"      // one message per datagram (RFC 5426)
	ProtoUnix     = "unix"     // a unix stream socket at the listen_address path, framed as TCP
	ProtoUnixgram = "unixgram" // a unix datagram socket at the listen_address path, as UDP
)

// Values of Config.SyslogFormat.
const (
	FormatRFC5424 = "rfc5424"
	FormatRFC3164 = "rfc3164"
	FormatAuto    = "auto" // per message: RFC 5424 when a version follows the PRI, else RFC 3164
)

// Values of Config.MaxMessagePolicy.
const (
	PolicyTruncate = "truncate" // keep the first max_message_length bytes, count the cut
	PolicyDrop     = "drop"     // drop the message, count it
)

// Defaults.
const (
	DefaultIdleTimeout      = 120 * time.Second // Promtail's
	DefaultMaxMessageLength = 8 * config.KiB    // Promtail's (RFC 5425's minimum that receivers must take)
	DefaultMaxConnections   = 1000
	// MaxMaxMessageLength bounds max_message_length: a TCP connection's
	// buffer grows to it while a frame that long arrives.
	MaxMaxMessageLength = 64 * config.MiB
)

// Config is the options of a syslog source: the keys of a type: syslog
// entry besides the ones every source has. The names follow Promtail's
// syslog scrape config (listen_address, listen_protocol, syslog_format,
// idle_timeout, label_structured_data, use_incoming_timestamp,
// use_rfc5424_message, max_message_length, tls_config); the others are
// ours. Zero values mean the defaults (SetDefaults).
type Config struct {
	// ListenAddress is host:port for tcp and udp, a socket path for unix
	// and unixgram. Required.
	ListenAddress string `yaml:"listen_address"`
	// ListenProtocol is tcp (default), udp, unix or unixgram.
	ListenProtocol string `yaml:"listen_protocol"`
	// SyslogFormat is rfc5424 (default), rfc3164 or auto.
	SyslogFormat string `yaml:"syslog_format"`
	// IdleTimeout closes a stream connection that sent nothing for this
	// long (a frame cut short by it is counted). Default 120s.
	IdleTimeout config.Duration `yaml:"idle_timeout"`
	// LabelStructuredData makes every RFC 5424 structured data parameter
	// a label sd_<id>_<param>; without it they are the entry's metadata.
	LabelStructuredData bool `yaml:"label_structured_data"`
	// PromtailLabels labels entries as Promtail's syslog target does: the
	// source sets none of its own labels (app_name, facility, hostname,
	// severity, sd_*) and no structured data metadata; relabel_configs
	// make labels from __syslog_message_* (and, with LabelStructuredData,
	// __syslog_message_sd_*). A Promtail config converts to true.
	PromtailLabels bool `yaml:"promtail_labels"`
	// UseIncomingTimestamp takes the entry's time from the message (with
	// its zone; Location for an RFC 3164 time without one) instead of the
	// receive time.
	UseIncomingTimestamp bool `yaml:"use_incoming_timestamp"`
	// UseRFC5424Message makes the entry's line the whole message as
	// received (header, structured data and MSG) instead of MSG.
	UseRFC5424Message bool `yaml:"use_rfc5424_message"`
	// MaxMessageLength bounds one message (the frame's content, without
	// the octet count or the trailing newline). Default 8KiB.
	MaxMessageLength config.ByteSize `yaml:"max_message_length"`
	// MaxMessagePolicy says what happens to a longer message: truncate
	// (default: its first MaxMessageLength bytes are parsed and kept,
	// counted) or drop (counted). Neither closes the connection.
	MaxMessagePolicy string `yaml:"max_message_policy"`
	// MaxConnections bounds the stream connections open at once; one more
	// is accepted and closed at once, counted. Default 1000.
	MaxConnections int `yaml:"max_connections"`
	// Location is the zone of RFC 3164 timestamps, which have none: an
	// IANA name, "UTC" or "Local" (default: the host's zone).
	Location string `yaml:"location"`
	// TLS turns on TLS for a tcp listener.
	TLS TLSConfig `yaml:"tls_config"`

	// gelf: the datagrams are GELF messages (a type: gelf source, see
	// GELFConfig), not syslog.
	gelf bool
}

// SourceType registers type: syslog with config; cmd holds it in its list.
func SourceType() config.SourceType {
	return config.SourceType{Name: Type, New: func() config.SourceConfig { return NewConfig() }}
}

var (
	_ config.SourceConfig = (*Config)(nil)
	_ config.FileChecker  = (*Config)(nil)
	_ sources.Opener      = (*Config)(nil)
)

// Open builds the source the options describe (bound, not started); see
// New.
func (c *Config) Open(deps sources.Deps) (sources.Source, error) { return open(deps, *c) }

// open builds the source of cfg (a syslog or gelf one) for deps, with its
// stages.
func open(deps sources.Deps, cfg Config) (sources.Source, error) {
	o := Options{Name: deps.Name, Labels: deps.Labels, Config: cfg, Emitter: deps.Emitter, InternalLabels: deps.Relabel != nil}
	if deps.Staged() {
		var err error
		if o.Stages, err = sources.NewStageRunner(deps, sources.StageOptions{MaxStreams: deps.MaxStreams, Relabel: deps.Relabel}); err != nil {
			return nil, fmt.Errorf("%s source: %w", cfg.kind(), err)
		}
	}
	src, err := New(deps.Logger, deps.Registerer, o)
	if err != nil && o.Stages != nil {
		o.Stages.Close()
	}
	return src, err
}

// SetDefaults fills the zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.ListenProtocol == "" {
		c.ListenProtocol = ProtoTCP
	}
	if c.SyslogFormat == "" {
		c.SyslogFormat = FormatRFC5424
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = config.Duration(DefaultIdleTimeout)
	}
	if c.MaxMessageLength == 0 {
		c.MaxMessageLength = DefaultMaxMessageLength
	}
	if c.MaxMessagePolicy == "" {
		c.MaxMessagePolicy = PolicyTruncate
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
}

// NewConfig returns the options with their defaults set.
func NewConfig() *Config {
	c := &Config{}
	c.SetDefaults()
	return c
}

// Check reports what is wrong with the options on c, each at its key. It
// does not touch the file system or the network (CheckFiles reads the TLS
// files).
func (c *Config) Check(ch *config.Check) {
	sources.CheckStages(ch)
	c.rules(func(key, msg string) { ch.Problem(key, "%s", msg) })
	for _, name := range badLabels(ch.Labels(), *c) {
		ch.Problem("labels."+name, "is set by the syslog source itself")
	}
}

// CheckFiles reports TLS files that cannot be loaded.
func (c *Config) CheckFiles(ch *config.Check) {
	if _, err := c.TLS.Server(); err != nil {
		ch.Problem("tls_config", "%v", err)
	}
}

// Validate returns every problem of the options, one "key: message" a
// line, or nil. New runs it.
func (c *Config) Validate() error {
	var msgs []string
	c.rules(func(key, msg string) { msgs = append(msgs, key+": "+msg) })
	if len(msgs) > 0 {
		return fmt.Errorf("invalid syslog options: %s", strings.Join(msgs, "; "))
	}
	return nil
}

func (c *Config) rules(report func(key, msg string)) {
	oneOf := func(key, val string, allowed ...string) {
		for _, a := range allowed {
			if val == a {
				return
			}
		}
		report(key, fmt.Sprintf("must be %s, got %q", strings.Join(allowed, ", "), val))
	}
	oneOf("listen_protocol", c.ListenProtocol, ProtoTCP, ProtoUDP, ProtoUnix, ProtoUnixgram)
	oneOf("syslog_format", c.SyslogFormat, FormatRFC5424, FormatRFC3164, FormatAuto)
	oneOf("max_message_policy", c.MaxMessagePolicy, PolicyTruncate, PolicyDrop)
	switch {
	case c.ListenAddress == "":
		report("listen_address", "is required")
	case c.ListenProtocol == ProtoTCP || c.ListenProtocol == ProtoUDP:
		if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
			report("listen_address", fmt.Sprintf("must be host:port for %s, got %q", c.ListenProtocol, c.ListenAddress))
		}
	}
	if c.IdleTimeout <= 0 {
		report("idle_timeout", "must be greater than 0")
	}
	if c.MaxMessageLength < 1 || c.MaxMessageLength > MaxMaxMessageLength {
		report("max_message_length", fmt.Sprintf("must be between 1 and %dMiB", MaxMaxMessageLength/config.MiB))
	}
	if c.MaxConnections < 1 {
		report("max_connections", "must be at least 1")
	}
	if _, err := loadLocation(c.Location); err != nil {
		report("location", err.Error())
	}
	if c.gelf && c.ListenProtocol != ProtoUDP {
		report("listen_protocol", "must be udp for GELF")
	}
	if c.TLS.Enabled() && c.ListenProtocol != ProtoTCP {
		report("tls_config", "is for listen_protocol tcp only")
	}
	if err := validateTLS(c.TLS); err != nil {
		report("tls_config", err.Error())
	}
}

// kind is the source's type: syslog, or gelf.
func (c *Config) kind() string {
	if c.gelf {
		return GELFType
	}
	return Type
}

// loadLocation is sources.LoadLocation with syslog's error.
func loadLocation(name string) (*time.Location, error) {
	loc, err := sources.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}
