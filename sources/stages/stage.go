package stages

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Entry is one log entry passing through the stages, with Promtail's
// parts: labels, the extracted map, the timestamp and the line, plus
// structured metadata.
type Entry struct {
	// Seq is the source's sequence number of the entry's first line. A
	// stage that joins entries keeps the first one's.
	Seq uint64
	// Time is the entry's timestamp (UTC). The source sets it before the
	// first stage (the read time, or the time the record carries).
	Time time.Time
	// Line is the log line.
	Line string
	// Labels is the entry's label set. The source's configured labels are
	// in it when the first stage runs. TenantLabel ("__tenant_id__") is the
	// tenant.
	Labels map[string]string
	// Extracted is Promtail's extracted map. Before the first stage (and
	// at the start of every nested match pipeline, as Promtail does) it
	// holds a copy of the labels.
	Extracted map[string]any
	// Metadata is the structured metadata.
	Metadata map[string]string
}

// TenantLabel is the reserved label the tenant stage sets (wal.TenantLabel).
const TenantLabel = "__tenant_id__"

// Stage is one configured stage.
type Stage interface {
	// Process runs the stage on e and hands on what it keeps by calling
	// next: once for an ordinary stage, never for an entry it drops, and
	// later (from Process or Tick) for entries it holds. next must be
	// called in Seq order. e and its maps belong to the caller once next
	// has returned: a stage that keeps an entry copies it.
	Process(e *Entry, next func(*Entry))
}

// Holder is a Stage that can hold entries back (multiline).
type Holder interface {
	Stage
	// Tick hands on the entries whose time to be released has come (by
	// now), in Seq order.
	Tick(now time.Time, next func(*Entry))
	// Held returns the smallest Seq of the entries the stage holds.
	Held() (seq uint64, ok bool)
	// Flush hands on every entry the stage holds (the file is gone, the
	// source stops).
	Flush(next func(*Entry))
}

// Env is what a stage gets from its source when it is built.
type Env struct {
	// Source is the source's name (the source label of the metrics).
	Source string
	// Location is the zone of timestamps without one (default: time.Local).
	Location *time.Location
	// Now returns the current time (time.Now in production).
	Now func() time.Time
	// Registerer is where the metrics stage registers its series; nil: none.
	Registerer prometheus.Registerer
	// Logger is for what a stage must say once (never per entry).
	Logger *slog.Logger
	// Dropped counts an entry a stage dropped, by Promtail's
	// drop_counter_reason values ("drop_stage", "limit_stage", ...).
	Dropped func(reason string)
	// Failed counts a stage's failure on an entry that is passed on
	// unchanged (a line that is not JSON, a timestamp that does not parse),
	// by stage name and reason.
	Failed func(stage, reason string)
	// NoFiles makes Parse check the options of a stage that reads a file
	// (geoip's db) without opening the file: for a configuration checked
	// without its files, or converted for another machine. Such a stage
	// then passes entries on unchanged.
	NoFiles bool
}
