package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/wal"
)

// Defaults of FileOptions.
const (
	DefaultBlockBytes   = 64 << 10
	DefaultMaxLineBytes = 256 << 10
	DefaultPollInterval = time.Second
)

// StartAt values.
const (
	StartAtBeginning = "beginning"
	StartAtEnd       = "end"
)

// filenameLabel is the stream label the file source adds to every block.
const filenameLabel = "filename"

// FileOptions configure a File source.
type FileOptions struct {
	// Name names the source; it is stored in every block and labels its
	// metrics. Required.
	Name string
	// Paths are the globs (filepath.Match syntax) of the files to tail.
	// They are cleaned (filepath.Clean); matches are reported as the glob
	// spells them (relative globs give relative paths).
	Paths []string
	// Exclude are globs matched against both the base name and the full
	// path of each match; a file matching any of them is not tailed.
	Exclude []string
	// StartAt is "beginning" (default) or "end". It applies only to files
	// present at startup that have no stored position; files that appear
	// later are always read from their beginning.
	StartAt string
	// Labels are the stream labels of every block. The source adds
	// filename=<path>; "filename" is reserved.
	Labels map[string]string
	// MaxLineBytes caps an entry: longer lines are emitted as chunks of
	// this size. Default DefaultMaxLineBytes.
	MaxLineBytes int
	// BlockBytes is the target number of line bytes per block. Default
	// DefaultBlockBytes.
	BlockBytes int
	// PollInterval is the period of the glob rescan that catches what
	// inotify missed. It is also the grace period a rotated or deleted file
	// is kept open for after its last read. Default DefaultPollInterval.
	PollInterval time.Duration
	// Positions are the positions recovered from the WAL, FileID -> offset.
	// A stored position always wins over StartAt. The map is copied.
	Positions map[string]int64
	// Emitter receives the records. Required.
	Emitter Emitter
	// Now is the clock of entry times (nil: time.Now). It is read once per
	// block and converted to UTC.
	Now func() time.Time
}

func (o *FileOptions) setDefaults() {
	if o.StartAt == "" {
		o.StartAt = StartAtBeginning
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.BlockBytes <= 0 {
		o.BlockBytes = DefaultBlockBytes
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func (o *FileOptions) validate() error {
	if o.Name == "" {
		return errors.New("name is required")
	}
	if len(o.Paths) == 0 {
		return errors.New("paths: at least one glob is required")
	}
	for _, p := range o.Paths {
		if p == "" {
			return errors.New("paths: empty glob")
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("paths: %q: %w", p, err)
		}
	}
	for _, p := range o.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("exclude: %q: %w", p, err)
		}
	}
	if o.StartAt != StartAtBeginning && o.StartAt != StartAtEnd {
		return fmt.Errorf("start_at: %q: want %q or %q", o.StartAt, StartAtBeginning, StartAtEnd)
	}
	for k := range o.Labels {
		if k == "" {
			return errors.New("labels: empty label name")
		}
		if k == filenameLabel {
			return fmt.Errorf("labels: %q is reserved: the source sets it", filenameLabel)
		}
	}
	if o.Emitter == nil {
		return errors.New("emitter is required")
	}
	return nil
}

// File tails the plain files matching a set of globs. It reads with one
// goroutine (plus fsnotify's) and one read buffer, whatever the number of
// files. See the package documentation for its lifecycle.
//
// Name, Start and Close are safe for concurrent use.
type File struct {
	opts    FileOptions
	log     *slog.Logger
	metrics *metrics
	// labels are the sorted stream labels with a slot, at labels[fnSlot],
	// for the filename.
	labels []wal.Label
	fnSlot int
	// open opens a file for reading: a seam for fault injection in tests.
	open func(path string) (*os.File, error)
	// scans counts completed glob scans (tests wait on it).
	scans atomic.Int64

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

var _ Source = (*File)(nil)

// errClosed is returned by Start after Close.
var errClosed = errors.New("source is closed")

// NewFile validates opts and returns a File source, not started. A nil
// logger discards logs; a nil reg registers no metrics. Metrics are
// registered with a source=<Name> label, so sources share metric names; two
// sources with the same name on one registry are an error.
func NewFile(logger *slog.Logger, reg prometheus.Registerer, opts FileOptions) (*File, error) {
	opts.Paths = append([]string(nil), opts.Paths...)
	opts.Exclude = append([]string(nil), opts.Exclude...)
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("file source %q: %w", opts.Name, err)
	}
	for i, p := range opts.Paths {
		opts.Paths[i] = filepath.Clean(p)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	positions := make(map[string]int64, len(opts.Positions))
	for id, off := range opts.Positions {
		positions[id] = off
	}
	opts.Positions = positions

	labels := make([]wal.Label, 0, len(opts.Labels)+1)
	for k, v := range opts.Labels {
		labels = append(labels, wal.Label{Name: k, Value: v})
	}
	labels = append(labels, wal.Label{Name: filenameLabel})
	sort.Slice(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name })
	fnSlot := sort.Search(len(labels), func(i int) bool { return labels[i].Name >= filenameLabel })

	m, err := newMetrics(reg, opts.Name)
	if err != nil {
		return nil, err
	}
	return &File{
		opts:    opts,
		log:     logger.With("source", opts.Name),
		metrics: m,
		labels:  labels,
		fnSlot:  fnSlot,
		open:    openRegular,
	}, nil
}

// Name returns the source's name.
func (f *File) Name() string { return f.opts.Name }

// Start starts the tailing goroutine and returns at once. It fails after
// Close or when called twice. If no inotify watcher can be created (the
// per-user instance limit is low) the source runs on the rescan alone and
// says so in a Warn.
func (f *File) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return fmt.Errorf("start file source %q: %w", f.opts.Name, errClosed)
	case f.started:
		return fmt.Errorf("start file source %q: already started", f.opts.Name)
	}
	f.started = true
	w, err := fsnotify.NewWatcher()
	if err != nil {
		f.metrics.error(reasonWatch)
		f.log.Warn("cannot create a file watcher; new lines will be seen only at each rescan",
			"poll_interval", f.opts.PollInterval, "err", err)
		w = nil
	}
	ctx, f.cancel = context.WithCancel(ctx)
	t := newTailer(f, w)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		t.run(ctx)
	}()
	return nil
}

// Close stops the source, waits for its goroutines, closes its files and
// unregisters its metrics. A pending Emit is cancelled. It is safe to call
// twice; it always returns nil.
func (f *File) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	if f.cancel != nil {
		f.cancel()
	}
	f.mu.Unlock()
	f.wg.Wait()
	f.metrics.unregister()
	return nil
}

// openRegular opens path for reading without ever blocking: O_NONBLOCK
// makes opening a FIFO that replaced a regular file since it was stat'ed
// return at once (the caller then rejects it by its mode); it changes
// nothing for regular files.
func openRegular(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscallNonblock, 0)
}
