package pipeline

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyzBody is /readyz's answer.
type readyzBody struct {
	Status  string      `json:"status"` // ready | not_ready
	Reasons []Condition `json:"reasons,omitempty"`
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
