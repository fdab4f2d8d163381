package journald

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/sources"
)

// Type is the value of a source's type key.
const Type = "journald"

// FileID is the wal.Position.FileID of every block of a journald source:
// a source reads one journal, and its position is the Cursor.
const FileID = "journal"

// Defaults of Params' timings.
const (
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultHealthyAfter = 10 * time.Second
)

// Params are what a journald source gets besides its Options.
type Params struct {
	// Name is the source's name.
	Name string
	// Labels are the configured stream labels (every block's labels).
	Labels map[string]string
	// Cursor is the position recovered from the WAL: the cursor of the
	// last entry of the newest durable block; "" for a journal never read.
	Cursor string
	// Stages, when set, runs the entries through the source's
	// pipeline_stages (and relabel hook); the Source owns it from New on
	// and closes it in Close. InternalLabels gives each entry Promtail's
	// __journal_<field> labels (for a relabel hook: built only then).
	Stages         *sources.StageRunner
	InternalLabels bool
	// Emitter receives the blocks (required).
	Emitter sources.Emitter
	// Conditions receives ConditionStalled while journalctl is down; nil:
	// not reported.
	Conditions sources.ConditionSetter
	// Now is the clock for since: now and max_age (default time.Now).
	// Entry times come from the journal, never from it.
	Now func() time.Time
	// MinBackoff and MaxBackoff bound the wait before journalctl is
	// started again (doubling from the first to the second);
	// HealthyAfter is how long a restarted journalctl must run (or the
	// first entry it must deliver) for the source to be up again and the
	// backoff to start over. Zero: the defaults.
	MinBackoff, MaxBackoff, HealthyAfter time.Duration
}

// Source reads the systemd journal through a supervised journalctl child
// (see the package documentation). Name, Type, Files, Start and Close are
// safe for concurrent use.
type Source struct {
	opts    Options
	p       Params
	log     *slog.Logger
	metrics *metrics
	fmt     *formatter
	// matches are journalctl's match arguments.
	matches []string
	// where is the Path of the status and the blocks' positions.
	where string

	status struct {
		sync.Mutex
		up         bool
		cursor     string
		cursorTime time.Time
		err        string
		since      time.Time
	}

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

var (
	_ sources.Source = (*Source)(nil)
	// errClosed is returned by Start after Close.
	errClosed = errors.New("source is closed")
)

// New checks opts and returns a source, not started. A nil logger
// discards logs; a nil reg registers no metrics (metrics carry a
// source=NAME label; two sources of one name on a registry are an error).
func New(logger *slog.Logger, reg prometheus.Registerer, opts Options, p Params) (*Source, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("journald source %q: %w", p.Name, err)
	}
	if p.Emitter == nil {
		return nil, fmt.Errorf("journald source %q: no emitter", p.Name)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = DefaultMinBackoff
	}
	if p.MaxBackoff < p.MinBackoff {
		p.MaxBackoff = max(DefaultMaxBackoff, p.MinBackoff)
	}
	if p.HealthyAfter <= 0 {
		p.HealthyAfter = DefaultHealthyAfter
	}
	matches, _ := parseMatches(opts.Matches) // checked
	m, err := newMetrics(reg, p.Name)
	if err != nil {
		return nil, err
	}
	s := &Source{
		opts:    opts,
		p:       p,
		log:     logger.With("source", p.Name),
		metrics: m,
		fmt:     newFormatter(&opts, p.Labels),
		matches: matches,
		where:   where(&opts),
	}
	s.status.cursor, s.status.up = p.Cursor, true
	return s, nil
}

// where names the journal read, for the status and the blocks' Path.
func where(o *Options) string {
	switch {
	case o.Path != "":
		return o.Path
	case len(o.Files) > 0:
		return o.Files[0]
	case o.Root != "":
		return o.Root
	}
	return "journal"
}

// Name returns the source's name.
func (s *Source) Name() string { return s.p.Name }

// Type returns "journald".
func (s *Source) Type() string { return Type }

// Start starts the source's goroutine, which runs journalctl, and returns
// at once. It fails after Close or when called twice.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("start journald source %q: %w", s.p.Name, errClosed)
	case s.started:
		return fmt.Errorf("start journald source %q: already started", s.p.Name)
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	r := newRunner(s)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run(ctx)
	}()
	return nil
}

// Close stops journalctl and the source's goroutine, waits for both, and
// unregisters the metrics. A pending Emit is cancelled. It is safe to call
// twice and before Start; it always returns nil.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	if s.p.Stages != nil {
		s.p.Stages.Stop() // a limit stage's wait ends
	}
	s.wg.Wait()
	if s.p.Stages != nil {
		s.p.Stages.Close()
	}
	s.metrics.set.Unregister()
	return nil
}

// Files returns the source's one status row: the journal it reads, open
// while journalctl runs and unreadable (with the reason and since when)
// while it is down, and the cursor of the last entry handed to the WAL
// with its time. It never waits for I/O.
func (s *Source) Files() []sources.FileStatus {
	s.status.Lock()
	defer s.status.Unlock()
	fs := sources.FileStatus{Path: s.where, FileID: FileID, State: sources.FileOpen, Cursor: s.status.cursor}
	if !s.status.cursorTime.IsZero() {
		t := s.status.cursorTime
		fs.CursorTime = &t
	}
	if !s.status.up {
		fs.State = sources.FileUnreadable
		fs.Error = s.status.err
		if !s.status.since.IsZero() {
			t := s.status.since
			fs.Since = &t
		}
	}
	return []sources.FileStatus{fs}
}
