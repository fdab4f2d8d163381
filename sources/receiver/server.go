package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/sources"
)

// Server is the HTTP(S) listener of a push receiver: it serves the
// endpoints a type registered (Handle, HandleFunc), and for each push it
// checks credentials and sizes, decompresses the body, has the type decode
// it into records, emits them with completions and answers once every
// record is durable. See the package documentation.
type Server struct {
	opts     Options
	log      *slog.Logger
	m        *metrics
	auth     *authenticator
	inflight *sources.Inflight
	fuller   sources.WALFuller
	mux      *http.ServeMux
	slots    chan struct{} // bounds the requests reading and decoding at once
	clients  clients

	mu       sync.Mutex
	started  bool
	closed   bool
	srv      *http.Server
	addr     net.Addr
	stop     chan struct{}      // closed by Close: ends the ctx watcher
	cancel   context.CancelFunc // cancels every request's context
	wg       sync.WaitGroup     // Serve and the ctx watcher
	handlers sync.WaitGroup     // requests in progress
	// handlersMu orders a request's handlers.Add before Close's Wait:
	// after srv.Close a connection's goroutine may still be about to
	// serve a request. noMore: Close waits, no request is served.
	handlersMu sync.Mutex
	noMore     bool

	stageMu sync.Mutex // the requests take turns in Options.Stages
}

// New returns a Server, not listening yet. opts.Emitter is required.
// logger and reg may be nil (no logs, no metrics).
func New(logger *slog.Logger, reg prometheus.Registerer, opts Options) (_ *Server, err error) {
	if logger != nil {
		opts.Logger = logger
	}
	opts.setDefaults()
	if opts.Stages != nil {
		defer func() {
			if err != nil {
				opts.Stages.Close()
			}
		}()
	}
	if opts.Emitter == nil {
		return nil, errors.New("receiver: no emitter")
	}
	if opts.ListenAddress == "" {
		return nil, errors.New("receiver: no listen address")
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		auth:     &authenticator{a: opts.Auth},
		inflight: sources.NewInflight(opts.MaxInflightBytes),
		mux:      http.NewServeMux(),
		slots:    make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		stop:     make(chan struct{}),
	}
	s.clients.init()
	if f, ok := opts.Emitter.(sources.WALFuller); ok {
		s.fuller = f
	}
	if s.m, err = newMetrics(reg, opts.Name, s.inflight); err != nil {
		return nil, err
	}
	return s, nil
}

// Handle serves pushes at pattern (a net/http ServeMux pattern with its
// method, e.g. "POST /loki/api/v1/push") through ep. Call it before Start.
func (s *Server) Handle(pattern string, ep Endpoint) {
	s.mux.Handle(pattern, &pushHandler{s: s, ep: ep})
}

// HandleFunc serves a plain endpoint (GET /ready, say): no credentials
// asked, no metrics. Call it before Start.
func (s *Server) HandleFunc(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// Start listens on the address (an error if it cannot: the port is taken)
// and serves in a goroutine until ctx ends or Close is called. It may be
// called once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("receiver: started twice or closed")
	}
	s.started = true
	tlsCfg, err := s.opts.TLS.Server()
	if err != nil {
		return fmt.Errorf("listen on %s: tls: %w", s.opts.ListenAddress, err)
	}
	ln, err := net.Listen("tcp", s.opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.ListenAddress, err)
	}
	s.addr = ln.Addr()
	base, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.srv = &http.Server{
		Handler:           s.mux,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("push receiver listening", "source", s.opts.Name, "type", s.opts.Type, "address", s.describeAddr(),
		"auth", s.opts.Auth.Enabled(), "max_inflight_bytes", s.opts.MaxInflightBytes, "max_request_bytes", s.opts.MaxRequestBytes)
	srv := s.srv
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		var err error
		if tlsCfg != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("push receiver stopped serving", "source", s.opts.Name, "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			s.shutdown()
		case <-s.stop:
		}
	}()
	return nil
}

func (s *Server) describeAddr() string {
	scheme := "http"
	if s.opts.TLS.Enabled() {
		scheme = "https"
	}
	return scheme + "://" + s.addr.String()
}

// Addr is the address listened on (the port chosen for ":0"); nil before
// Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops listening, lets the requests in progress finish for up to
// ShutdownTimeout (each still waits for its records' completions), then
// cancels the rest (their clients get no answer and send again), and
// waits for every goroutine and handler. The records already emitted stay
// with the pipeline. Idempotent; safe before Start.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	if s.opts.Stages != nil {
		s.opts.Stages.Stop() // a limit stage waiting for a token lets its request go
	}
	s.shutdown()
	s.wg.Wait()
	s.handlersMu.Lock()
	s.noMore = true
	s.handlersMu.Unlock()
	s.handlers.Wait()
	if s.opts.Stages != nil {
		s.opts.Stages.Close()
	}
	s.m.set.Unregister()
	return nil
}

// enter counts a request in progress; false once Close waits for them.
func (s *Server) enter() bool {
	s.handlersMu.Lock()
	defer s.handlersMu.Unlock()
	if s.noMore {
		return false
	}
	s.handlers.Add(1)
	return true
}

// shutdown stops the server (from Close or when Start's ctx ends); a
// second call waits for nothing more.
func (s *Server) shutdown() {
	s.mu.Lock()
	srv, cancel := s.srv, s.cancel
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer stop()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close() // connections closed first: a cancelled request's answer reaches nobody
	}
	cancel()
	s.log.Info("push receiver stopped", "source", s.opts.Name, "address", s.addr.String())
}

// Inflight is the bytes bound the server acquires pushes against.
func (s *Server) Inflight() *sources.Inflight { return s.inflight }

// Status is what the sources view shows: address, bytes in flight, last
// push and the recent clients. Safe for concurrent use.
func (s *Server) Status() sources.PushStatus {
	st := s.clients.status()
	if a := s.Addr(); a != nil {
		st.Listen = a.String()
	}
	st.InflightBytes, st.MaxInflightBytes = s.inflight.Used(), s.inflight.Max()
	return st
}
