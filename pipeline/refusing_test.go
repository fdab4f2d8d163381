package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRefusingSinkWarnsAndStaysReady: a sink that refuses every batch for
// good (a 400) becomes refusing once it has refused refusingMinSends, with
// its last refusal, and the pipeline has the sink_refusing warning (gauge
// 1, logged once) but stays ready; further dead letters are not logged
// one by one. Once it accepts again, and has delivered as much as it
// refused, it is ok, the warning is gone, and its end is logged once.
func TestRefusingSinkWarnsAndStaysReady(t *testing.T) {
	var logs syncBuffer
	var refuse atomic.Bool
	refuse.Store(true)
	s := &memSink{name: "s", fail: func(_ int, b *sinks.Batch) error {
		if refuse.Load() {
			return &sinks.Permanent{Reason: "rejected", Err: fmt.Errorf("http 400: entry for stream has timestamp too old (block %d)", b.From)}
		}
		return nil
	}}
	reg := prometheus.NewPedanticRegistry()
	p, err := Open(slog.New(slog.NewTextHandler(&logs, nil)), reg, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: s, MaxEntries: 1, MaxWait: time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t.Context())
	defer p.Close()
	warning := func() float64 { return testutil.ToFloat64(p.m.warning.WithLabelValues("sink/s", WarningSinkRefusing)) }
	state := func() SinkStatus {
		st, err := p.SinkStatus("s")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	// One block a batch (MaxEntries 1): each is a send, refused.
	for i := 1; i <= refusingMinSends; i++ {
		emit(t, p, "app", "f", int64(i), fmt.Sprintf("refused-%d", i))
	}
	waitFor(t, "state refusing", func() bool { return state().State == SinkRefusing })
	st := state()
	if st.LastRefusal == "" || !strings.Contains(st.LastRefusal, "timestamp too old") || st.LastRefusalTime == nil {
		t.Errorf("refusing sink: last refusal %q at %v, want the 400's text and a time", st.LastRefusal, st.LastRefusalTime)
	}
	if ready, conds := p.Readiness(); !ready {
		t.Errorf("a refusing sink made the pipeline unready: %+v", conds)
	}
	warns := p.Warnings()
	if len(warns) != 1 || warns[0].Component != "sink/s" || warns[0].Reason != WarningSinkRefusing ||
		!strings.Contains(warns[0].Detail, "timestamp too old") {
		t.Fatalf("warnings = %+v, want one sink_refusing for sink/s with the last refusal", warns)
	}
	if full := p.Status(); len(full.Warnings) != 1 || full.Ready.Status != "ready" {
		t.Errorf("status: warnings %+v, ready %q; want the warning and ready", full.Warnings, full.Ready.Status)
	}
	if v := warning(); v != 1 {
		t.Errorf("logcapturer_component_warning = %v, want 1", v)
	}
	if v := testutil.ToFloat64(p.m.degraded.WithLabelValues("sink/s", ReasonSinkFailing)); v != 0 {
		t.Errorf("logcapturer_component_degraded{sink_failing} = %v, want 0", v)
	}

	// More refusals while it lasts: no line each.
	dlqLines := strings.Count(logs.String(), "range moved to the dead-letter queue")
	for i := refusingMinSends + 1; i <= refusingMinSends+3; i++ {
		emit(t, p, "app", "f", int64(i), fmt.Sprintf("refused-%d", i))
	}
	waitFor(t, "the later refusals dead-lettered", func() bool { return state().DLQEntries == refusingMinSends+3 })
	if n := strings.Count(logs.String(), "range moved to the dead-letter queue"); n != dlqLines {
		t.Errorf("%d dead-letter lines logged while refusing, want none (warning says it):\n%s", n-dlqLines, logs.String())
	}

	// It accepts again: one batch of more entries than it refused.
	refuse.Store(false)
	var lines []string
	for i := 0; i < refusingMinSends+4; i++ {
		lines = append(lines, fmt.Sprintf("accepted-%d", i))
	}
	emit(t, p, "app", "f", 100, lines...)
	waitFor(t, "state ok", func() bool { return state().State == SinkOK && len(p.Warnings()) == 0 })
	if v := warning(); v != 0 {
		t.Errorf("logcapturer_component_warning after recovery = %v, want 0", v)
	}
	if got := len(s.lines()); got != len(lines) {
		t.Errorf("delivered %d lines, want %d", got, len(lines))
	}
	out := logs.String()
	if n := strings.Count(out, "warning: sink_refusing"); n != 1 {
		t.Errorf("%d start lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "warning over: sink_refusing"); n != 1 {
		t.Errorf("%d end lines, want 1:\n%s", n, out)
	}
}

// TestRefusingRule checks the rule on fixed times: at least
// refusingMinSends settled sends, more than half their entries refused,
// over the last refusingWindow only; a partial success counts what it
// refused.
func TestRefusingRule(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	refused := &sinks.Permanent{Reason: "rejected", Err: errors.New("http 400")}
	sl := &sinkLoop{}
	verdict := func(at time.Time) bool {
		sends, d, r := sl.recent.sum(at)
		return refusingRule(sends, d, r)
	}
	for i := 0; i < refusingMinSends-1; i++ {
		sl.settledSend(t0, 10, refused)
	}
	if verdict(t0) {
		t.Fatalf("refusing after %d sends, want at least %d", refusingMinSends-1, refusingMinSends)
	}
	sl.settledSend(t0, 10, &sinks.Retryable{Err: errors.New("503")}) // settles nothing
	sl.settledSend(t0, 10, &sinks.Unauthorized{Err: errors.New("401")})
	if verdict(t0) {
		t.Fatal("retryable or unauthorized failures counted as refusals")
	}
	sl.settledSend(t0.Add(time.Minute), 10, refused)
	if !verdict(t0.Add(time.Minute)) || sl.lastRefusal != refused.Error() {
		t.Fatalf("not refusing after %d refused sends (last refusal %q)", refusingMinSends, sl.lastRefusal)
	}
	// A partial success refusing 3 of 100: 97 delivered, 53 refused in all.
	sl.settledSend(t0.Add(2*time.Minute), 100, &sinks.Permanent{Reason: "rejected", Err: errors.New("400: 3 of 100"), Rejected: 3})
	if sends, d, r := sl.recent.sum(t0.Add(2 * time.Minute)); sends != 6 || d != 97 || r != 53 {
		t.Fatalf("sum = %d sends, %d delivered, %d refused; want 6, 97, 53", sends, d, r)
	}
	if verdict(t0.Add(2 * time.Minute)) {
		t.Fatal("refusing while it delivered more entries than it refused")
	}
	// The window moves on: the sends at t0 age out, those at t0+1m and
	// t0+2m remain.
	if sends, _, _ := sl.recent.sum(t0.Add(refusingWindow + bucketWidth)); sends != 2 {
		t.Fatalf("%d sends counted a window later, want the 2 of the last window", sends)
	}
	if sends, _, _ := sl.recent.sum(t0.Add(time.Hour)); sends != 0 {
		t.Fatalf("%d sends counted an hour later, want 0", sends)
	}
}

// TestSinkStatusFailingSinceAndNextRetry: a sink whose send failed
// retryably says since when it fails, when its waiting retry range is
// due, and where it delivers.
func TestSinkStatusFailingSinceAndNextRetry(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	s := &destSink{memSink: memSink{name: "s", fail: func(int, *sinks.Batch) error {
		if down.Load() {
			return &sinks.Retryable{Err: errors.New("connection refused")}
		}
		return nil
	}}, dest: "http://receiver.example/ingest"}
	began := time.Now().UTC()
	p, err := Open(nil, nil, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: s, MaxWait: time.Millisecond, MinBackoff: time.Hour, MaxBackoff: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t.Context())
	defer p.Close()
	emit(t, p, "app", "f", 1, "waits")
	var st SinkStatus
	waitFor(t, "a retry range waiting", func() bool { st, _ = p.SinkStatus("s"); return st.RetryRanges == 1 && st.NextRetryTime != nil })
	if st.Destination != "http://receiver.example/ingest" {
		t.Errorf("destination %q", st.Destination)
	}
	if st.FailingSince == nil || st.FailingSince.Before(began) || st.FailingSince.Location() != time.UTC {
		t.Errorf("failing since %v, want a UTC time after %v", st.FailingSince, began)
	}
	if n, earliest, _ := p.sched.Waiting("s"); n != 1 || !st.NextRetryTime.Equal(earliest) {
		t.Errorf("next retry %v, want the range's due time %v", st.NextRetryTime, earliest)
	}
	down.Store(false)
	emit(t, p, "app", "f", 2, "delivered")
	waitFor(t, "failing since unset after a success", func() bool {
		st, _ = p.SinkStatus("s")
		return len(s.lines()) == 1 && st.FailingSince == nil && st.LastSuccessTime != nil
	})
}

// destSink is a memSink that says where it delivers.
type destSink struct {
	memSink
	dest string
}

func (s *destSink) Destination() string { return s.dest }
