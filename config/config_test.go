package config_test

import (
	"errors"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sources"
)

// env returns a LookupEnv over m.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// parseOnly parses without touching the file system, with environment m.
func parseOnly(t *testing.T, src string, m map[string]string) (*Config, error) {
	t.Helper()
	return ParseWith("t.yaml", []byte(src), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes, SkipDirCheck: true, LookupEnv: env(m)})
}

// problemsOf returns the problems of err, which must be an *Error.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return e.Problems
}

const minimal = `
# A minimal valid configuration.
sources:
  - name: app
    type: file
    paths: [/var/log/app.log]
sinks:
  - name: out
    type: stdout
`

func TestDefaults(t *testing.T) {
	c, err := parseOnly(t, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		DataDir: "/var/lib/logcapturer", ShutdownTimeout: DefaultShutdownTimeout,
		WAL: WAL{
			SegmentSize:  1 * MiB,
			MaxBytes:     2 * GiB,
			Sync:         SyncBatch,
			SyncInterval: Duration(100 * time.Millisecond),
			FullPolicy:   FullBlock,
			Compression:  CompressionS2,
		},
		DLQ: DLQ{MaxBytes: 512 * MiB, MaxAge: Duration(168 * time.Hour)},
		Sources: []Source{{
			Name:    "app",
			Type:    "file",
			Sinks:   []string{"out"},
			Options: fileConfig("file", func(c *sources.FileConfig) { c.Paths = []string{"/var/log/app.log"} }),
		}},
		Sinks: []Sink{{
			Name:    "out",
			Type:    "stdout",
			Batch:   Batch{MaxEntries: 10000, MaxBytes: 1 * MiB, MaxWait: Duration(200 * time.Millisecond)},
			Workers: 1,
			Retry:   Retry{MaxAttempts: 0, MinBackoff: Duration(500 * time.Millisecond), MaxBackoff: Duration(5 * time.Minute)},
			Options: &sinks.StdoutConfig{Format: "raw"},
		}},
		Admin: Admin{Listen: "127.0.0.1:8401", UnreadyAfter: DefaultUnreadyAfter},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate of a parsed config: %v", err)
	}
}

func TestNullMeansDefault(t *testing.T) {
	c, err := parseOnly(t, minimal+"wal:\n  segment_size:\nadmin:\n  listen: ~\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.WAL.SegmentSize != DefaultSegmentSize || c.Admin.Listen != DefaultAdminListen {
		t.Errorf("got %v %q, want defaults", c.WAL.SegmentSize, c.Admin.Listen)
	}
}

func TestAdminDisabled(t *testing.T) {
	c, err := parseOnly(t, minimal+"admin:\n  listen: \"\"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Listen != "" {
		t.Errorf("Listen = %q, want empty (disabled)", c.Admin.Listen)
	}
}

