package stages

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestSampling: "Simple sampling" on Promtail's sampling page (rate 0.1
// keeps 10% of the lines), and the ends of the range.
func TestSampling(t *testing.T) {
	const n = 100000
	for _, c := range []struct {
		rate   float64
		reason string
	}{
		{0.1, ""}, {0.5, "half"}, {0, ""}, {1, ""},
	} {
		rec := newRecorder()
		s, err := newSamplingStage(samplingOptions{Rate: c.rate, DropCounterReason: c.reason}, rec.env(time.UTC, nil))
		if err != nil {
			t.Fatal(err)
		}
		kept := 0
		for i := range n {
			s.Process(entry(uint64(i), "x", nil), func(*Entry) { kept++ })
		}
		// Binomial: 5 standard deviations at most (about 475 lines at 0.1).
		sd := math.Sqrt(n * c.rate * (1 - c.rate))
		if got := float64(kept); math.Abs(got-n*c.rate) > 5*sd {
			t.Errorf("rate %v kept %d of %d", c.rate, kept, n)
		}
		reason := c.reason
		if reason == "" {
			reason = "sampling_stage"
		}
		if rec.dropped[reason] != n-kept {
			t.Errorf("rate %v: dropped %v, want %d under %s", c.rate, rec.dropped, n-kept, reason)
		}
	}
}

// TestSamplingDeterministic: the same Seq is kept or dropped alike by a
// stage built again (a re-read after a restart).
func TestSamplingDeterministic(t *testing.T) {
	a, _ := newSamplingStage(samplingOptions{Rate: 0.3}, Env{Source: "s"})
	b, _ := newSamplingStage(samplingOptions{Rate: 0.3}, Env{Source: "s"})
	for seq := range uint64(10000) {
		if a.keep(seq) != b.keep(seq) {
			t.Fatalf("seq %d decided differently", seq)
		}
	}
}

func TestSamplingOptionErrors(t *testing.T) {
	for _, r := range []float64{-0.1, 1.5, math.NaN()} {
		_, err := newSamplingStage(samplingOptions{Rate: r}, Env{})
		var oe *optionError
		if !errors.As(err, &oe) || oe.Key != "rate" {
			t.Errorf("rate %v: error %v", r, err)
		}
	}
}
