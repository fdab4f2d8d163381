package kafka

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of a kafka sinks entry.
const (
	DefaultFormat           = FormatJSON
	DefaultCompression      = "zstd"
	DefaultAcks             = AcksAll
	DefaultClientID         = "logcapturer"
	DefaultMaxBufferedBytes = 16 * config.MiB
	DefaultTimeout          = 30 * time.Second
	// MinMaxBufferedBytes keeps room for the longest line (max_line_bytes
	// is 256KiB by default) and a batch in flight.
	MinMaxBufferedBytes = config.MiB
)

// Values of Config.Format and Config.Acks.
const (
	FormatJSON = "json"   // {"ts":"<RFC3339Nano UTC>","labels":{...},"line":"..."}
	FormatRaw  = "raw"    // the line as the value, the labels as record headers
	AcksAll    = "all"    // every in-sync replica; idempotent producer
	AcksLeader = "leader" // the leader only; idempotency off, as Kafka requires
)

// SASL mechanisms.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

var compressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// Config is a kafka sinks entry: every key but the common ones (name, type,
// batch, workers, retry). The zero value is not valid; SinkType's New sets
// the defaults.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string `yaml:"brokers"`
	// Topic is a topic name or a text/template over the block's labels
	// ("logs-{{ .job }}"); a label that is not set renders empty. Required.
	Topic string `yaml:"topic"`
	// Key is an optional template over the labels for the record key;
	// empty means no key (sticky partitioning).
	Key string `yaml:"key"`
	// Format is json (default) or raw.
	Format string `yaml:"format"`
	// Compression is none, gzip, snappy, lz4 or zstd (default).
	Compression string `yaml:"compression"`
	// Acks is all (default; idempotent producer) or leader.
	Acks string `yaml:"acks"`
	SASL SASL   `yaml:"sasl"`
	// TLS to the brokers (any key set turns it on); its files are read
	// by New.
	TLS sinks.TLSConfig `yaml:"tls"`
	// ClientID is sent to the brokers (default logcapturer).
	ClientID string `yaml:"client_id"`
	// MaxBufferedBytes bounds the records the producer holds in memory
	// (default 16MiB); a Send waits while it is full.
	MaxBufferedBytes config.ByteSize `yaml:"max_buffered_bytes"`
	// Timeout bounds one Send (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// SASL authenticates to the brokers. Password and PasswordFile are
// mutually exclusive; the file is read at every new connection, so a
// rotated password is picked up; config.ReadSecret reads it (surrounding
// whitespace trimmed).
type SASL struct {
	Mechanism    string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

func (s SASL) set() bool { return s != SASL{} }

// NewConfig returns a Config with every default set.
func NewConfig() *Config {
	return &Config{
		Format: DefaultFormat, Compression: DefaultCompression, Acks: DefaultAcks,
		ClientID: DefaultClientID, MaxBufferedBytes: DefaultMaxBufferedBytes, Timeout: DefaultTimeout,
	}
}

// SinkType registers type: kafka.
func SinkType() config.SinkType {
	return config.SinkType{Name: "kafka", New: func() config.SinkConfig { return NewConfig() }}
}

// SendTimeout is the longest one Send takes (the pipeline's bound for a
// hung send is twice it).
func (o *Config) SendTimeout() time.Duration { return o.Timeout }

// Check reports every problem with the options, each at its key's line.
// It reads no file and dials no broker.
func (o *Config) Check(c *config.Check) {
	switch {
	case len(o.Brokers) == 0 && c.Has("brokers"):
		c.Problem("brokers", "must not be empty")
	case len(o.Brokers) == 0:
		c.Problem("brokers", "is required (host:port of at least one broker)")
	}
	for i, b := range o.Brokers {
		if err := checkBroker(b); err != nil {
			c.Problem("brokers["+strconv.Itoa(i)+"]", "%v", err)
		}
	}
	if c.Required("topic", o.Topic) {
		if t, err := parseTemplate("topic", o.Topic); err != nil {
			c.Problem("topic", "%v", err)
		} else if t.static {
			if err := checkTopic(t.text); err != nil {
				c.Problem("topic", "%v", err)
			}
		}
	}
	if _, err := parseTemplate("key", o.Key); err != nil {
		c.Problem("key", "%v", err)
	}
	c.OneOf("format", o.Format, FormatJSON, FormatRaw)
	c.OneOf("compression", o.Compression, compressions...)
	c.OneOf("acks", o.Acks, AcksAll, AcksLeader)
	if s := o.SASL; s.set() {
		c.OneOf("sasl.mechanism", s.Mechanism, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
		c.Required("sasl.username", s.Username)
		switch {
		case s.Password != "" && s.PasswordFile != "":
			c.Problem("sasl", "password and password_file are mutually exclusive")
		case s.Password == "" && s.PasswordFile == "":
			c.Problem("sasl", "password or password_file is required")
		}
	}
	if err := o.TLS.Validate(); err != nil {
		c.Problem("tls", "%v", err)
	}
	c.Required("client_id", o.ClientID)
	if o.MaxBufferedBytes < MinMaxBufferedBytes {
		c.Problem("max_buffered_bytes", "must be at least %s, got %s", config.ByteSize(MinMaxBufferedBytes), o.MaxBufferedBytes)
	}
	c.Positive("timeout", o.Timeout)
}

// CheckFiles reports a SASL password file or a TLS file that cannot be
// read.
func (o *Config) CheckFiles(c *config.Check) {
	c.SecretFile("sasl.password_file", o.SASL.PasswordFile)
	o.TLS.CheckFiles(c, "tls")
}

// BufferedBytes is what the producer may hold (config.BufferedSink).
func (o *Config) BufferedBytes(config.ByteSize, int) config.ByteSize { return o.MaxBufferedBytes }

// Validate checks the options as New uses them: the first problem Check
// would report, or nil.
func (o *Config) Validate() error {
	return config.CheckOnly(o)
}

// Open returns the sink named name.
func (o *Config) Open(logger *slog.Logger, reg prometheus.Registerer, name string) (sinks.Sink, error) {
	return New(logger, reg, name, *o)
}

// checkBroker checks one host:port.
func checkBroker(b string) error {
	host, port, err := net.SplitHostPort(b)
	if err != nil || host == "" {
		return fmt.Errorf("must be host:port such as 10.0.0.5:9092, got %q", b)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port must be a number from 1 to 65535, got %q", port)
	}
	return nil
}

// checkTopic checks a topic name as Kafka does (Topic.validate in Kafka's
// clients/src/main/java/org/apache/kafka/common/internals/Topic.java):
// 1 to 249 of [a-zA-Z0-9._-], and not "." or "..".
func checkTopic(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("renders an empty topic name")
	case t == "." || t == "..":
		return fmt.Errorf("topic name %q is not allowed", t)
	case len(t) > 249:
		return fmt.Errorf("topic name is longer than 249 characters")
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !(c == '.' || c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return fmt.Errorf("topic name %q has %q: only letters, digits, '.', '_' and '-' are allowed", t, c)
		}
	}
	return nil
}
