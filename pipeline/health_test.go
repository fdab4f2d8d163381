package pipeline

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHealthLogsOncePerStateChange(t *testing.T) {
	var logs bytes.Buffer
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g"}, []string{"component", "reason"})
	h := newHealth(slog.New(slog.NewTextHandler(&logs, nil)), g)
	h.declare("sink/a", ReasonSinkFailing)
	if v := testutil.ToFloat64(g.WithLabelValues("sink/a", ReasonSinkFailing)); v != 0 {
		t.Fatalf("declared series = %v, want 0", v)
	}
	for i := 0; i < 100; i++ {
		h.raise("sink/a", ReasonSinkFailing, "connection refused")
	}
	h.raise("sink/a", ReasonSinkFailing, "status 500")
	conds := h.conditions()
	if len(conds) != 1 || conds[0].Detail != "status 500" || conds[0].Since.Location() != time.UTC {
		t.Fatalf("conditions = %+v, want one with the last detail, since in UTC", conds)
	}
	if v := testutil.ToFloat64(g.WithLabelValues("sink/a", ReasonSinkFailing)); v != 1 {
		t.Fatalf("gauge = %v, want 1", v)
	}
	h.clear("sink/a", ReasonSinkFailing)
	h.clear("sink/a", ReasonSinkFailing)
	if n := strings.Count(logs.String(), "degraded: sink_failing"); n != 1 {
		t.Errorf("%d start lines, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "recovered: sink_failing"); n != 1 {
		t.Errorf("%d end lines, want 1:\n%s", n, logs.String())
	}
	if v := testutil.ToFloat64(g.WithLabelValues("sink/a", ReasonSinkFailing)); v != 0 || len(h.conditions()) != 0 {
		t.Fatalf("after clear: gauge %v, conditions %v", v, h.conditions())
	}
}

// readyz fetches /readyz from an admin server and decodes it.
func readyz(t *testing.T, addr string) (int, readyzBody) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body readyzBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode /readyz: %v", err)
	}
	return resp.StatusCode, body
}

// hasReason reports whether /readyz lists reason for component.
func hasReason(b readyzBody, component, reason string) bool {
	for _, c := range b.Reasons {
		if c.Component == component && c.Reason == reason {
			return true
		}
	}
	return false
}

func TestReadyzReasons(t *testing.T) {
	dir := t.TempDir()
	p := openTest(t, dir, nil, Options{}, &memSink{name: "a"})
	defer p.Close()
	a := startAdmin(t, p)
	if code, b := readyz(t, a.Addr()); code != http.StatusOK || b.Status != "ready" {
		t.Fatalf("/readyz = %d %+v, want 200 ready", code, b)
	}
	p.health.raise("wal", ReasonWALAppendFailing, "write /data/wal/x: no space left on device")
	code, b := readyz(t, a.Addr())
	if code != http.StatusServiceUnavailable || b.Status != "not_ready" || !hasReason(b, "wal", ReasonWALAppendFailing) {
		t.Fatalf("/readyz = %d %+v, want 503 with wal_append_failing", code, b)
	}
	p.health.clear("wal", ReasonWALAppendFailing)
	if code, _ := readyz(t, a.Addr()); code != http.StatusOK {
		t.Fatalf("/readyz = %d after the fault cleared, want 200", code)
	}
}
