package otlp

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
)

// Encodings of the export request body (OTLP/HTTP).
const (
	// EncodingProtobuf is ExportLogsServiceRequest in binary protobuf,
	// Content-Type application/x-protobuf (the default).
	EncodingProtobuf = "protobuf"
	// EncodingJSON is OTLP/JSON (the protobuf JSON mapping with OTLP's
	// exceptions: trace and span ids in hex, enums as integers),
	// Content-Type application/json.
	EncodingJSON = "json"
)

// Compressions of the request body.
const (
	CompressionGzip = "gzip" // Content-Encoding: gzip (the default)
	CompressionNone = "none"
)

// Defaults applied by New to zero fields.
const (
	DefaultName          = "otlp"
	DefaultTimeout       = 10 * time.Second
	DefaultSeverityLabel = "level"
	DefaultTraceIDLabel  = "trace_id"
	DefaultSpanIDLabel   = "span_id"
)

// DefaultResourceAttributes is the resource mapping used when
// Options.ResourceAttributes is nil: service.name from the label
// service_name, else job (and, whatever the mapping, else the block's
// source name); host.name from host, else hostname.
func DefaultResourceAttributes() map[string]string {
	return map[string]string{"service.name": "service_name,job", "host.name": "host,hostname"}
}

// DefaultAttributes is the log attribute mapping used when
// Options.Attributes is nil: log.file.path (the OpenTelemetry semantic
// convention) from the file and docker sources' filename label.
func DefaultAttributes() map[string]string {
	return map[string]string{"log.file.path": "filename"}
}

// Options configure a Sink. They are also the YAML options of an otlp
// sinks entry (the yaml tags; see SinkType).
type Options struct {
	// Name is the sink's name; it labels its metrics (sink=<Name>).
	// Default "otlp". [name]
	Name string `yaml:"-"`
	// URL is the OTLP/HTTP logs endpoint, the whole path included, e.g.
	// http://collector:4318/v1/logs or http://loki:3100/otlp/v1/logs.
	// Required; http or https. [url]
	URL string `yaml:"url"`
	// Encoding is EncodingProtobuf (default) or EncodingJSON. [encoding]
	Encoding string `yaml:"encoding"`
	// Compression is CompressionGzip (default) or CompressionNone.
	// [compression]
	Compression string `yaml:"compression"`
	// Headers are added to every request (an API key header, a tenant's
	// X-Scope-OrgID). They may not set Content-Type, Content-Encoding or
	// Content-Length, nor Authorization when basic_auth or a bearer token
	// is set. [headers]
	Headers map[string]string `yaml:"headers"`
	// BasicAuth sends an Authorization: Basic header. [basic_auth]
	BasicAuth BasicAuth `yaml:"basic_auth"`
	// BearerToken or BearerTokenFile (re-read on every request with
	// config.ReadSecret, so a rotated token is picked up) sends
	// Authorization: Bearer. At most one of them, and not together with
	// BasicAuth. [bearer_token, bearer_token_file]
	BearerToken     string `yaml:"bearer_token"`
	BearerTokenFile string `yaml:"bearer_token_file"`
	// TLS configures https connections, client certificates included; its
	// files are read by New. [tls]
	TLS sinks.TLSConfig `yaml:"tls"`
	// ProxyURL, NoProxy and ProxyFromEnvironment choose a proxy, as in a
	// Promtail client (sinks.Proxy): none set, no proxy. [proxy_url,
	// no_proxy, proxy_from_environment]
	ProxyURL             string `yaml:"proxy_url"`
	NoProxy              string `yaml:"no_proxy"`
	ProxyFromEnvironment bool   `yaml:"proxy_from_environment"`
	// Timeout bounds one export request, connection included. Default
	// 10s. [timeout]
	Timeout time.Duration `yaml:"timeout"`

	// ResourceAttributes maps resource attribute names to the labels they
	// take their value from: a comma-separated list of label names, the
	// first one the entry has (non-empty) wins. nil means
	// DefaultResourceAttributes; setting the key replaces the default
	// whole. A resource without service.name gets the block's source name
	// as service.name. [resource_attributes]
	ResourceAttributes map[string]string `yaml:"resource_attributes"`
	// Attributes maps log record attribute names to labels, as
	// ResourceAttributes does. nil means DefaultAttributes. [attributes]
	Attributes map[string]string `yaml:"attributes"`
	// SeverityLabel is the label (else the structured metadata key) whose
	// value is the record's severity_text, mapped to severity_number by
	// the OpenTelemetry severity table. Default "level"; "-" turns
	// severity off. [severity_label]
	SeverityLabel string `yaml:"severity_label"`
	// TraceIDLabel and SpanIDLabel are the labels (else structured
	// metadata keys) holding the trace id (32 hex digits) and span id (16
	// hex digits). Defaults "trace_id" and "span_id"; "-" turns one off.
	// [trace_id_label, span_id_label]
	TraceIDLabel string `yaml:"trace_id_label"`
	SpanIDLabel  string `yaml:"span_id_label"`
}

