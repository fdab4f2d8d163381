package lokipush

import (
	"slices"
	"strings"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/receiver"
	"github.com/logcapturer/logcapturer/wal"
)

// Type is the value of the type key.
const Type = "loki_push"

// DefaultListenAddress is where a loki_push source listens when
// listen_address is not set: loopback only, port 3500 (Promtail's push
// target has no default; Loki itself uses 3100, which a local Loki may
// hold).
const DefaultListenAddress = "127.0.0.1:3500"

// SourceType registers type: loki_push with config.
func SourceType() config.SourceType {
	return config.SourceType{Name: Type, New: func() config.SourceConfig { return NewConfig() }}
}

// Config is the options of a loki_push source: the keys of its sources
// entry besides the common ones (name, type, labels, sinks,
// pipeline_stages). Zero sizes mean the receiver's defaults.
type Config struct {
	// ListenAddress is host:port (default DefaultListenAddress).
	ListenAddress string `yaml:"listen_address"`
	// UseIncomingTimestamp keeps each pushed entry's timestamp; false (the
	// default, as Promtail's) stamps every entry of a push with the time
	// it was received.
	UseIncomingTimestamp bool `yaml:"use_incoming_timestamp"`
	// MaxRequestBytes bounds a push's body, as sent and decompressed
	// (413 above); MaxInflightBytes the pushes waiting to be durable (429
	// above).
	MaxRequestBytes  config.ByteSize `yaml:"max_request_bytes"`
	MaxInflightBytes config.ByteSize `yaml:"max_inflight_bytes"`
	// TLS turns on HTTPS (cert_file, key_file; ca_file and client_auth
	// for client certificates).
	TLS receiver.TLSConfig `yaml:"tls"`
	// BasicAuth, or BearerToken or BearerTokenFile: what clients must
	// send (none: anyone who can connect may push).
	BasicAuth       receiver.BasicAuth `yaml:"basic_auth"`
	BearerToken     string             `yaml:"bearer_token"`
	BearerTokenFile string             `yaml:"bearer_token_file"`
	// IgnoreTenantHeader ships pushes under the sink's tenant whatever
	// X-Scope-OrgID they carry, as Promtail's push target does (convert
	// sets it); false (default): the header is the entries' tenant.
	IgnoreTenantHeader bool `yaml:"ignore_tenant_header"`
}

var (
	_ config.SourceConfig = (*Config)(nil)
	_ config.FileChecker  = (*Config)(nil)
	_ sources.Opener      = (*Config)(nil)
)

// NewConfig returns the options with their defaults.
func NewConfig() *Config { return &Config{ListenAddress: DefaultListenAddress} }

// keys are the keys the receiver takes.
func (c *Config) keys() receiver.Keys {
	return receiver.Keys{
		ListenAddress: c.ListenAddress, DefaultAddress: DefaultListenAddress,
		MaxRequestBytes: c.MaxRequestBytes, MaxInflightBytes: c.MaxInflightBytes,
		TLS:  c.TLS,
		Auth: receiver.Auth{BasicAuth: c.BasicAuth, BearerToken: c.BearerToken, BearerTokenFile: c.BearerTokenFile},
	}
}

// Check reports every problem at its key's line, those of
// pipeline_stages included.
func (c *Config) Check(ck *config.Check) {
	c.keys().Check(ck)
}

// CheckFiles reports secret and TLS files that cannot be read.
func (c *Config) CheckFiles(ck *config.Check) {
	c.keys().CheckFiles(ck)
}

// options is what the decoders need of the configuration.
type options struct {
	name     string
	labels   []wal.Label // configured, sorted
	labelSet map[string]struct{}
	incoming bool
	// keepInternal keeps the pushed labels starting with "__" in the
	// blocks handed to the stages, for the relabel hook to see (the stage
	// runner removes them after it); set only with a hook.
	keepInternal bool
	// clock times the entries without use_incoming_timestamp.
	clock sources.EntryClock
}

func newOptions(name string, labels map[string]string, incoming bool) *options {
	o := &options{name: name, incoming: incoming, labelSet: make(map[string]struct{}, len(labels))}
	for k, v := range labels {
		o.labels = append(o.labels, wal.Label{Name: k, Value: v})
		o.labelSet[k] = struct{}{}
	}
	slices.SortFunc(o.labels, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	return o
}

// Open returns the source, not listening yet.
func (c *Config) Open(deps sources.Deps) (sources.Source, error) {
	return New(deps, c)
}
