package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures a Server.
type Options struct {
	// Listen is host:port (port 0 picks a free one).
	Listen string
	// Pipeline is what the API shows and acts on.
	Pipeline *pipeline.Pipeline
	// Gatherer serves /metrics.
	Gatherer prometheus.Gatherer
	// Token is the bearer token of the mutating endpoints and of the
	// endpoints that return log lines (WAL entries, a dead letter's
	// entries), and of every endpoint but the health ones on a
	// non-loopback address; "" means none is configured: mutating
	// endpoints answer 403 and, on loopback, the reads are open.
	Token string
	// PProf serves /debug/pprof/.
	PProf bool
	// Version is reported by the status.
	Version string
	// Refresh is how often the status page reloads itself (default 5s).
	Refresh time.Duration
	// Reload serves POST /-/reload (behind the token): it checks the
	// config file and, if it is good and changes something, has the
	// running config replaced once this request is answered (the reload
	// restarts this server too); if it changes nothing, it reopens the
	// output files before it returns. It returns what will change or
	// what was reopened, or the check's error, whose lines are the
	// problems. Nil: the endpoint answers 501.
	Reload func(ctx context.Context) (ReloadResult, error)
}

// ReloadResult is what a good config file does to the running config.
type ReloadResult struct {
	// Changes is what the reload changes; none means nothing does.
	Changes []string
	// Reopened names the sinks whose output files were reopened, when
	// nothing changes.
	Reopened []string
	// ReopenError is set when reopening an output file failed (the config
	// is unchanged and kept).
	ReopenError error
}

// Server is the admin HTTP server: health, the API under /api/v1, the
// status page and, when enabled, pprof.
type Server struct {
	logger    *slog.Logger
	opts      Options
	p         *pipeline.Pipeline
	open      bool            // loopback: read endpoints need no token, Host is checked
	hosts     map[string]bool // on loopback: the Host names accepted (checkHost)
	tokenHash [sha256.Size]byte
	srv       *http.Server
	ln        net.Listener
	mux       *http.ServeMux
	wg        sync.WaitGroup
	once      sync.Once
}

// ErrNoToken is returned (wrapped) by New for a non-loopback address
// without a token.
var ErrNoToken = errors.New("no admin token configured")

// New checks the options and binds the listener at once, so a port in use
// or a public address without a token fails here with a clear error; it
// serves once Start is called. A nil logger discards.
func New(logger *slog.Logger, opts Options) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Pipeline == nil {
		return nil, errors.New("admin server: no pipeline")
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 5 * time.Second
	}
	open := isLoopback(opts.Listen)
	if !open && opts.Token == "" {
		return nil, fmt.Errorf("admin.listen %s is not a loopback address and the admin API can reveal log contents: "+
			"set admin.token_file (a file holding the bearer token) or listen on 127.0.0.1: %w", opts.Listen, ErrNoToken)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin listen %s: %w", opts.Listen, err)
	}
	s := &Server{logger: logger, opts: opts, p: opts.Pipeline, open: open, ln: ln, mux: http.NewServeMux()}
	if open {
		s.hosts = allowedHosts(opts.Listen, ln.Addr())
	}
	s.tokenHash = sha256.Sum256([]byte(opts.Token))
	s.routes()
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	return s, nil
}

// isLoopback reports whether a listen address accepts only local
// connections: localhost or a loopback IP. An empty host is every
// interface.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) routes() {
	m := s.mux
	pipeline.HealthHandlers(m, s.logger, s.opts.Gatherer, s.p.Readiness)
	read := func(h http.HandlerFunc) http.HandlerFunc {
		if s.open {
			return h
		}
		return s.auth(h)
	}
	// Log lines: behind the token whenever one is configured, on loopback
	// too (any local process, or a page the operator visits, can reach
	// loopback).
	content := func(h http.HandlerFunc) http.HandlerFunc {
		if s.open && s.opts.Token == "" {
			return h
		}
		return s.auth(h)
	}
	m.HandleFunc("GET /{$}", read(s.page))
	m.HandleFunc("GET /api/v1/status", read(s.status))
	m.HandleFunc("GET /api/v1/sinks", read(s.sinks))
	m.HandleFunc("GET /api/v1/sinks/{name}", read(s.sink))
	m.HandleFunc("POST /api/v1/sinks/{name}/rewind", s.auth(s.rewind))
	m.HandleFunc("GET /api/v1/sources", read(s.sources))
	m.HandleFunc("GET /api/v1/dlq", read(s.dlq))
	m.HandleFunc("GET /api/v1/dlq/{sink}/{from}", content(s.dlqEntry))
	m.HandleFunc("POST /api/v1/dlq/{sink}/{from}/replay", s.auth(s.dlqReplay))
	m.HandleFunc("POST /api/v1/dlq/{sink}/replay", s.auth(s.dlqReplayAll))
	m.HandleFunc("DELETE /api/v1/dlq/{sink}/{from}", s.auth(s.dlqPurge))
	m.HandleFunc("GET /api/v1/wal/entries", content(s.walEntries))
	m.HandleFunc("/api/", s.noRoute)
	m.HandleFunc("POST /-/reload", s.auth(s.reload))
	m.HandleFunc("/-/reload", s.noRoute)
	if s.opts.PProf {
		// As Prometheus and Loki serve them; behind the token on a
		// non-loopback address (profiles and the command line leak).
		m.HandleFunc("/debug/pprof/", read(pprof.Index))
		m.HandleFunc("/debug/pprof/cmdline", read(pprof.Cmdline))
		m.HandleFunc("/debug/pprof/profile", read(pprof.Profile))
		m.HandleFunc("/debug/pprof/symbol", read(pprof.Symbol))
		m.HandleFunc("/debug/pprof/trace", read(pprof.Trace))
	}
}

// auth lets a request through only with Authorization: Bearer <token>,
// compared in constant time: 401 without the header (or another scheme),
// 403 for a wrong token or when no token is configured.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token == "" {
			writeError(w, http.StatusForbidden, "no admin token configured: set admin.token_file to use this endpoint")
			return
		}
		hdr := r.Header.Get("Authorization")
		scheme, tok, _ := strings.Cut(hdr, " ")
		if hdr == "" || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="logcapturer admin"`)
			writeError(w, http.StatusUnauthorized, "this endpoint needs the header Authorization: Bearer <token> (the token in admin.token_file)")
			return
		}
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) != 1 {
			writeError(w, http.StatusForbidden, "invalid admin token")
			return
		}
		h(w, r)
	}
}

// noRoute answers JSON for what no route matched: 405 when the path exists
// with other methods, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/" && pattern != "/-/reload" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Handler is the server's handler (the Host check in front of the
// routes), for tests.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.checkHost) }

// Start serves in one goroutine until Close.
func (s *Server) Start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("admin server", "addr", s.Addr(), "err", err)
		}
	}()
}

// Close stops the server, giving open requests a second, and waits for it.
// Safe to call twice.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
		s.ln.Close()
		s.wg.Wait()
	})
	return err
}
