package config

import (
	"time"

	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v3"
)

// Config is a whole configuration file, decoded, with defaults filled in.
// Load and Parse return it only when it is valid. The zero value is not a
// valid configuration.
type Config struct {
	// DataDir holds the WAL and state.db. Relative paths are relative to the
	// working directory and kept as written.
	DataDir string
	// MemoryLimit is the Go runtime's soft memory limit; 0 means auto:
	// AutoMemoryLimit. GOMEMLIMIT in the environment wins.
	MemoryLimit ByteSize
	// ShutdownTimeout bounds how long SIGTERM waits for in-flight batches
	// to be acknowledged before they are cancelled (and sent again after
	// the next start).
	ShutdownTimeout Duration
	WAL             WAL
	DLQ             DLQ
	Sources         []Source
	Sinks           []Sink
	Admin           Admin
	// Takeover names another shipper's positions to start from, on the
	// first start of this data directory (see Takeover).
	Takeover Takeover
	// Warnings are what Check.Warning reported, ordered by line: things
	// that are probably not meant but do not stop the config from loading.
	// logcapturer check prints them; run logs each once at start.
	Warnings []Problem
}

// DLQ bounds how much of the WAL the dead-letter queue keeps: the oldest
// dead letters expire once their line bytes pass MaxBytes or their last
// failure is older than MaxAge.
type DLQ struct {
	MaxBytes ByteSize
	MaxAge   Duration
}

// WAL configures the write-ahead log.
type WAL struct {
	SegmentSize  ByteSize
	MaxBytes     ByteSize
	Sync         SyncMode
	SyncInterval Duration // used only when Sync is SyncInterval
	FullPolicy   FullPolicy
	Compression  Compression
}

// Compression says how the WAL stores blocks.
type Compression string

// Values of Compression.
const (
	CompressionS2   Compression = "s2"   // S2-compressed, when that shrinks them 4 times or more
	CompressionNone Compression = "none" // as they are
)

// SyncMode says when the WAL is fsynced.
type SyncMode string

// Values of SyncMode.
const (
	SyncBatch    SyncMode = "batch"    // once per group commit
	SyncInterval SyncMode = "interval" // every WAL.SyncInterval
	SyncNone     SyncMode = "none"     // never (the OS decides)
)

// FullPolicy says what happens when the WAL reaches WAL.MaxBytes.
type FullPolicy string

// Values of FullPolicy.
const (
	FullBlock      FullPolicy = "block"       // sources wait
	FullDropOldest FullPolicy = "drop_oldest" // the oldest segments are deleted
)

// Source is one entry of the sources list: the keys every source has, and
// the options its type decoded from the others.
type Source struct {
	Name string
	Type SourceKind
	// Labels are the stream labels of every entry; nil when none are set.
	Labels map[string]string
	// Sinks names the sinks this source's entries go to. After Load or Parse
	// it is never empty: a source without the key routes to every sink, in
	// the order of the sinks list.
	Sinks []string
	// PipelineStages is the pipeline_stages list as written (aliases
	// followed, ${VAR} expanded), for the stages package to parse with
	// its own line numbers; nil when the key is not set. config checks
	// only that it is a list.
	PipelineStages *yaml.Node
	// MaxStreams bounds the label sets the source's pipeline_stages may
	// make (0: the default, 1,000; see sources.StageOptions.MaxStreams).
	MaxStreams int
	// RelabelConfigs are Prometheus relabel rules (Promtail's
	// relabel_configs) run on each entry's labels, with the source's
	// internal "__" labels, before pipeline_stages; nil when the key is
	// not set. An entry they drop is counted (reason "relabel").
	RelabelConfigs []*relabel.Config
	// Options holds the keys the source's type owns, decoded into the value
	// its SourceType.New returned; nil when the type is unknown or Load was
	// given no source types.
	Options SourceConfig
}

// Sink is one entry of the sinks list: the keys every sink has, and the
// options its type decoded from the others.
type Sink struct {
	Name    string
	Type    string // the name of a registered SinkType
	Batch   Batch
	Workers int
	Retry   Retry
	// Options holds the keys the sink's type owns, decoded into the value
	// its SinkType.New returned; nil when the type is unknown.
	Options SinkConfig
}

// Batch bounds a sink's batches: a batch is sent when any limit is reached.
type Batch struct {
	MaxEntries int
	MaxBytes   ByteSize
	MaxWait    Duration
}

// Retry is a sink's retry policy.
type Retry struct {
	MaxAttempts int // 0 retries forever
	MinBackoff  Duration
	MaxBackoff  Duration
}

// Admin configures the admin HTTP server.
type Admin struct {
	// Listen is host:port; empty disables the admin server.
	Listen string
	// TokenFile names a file holding the bearer token of the admin API's
	// mutating endpoints (and of every /api route on a non-loopback
	// Listen); empty means none. The program reads it at start; this
	// package requires it for a non-loopback Listen and, with
	// ParseOptions.CheckFiles or CheckTokenFile, reads it: it must be
	// readable and not empty.
	TokenFile string
	// PProf serves /debug/pprof/ on the admin address (default off).
	PProf bool
	// UnreadyAfter is how long a sink may fail before /readyz reports it
	// (reason sink_failing).
	UnreadyAfter Duration
}

