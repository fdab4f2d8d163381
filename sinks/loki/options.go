package loki

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/sinks"
)

// Encodings of the push request body.
const (
	// EncodingProtobuf is Loki's logproto.PushRequest, snappy
	// block-compressed, Content-Type application/x-protobuf (the default).
	EncodingProtobuf = "protobuf"
	// EncodingJSON is Loki's JSON push format, uncompressed,
	// Content-Type application/json.
	EncodingJSON = "json"
)

// Defaults applied by New to zero fields.
const (
	DefaultName    = "loki"
	DefaultTimeout = 10 * time.Second
)

// Options configure a Sink. They are also the YAML options of a loki
// sinks entry (the yaml tags; see SinkType).
type Options struct {
	// Name is the sink's name; it labels its metrics (sink=<Name>).
	// Default "loki". [name]
	Name string `yaml:"-"`
	// URL is the push endpoint, e.g.
	// http://127.0.0.1:3100/loki/api/v1/push. Required; the scheme must be
	// http or https and a port, if given, must be 1-65535. [url]
	URL string `yaml:"url"`
	// TenantID, when set, is sent as X-Scope-OrgID. [tenant_id]
	TenantID string `yaml:"tenant_id"`
	// BasicAuth sends an Authorization: Basic header. [basic_auth]
	BasicAuth BasicAuth `yaml:"basic_auth"`
	// BearerToken or BearerTokenFile (re-read on every request with
	// config.ReadSecret, so a rotated token is picked up) sends Authorization: Bearer. At most one
	// of them, and not together with BasicAuth. [bearer_token,
	// bearer_token_file]
	BearerToken     string `yaml:"bearer_token"`
	BearerTokenFile string `yaml:"bearer_token_file"`
	// TLS configures https connections; its files are read by New. [tls]
	TLS sinks.TLSConfig `yaml:"tls"`
	// ProxyURL, NoProxy and ProxyFromEnvironment choose a proxy, as in a
	// Promtail client (sinks.Proxy): none set, no proxy. [proxy_url,
	// no_proxy, proxy_from_environment]
	ProxyURL             string `yaml:"proxy_url"`
	NoProxy              string `yaml:"no_proxy"`
	ProxyFromEnvironment bool   `yaml:"proxy_from_environment"`
	// Headers are added to every request. They may not set the headers
	// the sink owns: Content-Type, Content-Encoding, Content-Length,
	// X-Scope-OrgID (use TenantID) and Authorization (use BasicAuth or a
	// bearer token). [headers]
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one push request, connection included. Default 10s.
	// [timeout]
	Timeout time.Duration `yaml:"timeout"`
	// Encoding is EncodingProtobuf (default) or EncodingJSON. [encoding]
	Encoding string `yaml:"encoding"`
	// Labels are static stream labels added to every stream. A block's own
	// label of the same name wins. Names must be valid Loki label names
	// ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"); values must be
	// non-empty UTF-8. [labels]
	Labels map[string]string `yaml:"labels"`
	// StructuredMetadata names labels (block or static, by their sent,
	// sanitised name) that are sent as each entry's structured metadata
	// instead of as stream labels, e.g. high-cardinality ids. Loki 3 with
	// allow_structured_metadata is needed to accept them.
	// [structured_metadata]
	StructuredMetadata []string `yaml:"structured_metadata"`
}

// BasicAuth is HTTP basic authentication (sinks.BasicAuth).
type BasicAuth = sinks.BasicAuth

// exampleURL is shown when url is missing.
const exampleURL = "http://127.0.0.1:3100/loki/api/v1/push"

// proxy returns the proxy options.
func (o *Options) proxy() sinks.Proxy {
	return sinks.Proxy{URL: o.ProxyURL, NoProxy: o.NoProxy, FromEnvironment: o.ProxyFromEnvironment}
}

// auth returns the credentials options.
func (o *Options) auth() sinks.HTTPAuth {
	return sinks.HTTPAuth{Basic: o.BasicAuth, BearerToken: o.BearerToken, BearerTokenFile: o.BearerTokenFile}
}

func (o *Options) setDefaults() {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Encoding == "" {
		o.Encoding = EncodingProtobuf
	}
}

// reservedHeaders are set by the sink itself.
var reservedHeaders = []string{"Authorization", "Content-Encoding", "Content-Length", "Content-Type", "X-Scope-Orgid"}

// Validate checks opts as New would use them (zero fields take their
// defaults). Each error names the offending field by its YAML key, e.g.
//
//	url "localhost:3100": missing scheme: want http:// or https://
//
// Validate does not read files or touch the network; New does.
func (o Options) Validate() error {
	o.setDefaults()
	if _, err := sinks.ParseHTTPURL(o.URL, exampleURL); err != nil {
		return err
	}
	var first error
	o.rules(func(key, msg string) {
		if first == nil {
			first = errors.New(key + ": " + msg)
		}
	})
	return first
}

// rules checks everything but the URL, reporting each problem with its key.
func (o *Options) rules(report func(key, msg string)) {
	if o.Timeout < 0 {
		report("timeout", fmt.Sprintf("must not be negative, got %s", o.Timeout))
	}
	if o.Encoding != EncodingProtobuf && o.Encoding != EncodingJSON {
		report("encoding", fmt.Sprintf("must be %s or %s, got %q", EncodingProtobuf, EncodingJSON, o.Encoding))
	}
	o.auth().Rules(report)
	if err := o.TLS.Validate(); err != nil {
		report("tls", err.Error())
	}
	o.proxy().Rules(report)
	sinks.CheckHeaders(o.Headers, func(name, canon string) string {
		if slices.Contains(reservedHeaders, canon) {
			return fmt.Sprintf("%q is set by the sink (use tenant_id, basic_auth or bearer_token)", name)
		}
		return ""
	}, report)
	for _, name := range slices.Sorted(maps.Keys(o.Labels)) {
		value := o.Labels[name]
		if err := checkStaticName(name); err != nil {
			report("labels", err.Error())
		} else if !utf8.ValidString(value) {
			report("labels", fmt.Sprintf("value of %q is not valid UTF-8", name))
		}
	}
	seen := make(map[string]bool, len(o.StructuredMetadata))
	for _, name := range o.StructuredMetadata {
		if err := checkStaticName(name); err != nil {
			report("structured_metadata", err.Error())
		} else if seen[name] {
			report("structured_metadata", fmt.Sprintf("%q is listed twice", name))
		}
		seen[name] = true
	}
}

func checkStaticName(name string) error {
	switch {
	case name == "":
		return errors.New("empty label name")
	case !validName(name):
		return fmt.Errorf("%q is not a valid label name (want [a-zA-Z_][a-zA-Z0-9_]*)", name)
	case strings.HasPrefix(name, "__"):
		return fmt.Errorf("%q: names starting with __ are reserved", name)
	}
	return nil
}
