package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyzBody is /readyz's answer.
type readyzBody struct {
	Status  string      `json:"status"` // ready | not_ready
	Reasons []Condition `json:"reasons,omitempty"`
}

// HealthHandlers mounts /metrics (from g), /healthz (200 "ok" while the
// process serves), /readyz (200 or 503 with JSON reasons, from readiness;
// nil is always ready) and /ready (the same verdict in Promtail's form, for
// the probes and health checks written for Promtail) on mux. They never
// need a token.
func HealthHandlers(mux *http.ServeMux, logger *slog.Logger, g prometheus.Gatherer, readiness func() (bool, []Condition)) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /readyz", ReadyzHandler(readiness))
	mux.Handle("GET /ready", readyHandler(readiness))
}

// readyHandler answers /ready as Promtail's does, so that a readiness
// probe or health check written for Promtail keeps working: 200 "Ready",
// else an error status and "Not ready: " with the reasons, one
// "component reason" each (Promtail answers 500; this 503, as /readyz).
func readyHandler(readiness func() (bool, []Condition)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if readiness != nil {
			if ready, reasons := readiness(); !ready {
				var b strings.Builder
				b.WriteString("Not ready:")
				for i, c := range reasons {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(" " + c.Component + " " + c.Reason)
				}
				http.Error(w, b.String(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Ready") // a client that went away
	})
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