// Takeover is the takeover section: the positions file of the Promtail
// this logcapturer replaces. On the first start of a data directory (no
// handover recorded in its state.db) the program starts every file that
// Promtail recorded, and that is still the file Promtail read, at
// Promtail's offset; the handover is recorded in state.db at once, in
// one transaction, and never done again. Promtail's file is only read.
type Takeover struct {
	// PromtailPositions is the path of Promtail's positions.yaml
	// (Promtail's positions.filename); empty: no takeover.
	PromtailPositions string
	// IgnoreInvalid starts without Promtail's positions when its file is
	// not valid YAML (Promtail's positions.ignore_invalid_yaml), instead
	// of refusing to start.
	IgnoreInvalid bool
	// Line is the line of promtail_positions in the config file (0 when
	// not set or built in code), for the program's messages.
	Line int
}

// Defaults.
const (
	DefaultDataDir         = "/var/lib/logcapturer"
	DefaultAdminListen     = "127.0.0.1:8401"
	DefaultUnreadyAfter    = Duration(5 * time.Minute)
	DefaultShutdownTimeout = Duration(10 * time.Second)
	DefaultSegmentSize     = 1 * MiB
	DefaultWALMaxBytes     = 2 * GiB
	DefaultDLQMaxBytes     = 512 * MiB
	DefaultDLQMaxAge       = Duration(168 * time.Hour)
	DefaultSyncInterval    = Duration(100 * time.Millisecond)
	DefaultBatchEntries    = 10000
	DefaultBatchBytes      = 1 * MiB
	DefaultBatchWait       = Duration(200 * time.Millisecond)
	DefaultWorkers         = 1
	DefaultMinBackoff      = Duration(500 * time.Millisecond)
	DefaultMaxBackoff      = Duration(5 * time.Minute)
)

// Limits checked by validation.
const (
	MinSegmentSize = 1 * MiB
	MaxSegmentSize = 256 * MiB
	MaxWorkers     = 64
	MaxNameLen     = 64
)

// BufferedSink is implemented by the options of a sink type that holds
// memory of its own besides its batches, given its batch.max_bytes and
// workers (kafka: max_buffered_bytes; loki, otlp, http: RequestBytes); the
// automatic memory limit adds it.
type BufferedSink interface {
	BufferedBytes(batchBytes ByteSize, workers int) ByteSize
}

// RequestBytes is what a sink that encodes each batch into a request body
// of its own (loki, otlp, http) holds besides its batches: per worker,
// the body and its compressed copy (about 2.5 × max_bytes), and room for
// the garbage they make. Measured on 128MiB file → loki receiver with 2
// workers and 1MiB batches (README, Performance): the shipper's CPU falls
// from 1.73 s at a 30MiB limit to 1.00 s at 38MiB and no further above.
func RequestBytes(batchBytes ByteSize, workers int) ByteSize {
	return 4 * batchBytes * ByteSize(workers)
}

// MinMemoryLimit is the smallest memory_limit accepted: the WAL's tail
// segment grows by copying, so about two segments, plus 16MiB.
func MinMemoryLimit(segmentSize ByteSize) ByteSize { return 2*segmentSize + 16*MiB }

// AutoMemoryLimit is the memory limit used when memory_limit is not set:
// two WAL segments (the WAL writer's record and tidwall's copy of it; its
// tail is a third at high rates), 22MiB for the runtime, blocks not yet
// fsynced (2MiB) and the sources' buffers, and per sink twice its
// batch.max_bytes for each batch it holds (workers + 1: a batch decoded,
// and its encoded request) plus what its type buffers (BufferedSink).
// With the defaults and one file sink: 28MiB; one loki sink: 32MiB.
// Measured on 500MiB file → file
// (README, Performance): the CPU the collector and the scavenger cost falls
// steeply from 26MiB to 28MiB and little above.
func (c *Config) AutoMemoryLimit() ByteSize {
	n := 2*c.WAL.SegmentSize + 22*MiB
	for _, s := range c.Sinks {
		n += 2 * s.Batch.MaxBytes * ByteSize(s.Workers+1)
		if b, ok := s.Options.(BufferedSink); ok {
			n += b.BufferedBytes(s.Batch.MaxBytes, s.Workers)
		}
	}
	return n
}

// EffectiveMemoryLimit is MemoryLimit, or AutoMemoryLimit when it is 0.
func (c *Config) EffectiveMemoryLimit() ByteSize {
	if c.MemoryLimit > 0 {
		return c.MemoryLimit
	}
	return c.AutoMemoryLimit()
}

func defaultWAL() WAL {
	return WAL{
		SegmentSize:  DefaultSegmentSize,
		MaxBytes:     DefaultWALMaxBytes,
		Sync:         SyncBatch,
		SyncInterval: DefaultSyncInterval,
		FullPolicy:   FullBlock,
		Compression:  CompressionS2,
	}
}

func defaultSink() Sink {
	return Sink{
		Batch: Batch{
			MaxEntries: DefaultBatchEntries,
			MaxBytes:   DefaultBatchBytes,
			MaxWait:    DefaultBatchWait,
		},
		Workers: DefaultWorkers,
		Retry: Retry{
			MinBackoff: DefaultMinBackoff,
			MaxBackoff: DefaultMaxBackoff,
		},
	}
}

func defaultConfig() Config {
	return Config{
		DataDir:         DefaultDataDir,
		ShutdownTimeout: DefaultShutdownTimeout,
		WAL:             defaultWAL(),
		DLQ:             DLQ{MaxBytes: DefaultDLQMaxBytes, MaxAge: DefaultDLQMaxAge},
		Admin:           Admin{Listen: DefaultAdminListen, UnreadyAfter: DefaultUnreadyAfter},
	}
}
