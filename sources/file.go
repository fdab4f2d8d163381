package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/sources/kubepods"
	"github.com/logcapturer/logcapturer/wal"
)

// File tails the files matching a set of globs: plain, Docker json-file or
// CRI logs (FileOptions.Type). It reads with one
// goroutine (plus fsnotify's) and one read buffer, whatever the number of
// files. See the package documentation for its lifecycle.
//
// Name, Start and Close are safe for concurrent use.
type File struct {
	opts    FileOptions
	log     *slog.Logger
	metrics *metrics
	// labels are the configured stream labels, sorted.
	labels []wal.Label
	// multiline is the compiled MultilineOptions.Start (nil: off).
	multiline *regexp.Regexp
	// stamp parses entry times (nil: off).
	stamp *stamper
	// codec converts lines to UTF-8 (FileOptions.Encoding; nil: none).
	codec *lineCodec
	// run runs the pipeline_stages (nil: none); the tailer's goroutine
	// owns it.
	run *StageRunner
	// open opens a file for reading: FileOptions.Open, or openRegular.
	open func(path string) (*os.File, error)
	// scans counts completed glob scans (tests wait on it).
	scans atomic.Int64
	// board is what Files reports, written by the tailer (status.go).
	board statusBoard
	// kube lists the node's pods (type kubernetes; nil otherwise). Start
	// starts it, Close stops it.
	kube *kubepods.Discovery
	// kubeListed has a value after each good list of kube: the tailer
	// rescans then.
	kubeListed chan struct{}

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
	opts.SetDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("file source %q: %w", opts.Name, err)
	}
	var ml *regexp.Regexp
	if opts.Multiline.Enabled() {
		ml = regexp.MustCompile(opts.Multiline.Start) // validated
	}
	stamp, err := newStamper(opts.Timestamp)
	if err != nil {
		return nil, fmt.Errorf("file source %q: %w", opts.Name, err)
	}
	codec, err := parseEncoding(opts.Encoding) // validated
	if err != nil {
		return nil, fmt.Errorf("file source %q: encoding: %w", opts.Name, err)
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
	opts.Cursors = maps.Clone(opts.Cursors)

	labels := make([]wal.Label, 0, len(opts.Labels))
	for k, v := range opts.Labels {
		labels = append(labels, wal.Label{Name: k, Value: v})
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name })

	m, err := newMetrics(reg, opts.Name, opts.Kubernetes != nil)
	if err != nil {
		return nil, err
	}
	var kube *kubepods.Discovery
	listed := make(chan struct{}, 1)
	if opts.Kubernetes != nil {
		conds := opts.Conditions
		kube, err = kubepods.New(logger.With("source", opts.Name), opts.Kubernetes.Discovery, kubepods.Hooks{
			Listed: func(pods int, err error) {
				if err != nil { // of one namespace or all
					m.error(reasonKubernetes)
				}
				m.kubePods.Set(float64(pods))
				select { // the tailer decides about waiting files at once
				case listed <- struct{}{}:
				default:
				}
			},
			Failing: func(on bool, detail string) {
				if conds != nil {
					conds.SetSourceCondition(opts.Name, ConditionStalled, on, detail)
				}
			},
			CacheFailed: func() { m.error(reasonKubeCache) },
		})
		if err != nil {
			m.unregister()
			return nil, fmt.Errorf("kubernetes source %q: %w", opts.Name, err)
		}
		m.kubePods.Set(float64(kube.Pods())) // the kept list's, until the first list

	}
	open := opts.Open
	if open == nil {
		open = openRegular
	}
	var run *StageRunner
	if opts.staged() {
		run, err = NewStageRunner(Deps{Logger: logger, Registerer: reg, Name: opts.Name, PipelineStages: opts.Stages,
			Conditions: opts.Conditions}, StageOptions{MaxStreams: opts.MaxStreams, Relabel: opts.Relabel})
		if err != nil {
			m.unregister()
			if kube != nil {
				kube.Close()
			}
			return nil, fmt.Errorf("file source %q: %w", opts.Name, err)
		}
	}
	return &File{
		kube:       kube,
		kubeListed: listed,
		run:        run,
		opts:       opts,
		log:        logger.With("source", opts.Name),
		metrics:    m,
		labels:     labels,
		multiline:  ml,
		stamp:      stamp,
		codec:      codec,
		open:       open,
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
	if f.kube != nil {
		f.kube.Start(ctx)
	}
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
	if f.run != nil {
		f.run.Stop() // ends a limit stage's wait
	}
	f.wg.Wait()
	if f.kube != nil {
		f.kube.Close()
	}
	if f.run != nil {
		f.run.Close()
	}
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
