package kafka_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/kafka"
)

const kafkaHead = "sources: [{name: app, type: file, paths: [/a.log]}]\nsinks:\n  - name: k\n    type: kafka\n"

// TestCheck lists what logcapturer check reports for kafka sinks, with
// file and line, in the style of config's TestProblems: line and key
// exactly, the message as a substring.
func TestCheck(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("secret\n"), 0o600)
	type want struct {
		line int
		key  string
		msg  string
	}
	for _, tt := range []struct {
		name string
		src  string
		want []want
	}{
		{"minimal", "    brokers: [127.0.0.1:9092]\n    topic: logs\n", nil},
		{"everything", "    brokers: [10.0.0.5:9092, 'kafka-1.example:9093']\n    topic: 'logs-{{ .job }}'\n    key: '{{ .host }}'\n" +
			"    format: raw\n    compression: lz4\n    acks: leader\n    sasl: {mechanism: SCRAM-SHA-512, username: u, password_file: " + pwFile + "}\n" +
			"    client_id: edge\n    max_buffered_bytes: 32MiB\n    timeout: 5s\n    batch: {max_bytes: 1MiB, max_wait: 100ms}\n    workers: 2\n", nil},
		{"no brokers no topic", "    format: json\n", []want{
			{3, "sinks[0].brokers", "is required"},
			{3, "sinks[0].topic", "is required"},
		}},
		{"brokers", "    brokers: [localhost, ':9092', 'h:0', 'h:99999', 'h:x', 'h:9092']\n    topic: logs\n", []want{
			{5, "sinks[0].brokers[0]", `must be host:port such as 10.0.0.5:9092, got "localhost"`},
			{5, "sinks[0].brokers[1]", `must be host:port such as 10.0.0.5:9092, got ":9092"`},
			{5, "sinks[0].brokers[2]", `port must be a number from 1 to 65535, got "0"`},
			{5, "sinks[0].brokers[3]", `port must be a number from 1 to 65535, got "99999"`},
			{5, "sinks[0].brokers[4]", `port must be a number from 1 to 65535, got "x"`},
		}},
		{"empty brokers", "    brokers: []\n    topic: logs\n", []want{{5, "sinks[0].brokers", "must not be empty"}}},
		{"topic template", "    brokers: [h:9092]\n    topic: 'logs-{{ .job '\n", []want{
			{6, "sinks[0].topic", "is not a valid template: 1: unclosed action"},
		}},
		{"static topic name", "    brokers: [h:9092]\n    topic: 'my logs'\n", []want{
			{6, "sinks[0].topic", `topic name "my logs" has ' '`},
		}},
		{"key template", "    brokers: [h:9092]\n    topic: logs\n    key: '{{ .host | nosuch }}'\n", []want{
			{7, "sinks[0].key", `is not a valid template: 1: function "nosuch" not defined`},
		}},
		{"enums", "    brokers: [h:9092]\n    topic: logs\n    format: avro\n    compression: brotli\n    acks: none\n", []want{
			{7, "sinks[0].format", `must be json or raw, got "avro"`},
			{8, "sinks[0].compression", `must be none, gzip, snappy, lz4 or zstd, got "brotli"`},
			{9, "sinks[0].acks", `must be all or leader, got "none"`},
		}},
		{"sasl", "    brokers: [h:9092]\n    topic: logs\n    sasl: {mechanism: GSSAPI, password: p, password_file: /x}\n", []want{
			{7, "sinks[0].sasl.mechanism", `must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got "GSSAPI"`},
			{7, "sinks[0].sasl.username", "is required"},
			{7, "sinks[0].sasl", "password and password_file are mutually exclusive"},
			{7, "sinks[0].sasl.password_file", "cannot be read: open /x"},
		}},
		{"sasl without password", "    brokers: [h:9092]\n    topic: logs\n    sasl:\n      mechanism: PLAIN\n      username: u\n", []want{
			{7, "sinks[0].sasl", "password or password_file is required"},
		}},
		{"missing password file", "    brokers: [h:9092]\n    topic: logs\n    sasl: {mechanism: PLAIN, username: u, password_file: /nonexistent/kafka.pass}\n", []want{
			{7, "sinks[0].sasl.password_file", "cannot be read: open /nonexistent/kafka.pass: no such file or directory"},
		}},
		{"tls", "    brokers: [h:9092]\n    topic: logs\n    tls: {cert_file: /c}\n", []want{
			{7, "sinks[0].tls", "cert_file and key_file must be given together"},
			{7, "sinks[0].tls", "cert_file/key_file: open /c"},
		}},
		{"tls files", "    brokers: [h:9092]\n    topic: logs\n    tls: {ca_file: /nonexistent/ca.pem}\n", []want{
			{7, "sinks[0].tls", "ca_file: open /nonexistent/ca.pem"},
		}},
		{"sizes and durations", "    brokers: [h:9092]\n    topic: logs\n    max_buffered_bytes: 64KiB\n    timeout: 0s\n    client_id: ''\n", []want{
			{7, "sinks[0].max_buffered_bytes", "must be at least 1MiB, got 64KiB"},
			{8, "sinks[0].timeout", "must be greater than 0, got 0s"},
			{9, "sinks[0].client_id", "must not be empty"},
		}},
		{"typo", "    brokers: [h:9092]\n    topic: logs\n    compresion: zstd\n", []want{
			{7, "sinks[0]", `unknown key "compresion"; did you mean "compression"?`},
		}},
		{"key of another type", "    brokers: [h:9092]\n    topic: logs\n    url: http://h/\n", []want{
			{7, "sinks[0].url", "must not be set for a kafka sink; it is a key of http and loki sinks"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseWith("k.yaml", []byte(kafkaHead+tt.src), &config.ParseOptions{SkipDirCheck: true, CheckFiles: true,
				SinkTypes: []config.SinkType{sinks.FileSinkType(), sinks.HTTPSinkType(), lokiLike(), kafka.SinkType()}})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				return
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ce.Problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				if g := ce.Problems[i]; g.File != "k.yaml" || g.Line != w.line || g.Key != w.key || !strings.Contains(g.Msg, w.msg) {
					t.Errorf("problem %d:\n got  %s\n want k.yaml:%d: %s: ...%s...", i, g, w.line, w.key, w.msg)
				}
			}
		})
	}
}

