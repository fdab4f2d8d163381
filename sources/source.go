package sources

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/wal"
)

// Record is one encoded WAL block handed to the ingest stage.
type Record struct {
	// Source is the name of the source that read the block.
	Source string
	// Position is the position reached after the block. It is the same
	// position that is encoded inside Data.
	Position wal.Position
	// Entries is the number of entries in the block.
	Entries int
	// Bytes is the number of line bytes in the block (newlines excluded).
	Bytes int
	// Data is the wal.EncodeBlock output. Ownership passes to the Emitter,
	// whether Emit succeeds or not: the source never touches it again (the
	// pipeline may hand it back to BlockBuffer's pool once it compressed
	// it, wal.CompressBlock).
	Data []byte
	// Done, when set, is the record's completion, for a source that has no
	// position to read again from (a push receiver): once Emit has returned
	// nil, the pipeline calls it exactly once, with nil after the fsync
	// covering the record has returned (with wal.sync none: once it is
	// appended), or with the reason the record will never be durable: the
	// WAL append or the fsync covering it failed (the pipeline does not
	// append such a record again; the client is to retry), or the
	// pipeline closed first. When Emit returns an error Done is never
	// called. Done runs on a pipeline goroutine: it must not block (close a
	// channel, count down an Acks). Nil for sources with positions, which
	// need no completion: their position is durable with the block.
	Done func(err error)
}

// HasPosition reports whether the record carries a position the pipeline
// must keep for a restart: a file's identity or a cursor. A push record
// has none, and creates no position.
func (r *Record) HasPosition() bool { return r.Position.FileID != "" || r.Position.Cursor != "" }

// Emitter receives the records of a source. It is implemented by the
// pipeline's ingest stage.
//
// Emit blocks while the WAL is behind (backpressure) and returns ctx.Err()
// when ctx is done. A source calls Emit from one goroutine at a time, in
// the order it read the blocks; an Emitter shared by several sources must be
// safe for concurrent use. When Emit returns nil the record is accepted and
// the source moves its position past it; when it returns an error the source
// will read the same bytes again later. A record with a Done is completed
// as Record.Done says.
type Emitter interface {
	Emit(ctx context.Context, rec Record) error
}

// Opener is what the options of every source type (config.SourceConfig)
// implement: open the source they describe, not started. cmd opens every
// configured source through it.
type Opener interface {
	Open(deps Deps) (Source, error)
}

// Deps is what the program hands a source it opens: its common keys from
// the config and what it needs of the pipeline.
type Deps struct {
	// Logger and Registerer: nil discards logs, registers no metrics.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Name, Labels and PipelineStages are the common keys of the source's
	// entry (config.Source); PipelineStages is nil when not set.
	Name           string
	Labels         map[string]string
	PipelineStages *yaml.Node
	// MaxStreams is the source's max_streams (0: DefaultMaxStreams), for
	// its StageRunner.
	MaxStreams int
	// Relabel, when set, is the source's relabel hook (Promtail's
	// relabel_configs; StageOptions.Relabel): it sees each entry's labels
	// with the source's internal "__" labels (journald __journal_*,
	// syslog __syslog_*, loki_push the pushed labels), which a source
	// builds only when it is set.
	Relabel func(lbls map[string]string) (keep bool)
	// RelabelConfigs are the rules Relabel runs, for a source that runs
	// them otherwise (a kubernetes source: once per file).
	RelabelConfigs []*relabel.Config
	// Positions are the source's positions recovered from the WAL, by
	// Position.FileID: file offsets for files, Position.Cursor for a source
	// positioned by cursor (journald; FileID is then whatever that source
	// put there, usually ""). Empty for a push receiver, which has none.
	Positions map[string]wal.Position
	// Emitter receives the records; Conditions the source's lasting
	// conditions (may be nil).
	Emitter    Emitter
	Conditions ConditionSetter
	// DataDir is the data directory, where a source may keep files of
	// its own (a kubernetes source's pod list, under kubernetes/); ""
	// keeps none.
	DataDir string
}

// Source is one configured input. See the package documentation for the
// contract.
type Source interface {
	// Name returns the source's configured name.
	Name() string
	// Start starts the source's goroutine(s) and returns at once. The
	// goroutines stop when ctx is done or Close is called. Start may be
	// called once.
	Start(ctx context.Context) error
	// Close stops the source and waits for every goroutine it started. It
	// is safe to call twice and before Start.
	Close() error
}

// ConditionUnreadable is the condition a File source reports (see
// ConditionSetter) while it has matched files and can read none of them:
// every one fails to open or to read (permission denied, say).
const ConditionUnreadable = "source_unreadable"

// ConditionStalled is the condition a source reports while it cannot read
// at all for a reason of its own (a journald source's journalctl is down,
// waiting to be restarted). The pipeline raises the same reason while a
// source waits too long in Emit.
const ConditionStalled = "source_stalled"

// ConditionSetter receives the lasting conditions a source reports about
// itself, such as ConditionUnreadable: the pipeline shows them as
// readiness reasons of component source/NAME. A source calls it from its
// own goroutine, only when a condition starts, ends or its detail changes,
// never per retry. It must not block on I/O and must be safe for
// concurrent use (sources share it). A source does not clear its
// conditions when it is closed: the pipeline that shows them is closed
// with it.
type ConditionSetter interface {
	SetSourceCondition(source, reason string, on bool, detail string)
}
