package loki

import (
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/prometheus/client_golang/prometheus"
)

// SinkType registers type: loki. Its options are Options, decoded by their
// yaml tags.
func SinkType() config.SinkType {
	return config.SinkType{Name: "loki", New: func() config.SinkConfig {
		return &Options{Timeout: DefaultTimeout, Encoding: EncodingProtobuf}
	}}
}

// BufferedBytes is the request bodies its workers build
// (config.BufferedSink).
func (o *Options) BufferedBytes(batchBytes config.ByteSize, workers int) config.ByteSize {
	return config.RequestBytes(batchBytes, workers)
}

// SendTimeout is the longest one Send takes (the pipeline's bound for a
// hung send is twice it).
func (o *Options) SendTimeout() time.Duration { return o.Timeout }

// Check reports every problem Validate would, each at its key's line.
func (o *Options) Check(c *config.Check) {
	sinks.CheckHTTPURL(c, o.URL, exampleURL)
	c.Positive("timeout", o.Timeout)
	o.rules(func(key, msg string) {
		if key != "timeout" {
			c.Problem(key, "%s", msg)
		}
	})
	for _, name := range slices.Sorted(maps.Keys(o.Labels)) {
		if o.Labels[name] == "" {
			c.Warning("labels."+name, "is empty: the label is left out (Loki treats an empty value as absent; a ${VAR} that is not set expands to nothing)")
		}
	}
}

// CheckFiles reports a password, token or TLS file that cannot be read.
func (o *Options) CheckFiles(c *config.Check) {
	o.auth().CheckFiles(c)
	o.TLS.CheckFiles(c, "tls")
}

// Open returns the sink named name.
func (o *Options) Open(logger *slog.Logger, reg prometheus.Registerer, name string) (sinks.Sink, error) {
	opts := *o
	opts.Name = name
	return New(logger, reg, opts)
}
