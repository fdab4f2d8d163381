package pipeline

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/logcapturer/logcapturer/sources"
)

// TestSourceStreamsOverLimitIsAWarning: a source's max_streams condition
// is a warning (Warnings, logcapturer_component_warning), never a
// readiness reason; cleared, it is gone from both.
func TestSourceStreamsOverLimitIsAWarning(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	p := openTest(t, t.TempDir(), reg, Options{})
	defer p.Close()
	p.SetSourceCondition("app", sources.WarningStreamsOverLimit, true, "over")
	if ready, conds := p.Readiness(); !ready || len(conds) != 0 {
		t.Fatalf("readiness %v %+v, want ready without reasons", ready, conds)
	}
	w := p.Warnings()
	if len(w) != 1 || w[0].Component != "source/app" || w[0].Reason != WarningSourceStreamsOverLimit {
		t.Fatalf("warnings %+v", w)
	}
	if v := testutil.ToFloat64(p.m.warning.WithLabelValues("source/app", WarningSourceStreamsOverLimit)); v != 1 {
		t.Errorf("logcapturer_component_warning %v, want 1", v)
	}
	p.SetSourceCondition("app", sources.WarningStreamsOverLimit, false, "")
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("warnings after clear %+v", w)
	}
}