// BasicAuth is HTTP basic authentication (sinks.BasicAuth).
type BasicAuth = sinks.BasicAuth

// exampleURL is shown when url is missing.
const exampleURL = "http://127.0.0.1:4318/v1/logs"

// proxy returns the proxy options.
func (o *Options) proxy() sinks.Proxy {
	return sinks.Proxy{URL: o.ProxyURL, NoProxy: o.NoProxy, FromEnvironment: o.ProxyFromEnvironment}
}

// auth returns the credentials options.
func (o *Options) auth() sinks.HTTPAuth {
	return sinks.HTTPAuth{Basic: o.BasicAuth, BearerToken: o.BearerToken, BearerTokenFile: o.BearerTokenFile}
}

// off is the value of a *_label option that turns the field off.
const off = "-"

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
	if o.Compression == "" {
		o.Compression = CompressionGzip
	}
	if o.ResourceAttributes == nil {
		o.ResourceAttributes = DefaultResourceAttributes()
	}
	if o.Attributes == nil {
		o.Attributes = DefaultAttributes()
	}
	if o.SeverityLabel == "" {
		o.SeverityLabel = DefaultSeverityLabel
	}
	if o.TraceIDLabel == "" {
		o.TraceIDLabel = DefaultTraceIDLabel
	}
	if o.SpanIDLabel == "" {
		o.SpanIDLabel = DefaultSpanIDLabel
	}
}

// reservedHeaders are set by the sink itself.
var reservedHeaders = []string{"Content-Encoding", "Content-Length", "Content-Type"}

// Validate checks opts as New would use them (zero fields take their
// defaults). Each error names the offending field by its YAML key. It
// does not read files or touch the network; New does.
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
	}, nil)
	return first
}

// rules checks everything but the URL, reporting each problem with its
// key, and each warning (a mapping that names nothing) to warn when it is
// not nil.
func (o *Options) rules(report, warn func(key, msg string)) {
	if o.Timeout < 0 {
		report("timeout", fmt.Sprintf("must not be negative, got %s", o.Timeout))
	}
	if o.Encoding != EncodingProtobuf && o.Encoding != EncodingJSON {
		report("encoding", fmt.Sprintf("must be %s or %s, got %q", EncodingProtobuf, EncodingJSON, o.Encoding))
	}
	if o.Compression != CompressionGzip && o.Compression != CompressionNone {
		report("compression", fmt.Sprintf("must be %s or %s, got %q", CompressionGzip, CompressionNone, o.Compression))
	}
	auth := o.auth()
	auth.Rules(report)
	if err := o.TLS.Validate(); err != nil {
		report("tls", err.Error())
	}
	o.proxy().Rules(report)
	sinks.CheckHeaders(o.Headers, func(name, canon string) string {
		switch {
		case slices.Contains(reservedHeaders, canon):
			return fmt.Sprintf("%q is set by the sink", name)
		case canon == "Authorization" && auth.Enabled():
			return "Authorization is set by basic_auth or the bearer token; set one or the other"
		}
		return ""
	}, report)
	checkMapping("resource_attributes", o.ResourceAttributes, report, warn)
	checkMapping("attributes", o.Attributes, report, warn)
	for _, f := range []struct{ key, val string }{
		{"severity_label", o.SeverityLabel}, {"trace_id_label", o.TraceIDLabel}, {"span_id_label", o.SpanIDLabel}} {
		if f.val != off && f.val != "" {
			if err := checkLabelName(f.val); err != nil {
				report(f.key, err.Error())
			}
		}
	}
}

// checkMapping checks an attribute -> labels mapping: attribute names must
// be non-empty UTF-8 without control characters, label names valid. A
// mapping whose value names no label is a warning: the attribute is never
// set.
func checkMapping(key string, m map[string]string, report, warn func(key, msg string)) {
	for _, attr := range slices.Sorted(maps.Keys(m)) {
		k := key + "." + attr
		if attr == "" || strings.IndexFunc(attr, func(r rune) bool { return r < ' ' || r == 0x7f || r == 0xfffd }) >= 0 {
			report(key, fmt.Sprintf("%q is not a valid attribute name", attr))
			continue
		}
		names := labelList(m[attr])
		if len(names) == 0 {
			if warn != nil {
				warn(k, "names no label: the attribute is never set")
			}
			continue
		}
		for _, n := range names {
			if err := checkLabelName(n); err != nil {
				report(k, err.Error())
			}
		}
	}
}

// labelList splits a mapping's value into its label names, dropping empty
// ones and spaces around commas.
func labelList(v string) []string {
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func checkLabelName(name string) error {
	switch {
	case !validLabelName(name):
		return fmt.Errorf("%q is not a valid label name (want [a-zA-Z_][a-zA-Z0-9_]*)", name)
	case strings.HasPrefix(name, "__"):
		return fmt.Errorf("%q: labels starting with __ are reserved and never sent", name)
	}
	return nil
}

func validLabelName(s string) bool {
	if s == "" {
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
