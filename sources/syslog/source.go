package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
)

// Type is the value of a syslog source's type key.
const Type = "syslog"

// Batching: the batcher cuts a block at blockBytes of lines or
// blockEntries entries, and a block is never held longer than maxWait.
const (
	blockBytes   = 64 << 10
	blockEntries = 4096
	maxWait      = 50 * time.Millisecond
	// readBuffer is a stream connection's buffer while its frames are
	// shorter (it grows for a longer frame, and shrinks after).
	readBuffer = 8 << 10
	// finalFlushTimeout bounds the hand-over of the last block at Close.
	finalFlushTimeout = 5 * time.Second
)

// Options are what New needs.
type Options struct {
	// Name is the source's name: the blocks' Source and the metrics'
	// source label.
	Name string
	// Labels are the source's configured labels: every block's labels.
	// They may not use the names the source sets itself (facility,
	// severity, hostname, app_name, parse_error, sd_*).
	Labels map[string]string
	Config Config
	// Emitter takes the blocks (the pipeline). Required.
	Emitter sources.Emitter
	// Now is the receive-time clock; nil means time.Now.
	Now func() time.Time
	// Stages, when set, runs the entries through the source's
	// pipeline_stages (and relabel hook) in the batcher; the Source owns
	// it from New on and closes it in Close. InternalLabels gives each
	// entry Promtail's __syslog_* labels (for a relabel hook: built only
	// then).
	Stages         *sources.StageRunner
	InternalLabels bool
}

// Source is a syslog listener: a source of type syslog. See the package
// documentation.
type Source struct {
	name    string
	cfg     Config
	logger  *slog.Logger
	m       *metrics
	emitter sources.Emitter
	labels  []wal.Label
	loc     *time.Location
	now     func() time.Time
	// clock makes the receive times of the entries strictly increasing
	// (messages of one read share it; see sources.EntryClock).
	clock    sources.EntryClock
	chunks   chunks
	stages   *sources.StageRunner
	st       *sources.StageStream // the stages' one stream; the batcher's
	internal bool

	ln       net.Listener   // stream protocols
	pc       net.PacketConn // datagram protocols
	sockPath string         // a unixgram socket file to remove at Close

	in chan *chunk // connections -> batcher

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool // no more connections are added

	started   atomic.Bool
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the listener's and connections' goroutines
	done      chan struct{}  // closed when the stopper and batcher are gone
	closeOnce sync.Once

	warned sync.Map // error reason -> true once its first Warn line is written
}

var _ sources.Source = (*Source)(nil)

