package sources

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCountersAndRegisterMetrics: the counters every kind of source has are
// exported under one name and help, labelled with the source, their
// reasons at 0 before the first error; two sources (of any kind) share a
// registry, and a second source of the same name is refused, naming it.
func TestCountersAndRegisterMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	app := NewCounters("open", "read")
	setApp, err := RegisterMetrics(reg, "app", app.Entries, app.Blocks, app.Errors)
	if err != nil {
		t.Fatal(err)
	}
	other := NewCounters("framing") // another kind of source, its own reasons
	if _, err := RegisterMetrics(reg, "other", other.Entries, other.Blocks, other.Errors); err != nil {
		t.Fatalf("a second source on the same registry: %v", err)
	}
	app.Entries.Add(3)
	app.Blocks.Inc()
	app.Errors.WithLabelValues("read").Inc()

	want := `
# HELP logcapturer_source_blocks_total Blocks (WAL records) handed to the ingest stage.
# TYPE logcapturer_source_blocks_total counter
logcapturer_source_blocks_total{source="app"} 1
logcapturer_source_blocks_total{source="other"} 0
# HELP logcapturer_source_entries_total Entries handed to the ingest stage.
# TYPE logcapturer_source_entries_total counter
logcapturer_source_entries_total{source="app"} 3
logcapturer_source_entries_total{source="other"} 0
# HELP logcapturer_source_errors_total Errors met by the source, by reason.
# TYPE logcapturer_source_errors_total counter
logcapturer_source_errors_total{reason="framing",source="other"} 0
logcapturer_source_errors_total{reason="open",source="app"} 0
logcapturer_source_errors_total{reason="read",source="app"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	again := NewCounters()
	if _, err := RegisterMetrics(reg, "app", again.Entries, again.Blocks, again.Errors); err == nil ||
		!strings.Contains(err.Error(), `source "app"`) {
		t.Fatalf("a second source named app: err = %v, want one naming it", err)
	}

	setApp.Unregister()
	if n, err := testutil.GatherAndCount(reg, "logcapturer_source_entries_total"); err != nil || n != 1 {
		t.Fatalf("after Unregister: %d entries series (err %v), want only other's", n, err)
	}

	set, err := RegisterMetrics(nil, "app", again.Entries)
	if err != nil || set == nil {
		t.Fatalf("nil registerer: set %v, err %v; want an empty set", set, err)
	}
	set.Unregister()
}
