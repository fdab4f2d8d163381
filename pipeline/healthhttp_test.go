package pipeline

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestPromtailReady: /ready answers as Promtail's does (200 "Ready"), so a
// Kubernetes readinessProbe, a Nomad check or a compose healthcheck
// written for Promtail keeps working; not ready, it is an error status
// with the reasons /readyz gives.
func TestPromtailReady(t *testing.T) {
	ready, reasons := true, []Condition(nil)
	mux := http.NewServeMux()
	HealthHandlers(mux, nil, prometheus.NewRegistry(), func() (bool, []Condition) { return ready, reasons })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusOK || body != "Ready" {
		t.Errorf("ready: %d %q, want 200 Ready", code, body)
	}
	ready, reasons = false, []Condition{{Component: "sink/loki", Reason: ReasonSinkFailing}, {Component: "wal", Reason: "wal_append_failing"}}
	if code, body := get(); code != http.StatusServiceUnavailable || body != "Not ready: sink/loki sink_failing, wal wal_append_failing\n" {
		t.Errorf("not ready: %d %q", code, body)
	}
}
