package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminOptions configures the admin HTTP server.
type AdminOptions struct {
	// Listen is host:port (port 0 picks a free one).
	Listen string
	// Gatherer serves /metrics.
	Gatherer prometheus.Gatherer
	// Readiness reports readiness for /readyz (Pipeline.Readiness); nil
	// is always ready.
	Readiness func() (bool, []Condition)
}

// readyzBody is /readyz's answer.
type readyzBody struct {
	Status  string      `json:"status"` // ready | not_ready
	Reasons []Condition `json:"reasons,omitempty"`
}

// Admin is a small health server: /metrics, /healthz and /readyz. The
// program serves these and the admin API from package admin, which mounts
// HealthHandlers; this one is for tests and embedders that need only
// health.
type Admin struct {
	logger *slog.Logger
	srv    *http.Server
	ln     net.Listener
	wg     sync.WaitGroup
	once   sync.Once
}

// NewAdmin binds the listener at once, so a port in use fails here with a
// clear error, and serves once Start is called.
func NewAdmin(logger *slog.Logger, opts AdminOptions) (*Admin, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin listen %s: %w", opts.Listen, err)
	}
	mux := http.NewServeMux()
	HealthHandlers(mux, logger, opts.Gatherer, opts.Readiness)
	return &Admin{
		logger: logger,
		ln:     ln,
		srv:    &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
	}, nil
}

// HealthHandlers mounts /metrics (from g), /healthz (200 "ok" while the
// process serves) and /readyz (200 or 503 with JSON reasons, from
// readiness; nil is always ready) on mux. They never need a token.
func HealthHandlers(mux *http.ServeMux, logger *slog.Logger, g prometheus.Gatherer, readiness func() (bool, []Condition)) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /readyz", ReadyzHandler(readiness))
}

// ReadyzHandler answers /readyz: 200 {"status":"ready"} or 503
// {"status":"not_ready","reasons":[...]}, from readiness (nil: ready).
func ReadyzHandler(readiness func() (bool, []Condition)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body := readyzBody{Status: "ready"}
		ready := true
		if readiness != nil {
			ready, body.Reasons = readiness()
		}
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			body.Status = "not_ready"
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body) // a client that went away
	})
}

// Addr is the address the server listens on.
func (a *Admin) Addr() string { return a.ln.Addr().String() }

// Start serves in one goroutine until Close.
func (a *Admin) Start() {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("admin server", "addr", a.Addr(), "err", err)
		}
	}()
}

// Close stops the server, giving open requests a second, and waits for it.
// Safe to call twice.
func (a *Admin) Close() error {
	var err error
	a.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = a.srv.Shutdown(ctx)
		a.ln.Close()
		a.wg.Wait()
	})
	return err
}
