package otlp

import (
	"maps"
	"slices"
	"strings"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/receiver"
)

// Type is the value of the type key.
const Type = "otlp"

// Defaults of Config.
const (
	// DefaultListenAddress is where the receiver listens by default: the
	// OTLP/HTTP port, on loopback only.
	DefaultListenAddress = "127.0.0.1:4318"
	// DefaultSeverityLabel is the label the severity goes to.
	DefaultSeverityLabel = "level"
	// Off as severity_label keeps the severity as structured metadata
	// (key "level") instead of a label.
	Off = "-"
	// blockBytes is the line bytes per WAL block the receiver aims at, as
	// the file tailer's default.
	blockBytes = 64 << 10
)

// DefaultResourceAttributes is the mapping used when resource_attributes
// is not set: the resource attribute service.name becomes the label
// service_name.
func DefaultResourceAttributes() map[string]string {
	return map[string]string{"service.name": "service_name"}
}

// SourceType registers type: otlp with config.
func SourceType() config.SourceType {
	return config.SourceType{Name: Type, New: func() config.SourceConfig { return NewConfig() }}
}

// Config is the options of an otlp source: the keys of its sources entry
// besides the common ones (name, type, labels, sinks, pipeline_stages).
// Zero sizes mean the receiver's defaults.
type Config struct {
	// ListenAddress is host:port (default DefaultListenAddress).
	ListenAddress string `yaml:"listen_address"`
	// MaxRequestBytes bounds a request's body, as sent and decompressed
	// (413 above); MaxInflightBytes the requests waiting to be durable
	// (429 above).
	MaxRequestBytes  config.ByteSize `yaml:"max_request_bytes"`
	MaxInflightBytes config.ByteSize `yaml:"max_inflight_bytes"`
	// TLS turns on HTTPS (cert_file, key_file; ca_file and client_auth
	// for client certificates).
	TLS receiver.TLSConfig `yaml:"tls"`
	// BearerToken or BearerTokenFile (or BasicAuth): what clients must
	// send (none: anyone who can connect may export).
	BearerToken     string             `yaml:"bearer_token"`
	BearerTokenFile string             `yaml:"bearer_token_file"`
	BasicAuth       receiver.BasicAuth `yaml:"basic_auth"`
	// ResourceAttributes maps resource attribute names to the labels they
	// become; the resource's other attributes are structured metadata.
	// nil (not set) means DefaultResourceAttributes; setting the key
	// replaces the default whole.
	ResourceAttributes map[string]string `yaml:"resource_attributes"`
	// SeverityLabel is the label a record's severity becomes (its
	// severity_text, else the short name of its severity_number);
	// default "level"; Off keeps it as structured metadata "level".
	SeverityLabel string `yaml:"severity_label"`
}

var (
	_ config.SourceConfig = (*Config)(nil)
	_ config.FileChecker  = (*Config)(nil)
	_ sources.Opener      = (*Config)(nil)
)

// NewConfig returns the options with their defaults.
func NewConfig() *Config {
	return &Config{ListenAddress: DefaultListenAddress, SeverityLabel: DefaultSeverityLabel}
}

// keys are the keys the receiver takes.
func (c *Config) keys() receiver.Keys {
	return receiver.Keys{
		ListenAddress: c.ListenAddress, DefaultAddress: DefaultListenAddress,
		MaxRequestBytes: c.MaxRequestBytes, MaxInflightBytes: c.MaxInflightBytes,
		TLS:  c.TLS,
		Auth: receiver.Auth{BasicAuth: c.BasicAuth, BearerToken: c.BearerToken, BearerTokenFile: c.BearerTokenFile},
	}
}

func (c *Config) resource() map[string]string {
	if c.ResourceAttributes == nil {
		return DefaultResourceAttributes()
	}
	return c.ResourceAttributes
}

func (c *Config) severity() string {
	if c.SeverityLabel == "" {
		return DefaultSeverityLabel
	}
	return c.SeverityLabel
}

// Check reports every problem at its key's line, and a mapping that
// names nothing as a warning; the problems of pipeline_stages at theirs.
func (c *Config) Check(ck *config.Check) {
	c.keys().Check(ck)
	sev := c.severity()
	if sev != Off && !validLabelName(sev) {
		ck.Problem("severity_label", "must be a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __) or %q, got %q", Off, sev)
	}
	if c.ResourceAttributes != nil && len(c.ResourceAttributes) == 0 {
		ck.Warning("resource_attributes", "maps no attribute: every resource attribute becomes structured metadata, no label")
	}
	labels := map[string]string{}
	for _, attr := range slices.Sorted(maps.Keys(c.ResourceAttributes)) {
		label := c.ResourceAttributes[attr]
		key := "resource_attributes." + attr
		switch {
		case strings.TrimSpace(attr) == "":
			ck.Warning("resource_attributes", "an empty attribute name names nothing: the entry is ignored")
		case strings.TrimSpace(label) == "":
			ck.Warning(key, "names no label: the attribute stays structured metadata")
		case !validLabelName(label):
			ck.Problem(key, "must be a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __), got %q", label)
		case label == sev:
			ck.Problem(key, "label %q is severity_label's", label)
		case labels[label] != "":
			ck.Problem(key, "label %q is also the label of resource attribute %q", label, labels[label])
		default:
			labels[label] = attr
		}
	}
}

// CheckFiles reports secret and TLS files that cannot be read.
func (c *Config) CheckFiles(ck *config.Check) {
	c.keys().CheckFiles(ck)
}

// Open returns the source, not listening yet.
func (c *Config) Open(deps sources.Deps) (sources.Source, error) {
	return New(deps, c)
}

// validLabelName reports whether s is a label name Loki accepts
// ([a-zA-Z_][a-zA-Z0-9_]*) and not a reserved one (starting with "__").
func validLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