// lokiLike is a stand-in for the loki type (this package does not import
// it): a type with a url key.
func lokiLike() config.SinkType {
	return config.SinkType{Name: "loki", New: func() config.SinkConfig { return &sinks.HTTPConfig{} }}
}

// TestDefaults: a parsed entry with only brokers and topic has every
// documented default.
func TestDefaults(t *testing.T) {
	c, err := config.ParseWith("k.yaml", []byte(kafkaHead+"    brokers: [h:9092]\n    topic: logs\n"),
		&config.ParseOptions{SkipDirCheck: true, SinkTypes: []config.SinkType{kafka.SinkType()}})
	if err != nil {
		t.Fatal(err)
	}
	got := *c.Sinks[0].Options.(*kafka.Config)
	want := kafka.Config{Brokers: []string{"h:9092"}, Topic: "logs", Format: "json", Compression: "zstd", Acks: "all",
		ClientID: "logcapturer", MaxBufferedBytes: 16 * config.MiB, Timeout: 30 * time.Second}
	if got.Format != want.Format || got.Compression != want.Compression || got.Acks != want.Acks || got.ClientID != want.ClientID ||
		got.MaxBufferedBytes != want.MaxBufferedBytes || got.Timeout != want.Timeout || got.Topic != want.Topic || len(got.Brokers) != 1 {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// The producer's buffer counts in the automatic memory limit.
	if got := c.EffectiveMemoryLimit(); got != 28*config.MiB+16*config.MiB {
		t.Fatalf("auto memory limit %s, want 28MiB + max_buffered_bytes", got)
	}
	if _, err := kafka.New(nil, nil, "k", kafka.Config{}); err == nil || !strings.Contains(err.Error(), "brokers: is required") {
		t.Fatalf("New of empty options: %v", err)
	}
}

// TestDestinationIsTheBrokers: the status shows the seed brokers.
func TestDestinationIsTheBrokers(t *testing.T) {
	s := newSink(t, []string{"k1:9092", "k2:9092"}, nil)
	if got, want := sinks.Destination(s), "k1:9092,k2:9092"; got != want {
		t.Errorf("Destination = %q, want %q", got, want)
	}
}
