package sinks

import (
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/prometheus/client_golang/prometheus"
)

// The YAML options of the file, stdout and http sinks: each type owns the
// keys of its sinks entries besides the common ones (name, type, batch,
// workers, retry), which config decodes. cmd registers FileSinkType,
// StdoutSinkType and HTTPSinkType.

// DefaultHTTPTimeout bounds one request of an http sink.
const DefaultHTTPTimeout = 10 * time.Second

// FileConfig is a file sink's entry.
type FileConfig struct {
	// Path is the file appended to; required, and not shared with another
	// file sink.
	Path string `yaml:"path"`
	// Format is raw (default) or json.
	Format string `yaml:"format"`
}

// FileSinkType registers type: file.
func FileSinkType() config.SinkType {
	return config.SinkType{Name: "file", New: func() config.SinkConfig { return &FileConfig{Format: "raw"} }}
}

// Check validates the options.
func (o *FileConfig) Check(c *config.Check) {
	if c.Required("path", o.Path) {
		if other, dup := c.Claim("file:" + o.Path); dup {
			c.Problem("path", "%q is also the path of %s", o.Path, other)
		}
	}
	checkFormat(c, o.Format)
}

// CheckFiles reports a path run could not append to: its directory (or
// the nearest existing ancestor run would create it under) is not a
// writable directory, say on a read-only filesystem, or the file exists
// and cannot be opened for writing. It creates nothing.
func (o *FileConfig) CheckFiles(c *config.Check) {
	if o.Path == "" {
		return
	}
	if fi, err := os.Stat(o.Path); err == nil {
		if fi.IsDir() {
			c.Problem("path", "%s is a directory; name a file", o.Path)
			return
		}
		f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			c.Problem("path", "%s cannot be written: %v", o.Path, err)
			return
		}
		f.Close()
	}
	if err := config.CheckWritableDir(filepath.Dir(o.Path)); err != nil {
		c.Problem("path", "the directory of %s is not writable: %v; choose a writable directory", o.Path, err)
	}
}

// Open opens the sink.
func (o *FileConfig) Open(logger *slog.Logger, reg prometheus.Registerer, name string) (Sink, error) {
	f, err := ParseFormat(o.Format)
	if err != nil {
		return nil, err
	}
	return NewFile(logger, reg, FileOptions{Name: name, Path: o.Path, Format: f})
}

// StdoutConfig is a stdout sink's entry.
type StdoutConfig struct {
	Format string `yaml:"format"` // raw (default) or json
}

// StdoutSinkType registers type: stdout.
func StdoutSinkType() config.SinkType {
	return config.SinkType{Name: "stdout", New: func() config.SinkConfig { return &StdoutConfig{Format: "raw"} }}
}

// Check validates the options.
func (o *StdoutConfig) Check(c *config.Check) { checkFormat(c, o.Format) }

// Open returns the sink.
func (o *StdoutConfig) Open(_ *slog.Logger, _ prometheus.Registerer, name string) (Sink, error) {
	f, err := ParseFormat(o.Format)
	if err != nil {
		return nil, err
	}
	return NewStdout(StdoutOptions{Name: name, Format: f}), nil
}

// HTTPConfig is an http sink's entry.
type HTTPConfig struct {
	URL     string            `yaml:"url"`     // required: one POST per batch
	Timeout time.Duration     `yaml:"timeout"` // one request; default 10s
	Headers map[string]string `yaml:"headers"`
	Format  string            `yaml:"format"` // raw (default) or json
	// The proxy, as for loki and otlp (Proxy): none set, no proxy.
	ProxyURL             string `yaml:"proxy_url"`
	NoProxy              string `yaml:"no_proxy"`
	ProxyFromEnvironment bool   `yaml:"proxy_from_environment"`
}

// proxy returns the proxy options.
func (o *HTTPConfig) proxy() Proxy {
	return Proxy{URL: o.ProxyURL, NoProxy: o.NoProxy, FromEnvironment: o.ProxyFromEnvironment}
}

// HTTPSinkType registers type: http.
func HTTPSinkType() config.SinkType {
	return config.SinkType{Name: "http", New: func() config.SinkConfig {
		return &HTTPConfig{Timeout: DefaultHTTPTimeout, Format: "raw"}
	}}
}

// BufferedBytes is the request bodies its workers build
// (config.BufferedSink).
func (o *HTTPConfig) BufferedBytes(batchBytes config.ByteSize, workers int) config.ByteSize {
	return config.RequestBytes(batchBytes, workers)
}

// Check validates the options.
func (o *HTTPConfig) Check(c *config.Check) {
	if c.Required("url", o.URL) {
		CheckURL(c, "url", o.URL)
	}
	c.Positive("timeout", o.Timeout)
	checkFormat(c, o.Format)
	o.proxy().Rules(func(key, msg string) { c.Problem(key, "%s", msg) })
}

// SendTimeout is the longest one Send takes (the pipeline's bound for a
// hung send is twice it).
func (o *HTTPConfig) SendTimeout() time.Duration { return o.Timeout }

// Open returns the sink.
func (o *HTTPConfig) Open(logger *slog.Logger, _ prometheus.Registerer, name string) (Sink, error) {
	f, err := ParseFormat(o.Format)
	if err != nil {
		return nil, err
	}
	return NewHTTP(logger, HTTPOptions{Name: name, URL: o.URL, Timeout: o.Timeout, Format: f, Headers: o.Headers, Proxy: o.proxy()})
}

func checkFormat(c *config.Check, f string) { c.OneOf("format", f, "raw", "json") }

// CheckURL reports an http(s) URL at key that does not parse, has another
// scheme, no host or a bad port, and returns whether it is good.
func CheckURL(c *config.Check, key, raw string) bool {
	u, err := url.Parse(raw)
	ok := false
	switch {
	case err != nil:
		c.Problem(key, "is not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		c.Problem(key, "must start with http:// or https://, got %q", raw)
	case u.Host == "":
		c.Problem(key, "has no host: %q", raw)
	default:
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				c.Problem(key, "has a bad port %q; want 1-65535", p)
				return false
			}
		}
		ok = true
	}
	return ok
}