func TestValidFile(t *testing.T) {
	data, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseWith("valid.yaml", data, &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes,
		SkipDirCheck: true,
		LookupEnv:    env(map[string]string{"LC_TEST_HOST": "web-1", "LC_TEST_ENV": ""}),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		DataDir: "./data", ShutdownTimeout: DefaultShutdownTimeout,
		WAL: WAL{
			SegmentSize:  8 * MiB,
			MaxBytes:     GiB,
			Sync:         SyncInterval,
			SyncInterval: Duration(250 * time.Millisecond),
			FullPolicy:   FullDropOldest,
			Compression:  CompressionS2,
		},
		DLQ: DLQ{MaxBytes: 512 * MiB, MaxAge: Duration(168 * time.Hour)},
		Sources: []Source{{
			Name:   "app",
			Type:   "file",
			Labels: map[string]string{"job": "app", "host": "web-1", "env": "prod", "tier": "$gold"},
			Sinks:  []string{"archive"},
			Options: fileConfig("file", func(c *sources.FileConfig) {
				c.Paths = []string{"/var/log/app/*.log", "/var/log/app/*/current"}
				c.Exclude = []string{"*.gz", "/var/log/app/debug-?.log"}
				c.StartAt = "end"
				c.MaxLineBytes = MiB
				c.PollInterval = Duration(5 * time.Second)
			}),
		}, {
			Name:   "nginx_access",
			Type:   "file",
			Labels: map[string]string{"job": "nginx", "host": "web-1", "env": "prod", "tier": "$gold"},
			Sinks:  []string{"archive", "console"},
			Options: fileConfig("file", func(c *sources.FileConfig) {
				c.Paths = []string{"/var/log/nginx/access.log"}
			}),
		}},
		Sinks: []Sink{{
			Name:    "archive",
			Type:    "file",
			Batch:   Batch{MaxEntries: 500, MaxBytes: 1_000_000, MaxWait: Duration(time.Second)},
			Workers: 4,
			Retry:   Retry{MaxAttempts: 10, MinBackoff: Duration(time.Second), MaxBackoff: Duration(time.Minute)},
			Options: &sinks.FileConfig{Path: "./out/archive.log", Format: "json"},
		}, {
			Name:    "console",
			Type:    "stdout",
			Batch:   Batch{MaxEntries: DefaultBatchEntries, MaxBytes: DefaultBatchBytes, MaxWait: DefaultBatchWait},
			Workers: 1,
			Retry:   Retry{MinBackoff: DefaultMinBackoff, MaxBackoff: DefaultMaxBackoff},
			Options: &sinks.StdoutConfig{Format: "raw"},
		}},
		Admin: Admin{Listen: ":9090", TokenFile: "/etc/logcapturer/token", UnreadyAfter: DefaultUnreadyAfter},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestInvalidFile(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseWith("invalid.yaml", data, &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes, SkipDirCheck: true, LookupEnv: env(nil)})
	want := `invalid.yaml:2: data_dir: must not be empty
invalid.yaml:4: wal: unknown key "segmnet_size"; did you mean "segment_size"?
invalid.yaml:5: wal.max_bytes: must be at least twice wal.segment_size (2MiB), got 1MiB
invalid.yaml:6: wal.sync: must be batch, interval or none, got "sometimes"
invalid.yaml:7: wal.sync_interval: must be a duration like 250ms, got "fast"
invalid.yaml:8: wal.full_policy: must be block or drop_oldest, got "drop_newest"
invalid.yaml:12: sources[0].paths[1]: is not a valid glob pattern: "/var/log/[app.log"
invalid.yaml:12: sources[0].paths[2]: "**" must be a whole path element, as in /var/log/**/*.log (inside one it would mean *), got "/var/log/**.log"
invalid.yaml:13: sources[0].start_at: must be beginning or end, got "middle"
invalid.yaml:14: sources[0].labels.1bad: invalid label name "1bad": must match [a-zA-Z_][a-zA-Z0-9_]*
invalid.yaml:14: sources[0].labels.__meta: label names starting with "__" are reserved
invalid.yaml:15: sources[0].sinks[1]: sink "archive" is listed twice
invalid.yaml:15: sources[0].sinks[2]: no sink named "nowhere"; defined sinks: "archive", "archive", "loki"
invalid.yaml:16: sources[0].max_line_bytes: must be between 1KiB and 64MiB, got 100MiB
invalid.yaml:17: sources[0].poll_interval: must be greater than 0, got 0s
invalid.yaml:18: sources[1].name: duplicate source name "app" (first defined at line 10)
invalid.yaml:19: sources[1].type: must be file, docker or cri, got "journald"
invalid.yaml:20: sources[2].name: is required
invalid.yaml:20: sources[2].paths: is required for a file source
invalid.yaml:21: sources[2].sinks: must not be empty; leave the key out to send to all sinks
invalid.yaml:22: sources[3].name: must be 1 to 64 letters, digits, '_' or '-', got "bad name!"
invalid.yaml:24: sources[3].paths: must be a list, got "/var/log/one.log"
invalid.yaml:25: sources[3].max_line_bytes: must be a size like 64KiB or 16MiB, got "lots"
invalid.yaml:27: sinks[0].path: is required
invalid.yaml:29: sinks[0].format: must be raw or json, got "xml"
invalid.yaml:30: sinks[0].batch.max_entries: must be greater than 0, got 0
invalid.yaml:30: sinks[0].batch.max_wait: must be greater than 0, got -1s
invalid.yaml:31: sinks[0].workers: must be between 1 and 64, got 100
invalid.yaml:32: sinks[0].retry.max_attempts: must be 0 (retry forever) or more, got -1
invalid.yaml:32: sinks[0].retry.max_backoff: must be at least retry.min_backoff (1m0s), got 1s
invalid.yaml:33: sinks[1].name: duplicate sink name "archive" (first defined at line 27)
invalid.yaml:35: sinks[1].path: must not be set for a stdout sink; it is a key of file sinks
invalid.yaml:37: sinks[2].type: must be file, stdout, http, loki or kafka, got "kinesis"
invalid.yaml:40: admin.listen: must be host:port such as 127.0.0.1:8401, or "" to disable the admin server, got "localhost"
invalid.yaml:41: admin.token_file: environment variable "LC_TEST_TOKEN_FILE" is not set (give a default with ${LC_TEST_TOKEN_FILE:-default})
invalid.yaml:42: admin: unknown key "tls"`
	if err == nil {
		t.Fatal("no error")
	}
	problemsOf(t, err)
	if got := err.Error(); got != want {
		t.Errorf("got:\n%s\n\nwant:\n%s\n\ndiff:\n%s", got, want, lineDiff(got, want))
	}
}

// lineDiff lists the lines only in got (+) and only in want (-).
func lineDiff(got, want string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var b strings.Builder
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	return b.String()
}

// sourceTypes is cmd's registry of source types.
var sourceTypes = []SourceType{sources.FileSourceType(), sources.DockerSourceType(), sources.CRISourceType()}

// fileConfig is a file source type's options, defaults changed by set.
func fileConfig(typ string, set func(*sources.FileConfig)) *sources.FileConfig {
	c := sources.NewFileConfig(typ)
	set(c)
	return c
}

// sinkTypes is cmd's registry of sink types.
var sinkTypes = []SinkType{sinks.FileSinkType(), sinks.StdoutSinkType(), sinks.HTTPSinkType(), loki.SinkType(), kafka.SinkType()}

// TestEmptyLabelLeftOut: a source label whose value is empty, written so
// or from a ${VAR:-} that is not set (HOSTNAME under systemd), is left out
// with a warning at its line, as Loki and Promtail read it (no label),
// instead of stopping the start.
func TestEmptyLabelLeftOut(t *testing.T) {
	src := `sources:
  - name: app
    type: file
    paths: [/a.log]
    labels:
      job: app
      host: ${HOSTNAME:-}
      env: ""
sinks:
  - name: out
    type: stdout
`
	c, err := parseOnly(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"job": "app"}; !maps.Equal(c.Sources[0].Labels, want) {
		t.Errorf("labels = %v, want %v", c.Sources[0].Labels, want)
	}
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		"t.yaml:7: sources[0].labels.host: is empty: the label is left out (Loki treats an empty value as absent; a ${VAR} that is not set expands to nothing)",
		"t.yaml:8: sources[0].labels.env: is empty: the label is left out (Loki treats an empty value as absent; a ${VAR} that is not set expands to nothing)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