// New validates the options, loads the TLS files and binds the listener,
// so that an address in use or a bad certificate is an error here, not
// later. Connections wait in the kernel's backlog until Start. logger and
// reg may be nil.
func New(logger *slog.Logger, reg prometheus.Registerer, opts Options) (*Source, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Emitter == nil {
		return nil, errors.New("syslog source: no Emitter")
	}
	cfg := opts.Config
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if bad := badLabels(opts.Labels, cfg); len(bad) > 0 {
		return nil, fmt.Errorf("labels %s are set by the %s source itself", strings.Join(bad, ", "), cfg.kind())
	}
	loc, err := loadLocation(cfg.Location)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.TLS.Server()
	if err != nil {
		return nil, fmt.Errorf("tls_config: %w", err)
	}
	s := &Source{
		name: opts.Name, cfg: cfg, logger: logger.With("source", opts.Name), emitter: opts.Emitter,
		loc: loc, now: opts.Now, in: make(chan *chunk, 4), conns: map[*conn]struct{}{},
		done: make(chan struct{}), stages: opts.Stages, internal: opts.InternalLabels,
	}
	if s.now == nil {
		s.now = time.Now
	}
	for k, v := range opts.Labels {
		s.labels = append(s.labels, wal.Label{Name: k, Value: v})
	}
	slices.SortFunc(s.labels, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	if err := s.listen(tlsCfg); err != nil {
		return nil, err
	}
	if s.m, err = newMetrics(reg, opts.Name); err != nil {
		s.closeListener()
		return nil, err
	}
	return s, nil
}

func (s *Source) listen(tlsCfg *tls.Config) error {
	var err error
	switch s.cfg.ListenProtocol {
	case ProtoTCP:
		s.ln, err = net.Listen("tcp", s.cfg.ListenAddress)
		if err == nil && tlsCfg != nil {
			s.ln = tls.NewListener(s.ln, tlsCfg)
		}
	case ProtoUnix:
		if err = removeStaleSocket(s.cfg.ListenAddress); err == nil {
			s.ln, err = net.Listen("unix", s.cfg.ListenAddress) // the listener unlinks the file when closed
		}
	case ProtoUDP:
		s.pc, err = net.ListenPacket("udp", s.cfg.ListenAddress)
	case ProtoUnixgram:
		if err = removeStaleSocket(s.cfg.ListenAddress); err == nil {
			s.pc, err = net.ListenPacket("unixgram", s.cfg.ListenAddress)
			s.sockPath = s.cfg.ListenAddress
		}
	}
	if err != nil {
		return fmt.Errorf("listen on %s %s: %w", s.cfg.ListenProtocol, s.cfg.ListenAddress, err)
	}
	return nil
}

// removeStaleSocket removes a socket file left by a process that did not
// close its listener; anything else at the path is left alone (the
// listen then fails).
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSocket == 0 {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// badLabels lists, sorted, the configured labels that use a name the
// source of cfg sets itself (a gelf source with promtail_labels: only
// parse_error).
func badLabels(labels map[string]string, cfg Config) []string {
	var bad []string
	for name := range labels {
		gelfOwn := name == LabelParseError || !cfg.PromtailLabels && slices.Contains(gelfOwnLabels, name)
		if cfg.gelf && gelfOwn ||
			!cfg.gelf && (slices.Contains(ownLabels, name) || strings.HasPrefix(name, SDPrefix)) {
			bad = append(bad, name)
		}
	}
	slices.Sort(bad)
	return bad
}

// Name returns the source's configured name.
func (s *Source) Name() string { return s.name }

// Type returns "syslog", or "gelf".
func (s *Source) Type() string { return s.cfg.kind() }

// Addr is the address the source listens on (with the port the system
// chose for a ":0" address).
func (s *Source) Addr() net.Addr {
	if s.ln != nil {
		return s.ln.Addr()
	}
	return s.pc.LocalAddr()
}

// Start starts the listener's goroutine, the batcher and the stopper, and
// returns at once. They stop when ctx is done or Close is called. A second
// call is an error.
func (s *Source) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%s source: started twice", s.cfg.kind())
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("%s source: closed", s.cfg.kind())
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	if s.ln != nil {
		go s.accept(ctx)
	} else {
		go s.readPackets(ctx)
	}
	batcherDone := make(chan struct{})
	go func() { // the batcher
		defer close(batcherDone)
		s.batch(ctx)
	}()
	go func() { // the stopper
		defer close(s.done)
		<-ctx.Done()
		s.closeListener()
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		close(s.in) // every sender is gone: the batcher drains and ends
		<-batcherDone
	}()
	if s.cfg.gelf {
		s.logger.Info("listening for GELF", "protocol", s.cfg.ListenProtocol, "address", s.Addr().String())
	} else {
		s.logger.Info("listening for syslog", "protocol", s.cfg.ListenProtocol, "address", s.Addr().String(),
			"tls", s.cfg.TLS.Enabled(), "format", s.cfg.SyslogFormat)
	}
	return nil
}

func (s *Source) closeListener() {
	if s.ln != nil {
		s.ln.Close()
	}
	if s.pc != nil {
		s.pc.Close()
		if s.sockPath != "" {
			os.Remove(s.sockPath)
		}
	}
}

// Close stops the listener and every connection, hands the messages
// already parsed to the Emitter (waiting at most finalFlushTimeout), and
// waits for every goroutine. Safe to call twice and before Start.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		if s.stages != nil {
			s.stages.Stop() // a limit stage's wait ends
			defer s.stages.Close()
		}
		if s.started.Load() && s.cancel != nil {
			s.cancel()
			<-s.done
		} else {
			s.mu.Lock()
			s.closed = true
			s.mu.Unlock()
			s.closeListener()
		}
		s.m.set.Unregister()
	})
	return nil
}

// warn logs the first error of a reason at Warn and the later ones at
// Debug: a client that keeps failing writes no line per connection.
func (s *Source) warn(reason, msg string, args ...any) {
	if _, seen := s.warned.LoadOrStore(reason, true); seen {
		s.logger.Debug(msg, args...)
		return
	}
	s.logger.Warn(msg+" (later ones of this kind at debug level; see logcapturer_source_errors_total)", args...)
}
