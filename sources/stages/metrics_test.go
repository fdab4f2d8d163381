package stages

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// runMetrics parses doc, runs lines through it (each an entry with labels
// and extracted values), and returns the registry.
func runMetrics(t *testing.T, doc string, env Env, entries ...*Entry) (*Pipeline, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	env.Registerer = reg
	pl := mustParse(t, doc, env)
	for _, e := range entries {
		pl.Process(e, func(*Entry) {})
	}
	return pl, reg
}

// withLine returns an entry for a pipeline (which fills Extracted).
func withLine(seq uint64, line string, labels map[string]string) *Entry {
	return &Entry{Seq: seq, Line: line, Labels: labels}
}

// TestMetricsCounterDocExamples: "Examples / Counter" on Promtail's
// metrics page: match_all counts lines, count_entry_bytes their bytes,
// with the custom prefix; a series carries the entry's labels without
// the __ ones.
func TestMetricsCounterDocExamples(t *testing.T) {
	doc := `
- metrics:
    log_lines_total:
      type: Counter
      description: "total number of log lines"
      prefix: my_promtail_custom_
      max_idle_duration: 24h
      config:
        match_all: true
        action: inc
    log_bytes_total:
      type: Counter
      description: "total bytes of log lines"
      prefix: my_promtail_custom_
      max_idle_duration: 24h
      config:
        match_all: true
        count_entry_bytes: true
        action: add
`
	l := map[string]string{"job": "app", "__path__": "/x"}
	pl, reg := runMetrics(t, doc, Env{}, withLine(1, "12345", l), withLine(2, "123", l),
		withLine(3, "1", map[string]string{"job": "other"}))
	defer pl.Close()
	want := `
# HELP my_promtail_custom_log_bytes_total total bytes of log lines
# TYPE my_promtail_custom_log_bytes_total counter
my_promtail_custom_log_bytes_total{job="app"} 8
my_promtail_custom_log_bytes_total{job="other"} 1
# HELP my_promtail_custom_log_lines_total total number of log lines
# TYPE my_promtail_custom_log_lines_total counter
my_promtail_custom_log_lines_total{job="app"} 2
my_promtail_custom_log_lines_total{job="other"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestMetricsCounterRegexExamples: the two regex examples under "Counter":
// inc when the source is extracted, and only for a given value.
func TestMetricsCounterRegexExamples(t *testing.T) {
	doc := `
- regex:
    expression: "^.*(?P<order_success>order successful).*$"
- metrics:
    successful_orders_total:
      type: Counter
      description: "log lines with the message order successful"
      source: order_success
      config:
        action: inc
- regex:
    expression: "^.* order_status=(?P<order_status>.*?) .*$"
- metrics:
    successful_orders_status_total:
      type: Counter
      description: "successful orders"
      source: order_status
      config:
        value: success
        action: inc
    failed_orders_total:
      type: Counter
      description: "failed orders"
      source: order_status
      config:
        value: fail
        action: inc
`
	pl, reg := runMetrics(t, doc, Env{},
		withLine(1, "x order successful order_status=success y", nil),
		withLine(2, "x order_status=fail y", nil),
		withLine(3, "x order_status=fail y", nil),
		withLine(4, "nothing here", nil))
	defer pl.Close()
	want := `
# HELP promtail_custom_failed_orders_total failed orders
# TYPE promtail_custom_failed_orders_total counter
promtail_custom_failed_orders_total 2
# HELP promtail_custom_successful_orders_status_total successful orders
# TYPE promtail_custom_successful_orders_status_total counter
promtail_custom_successful_orders_status_total 1
# HELP promtail_custom_successful_orders_total log lines with the message order successful
# TYPE promtail_custom_successful_orders_total counter
promtail_custom_successful_orders_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestMetricsGaugeHistogramExamples: "Gauge" (add the extracted retries)
// and "Histogram" (buckets) examples, plus set/inc/dec/sub.
func TestMetricsGaugeHistogramExamples(t *testing.T) {
	doc := `
- regex:
    expression: "^.* retries=(?P<retries>\\d+) .*$"
- regex:
    expression: "rt=(?P<response_time>\\S+)"
- metrics:
    retries_total:
      type: Gauge
      description: "total retries"
      source: retries
      config:
        action: add
    retries_sub:
      type: Gauge
      source: retries
      config:
        action: sub
    retries_last:
      type: gauge
      source: retries
      config:
        action: set
    lines_seen:
      type: Gauge
      source: retries
      config:
        action: inc
    lines_unseen:
      type: Gauge
      source: retries
      config:
        action: dec
    http_response_time_seconds:
      type: Histogram
      description: "distribution of log response time"
      source: response_time
      config:
        buckets: [0.001,0.0025,0.005,0.010,0.025,0.050]
`
	pl, reg := runMetrics(t, doc, Env{},
		withLine(1, "a retries=3 rt=0.002 b", nil),
		withLine(2, "a retries=4 rt=4ms b", nil),
		withLine(3, "a rt=1s b", nil))
	defer pl.Close()
	want := `
# HELP promtail_custom_http_response_time_seconds distribution of log response time
# TYPE promtail_custom_http_response_time_seconds histogram
promtail_custom_http_response_time_seconds_bucket{le="0.001"} 0
promtail_custom_http_response_time_seconds_bucket{le="0.0025"} 1
promtail_custom_http_response_time_seconds_bucket{le="0.005"} 2
promtail_custom_http_response_time_seconds_bucket{le="0.01"} 2
promtail_custom_http_response_time_seconds_bucket{le="0.025"} 2
promtail_custom_http_response_time_seconds_bucket{le="0.05"} 2
promtail_custom_http_response_time_seconds_bucket{le="+Inf"} 3
promtail_custom_http_response_time_seconds_sum 1.006
promtail_custom_http_response_time_seconds_count 3
# HELP promtail_custom_lines_seen 
# TYPE promtail_custom_lines_seen gauge
promtail_custom_lines_seen 2
# HELP promtail_custom_lines_unseen 
# TYPE promtail_custom_lines_unseen gauge
promtail_custom_lines_unseen -2
# HELP promtail_custom_retries_last 
# TYPE promtail_custom_retries_last gauge
promtail_custom_retries_last 4
# HELP promtail_custom_retries_sub 
# TYPE promtail_custom_retries_sub gauge
promtail_custom_retries_sub -7
# HELP promtail_custom_retries_total total retries
# TYPE promtail_custom_retries_total gauge
promtail_custom_retries_total 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestMetricsCounterAddDurations: measured against Promtail (issue 18):
// action add takes durations in seconds ("2m" adds 120, "250us" 0.00025)
// and skips what does not parse (counted here); a negative value, which
// would make Promtail panic, is skipped and counted too.
func TestMetricsCounterAddDurations(t *testing.T) {
	doc := `
- regex:
    expression: "took=(?P<took>\\S+)"
- metrics:
    took_seconds_total:
      type: Counter
      source: took
      config:
        action: add
`
	rec := newRecorder()
	pl, reg := runMetrics(t, doc, rec.env(time.UTC, nil),
		withLine(1, "took=2m", nil), withLine(2, "took=250us", nil), withLine(3, "took=junk", nil),
		withLine(4, "took=-5", nil), withLine(5, "took=0.5", nil))
	defer pl.Close()
	want := `
# HELP promtail_custom_took_seconds_total 
# TYPE promtail_custom_took_seconds_total counter
promtail_custom_took_seconds_total 120.50025
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if rec.failed["metrics/metric_value_not_a_number"] != 1 || rec.failed["metrics/metric_counter_value_negative"] != 1 {
		t.Errorf("failed %v", rec.failed)
	}
}

// TestMetricsIdleAndClose: a series not updated for max_idle_duration is
// removed; Close removes the rest and unregisters, so a new pipeline with
// the same metrics registers again (a reload).
func TestMetricsIdleAndClose(t *testing.T) {
	doc := `
- metrics:
    lines_total:
      type: Counter
      max_idle_duration: 1m
      config:
        match_all: true
        action: inc
`
	clock := &fakeClock{t: time.Unix(1000, 0)}
	reg := prometheus.NewRegistry()
	env := Env{Registerer: reg, Now: clock.Now}
	pl := mustParse(t, doc, env)
	pl.Process(withLine(1, "x", map[string]string{"job": "a"}), func(*Entry) {})
	clock.Add(30 * time.Second)
	pl.Process(withLine(2, "x", map[string]string{"job": "b"}), func(*Entry) {})
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 2 {
		t.Fatalf("series %d %v, want 2", n, err)
	}
	clock.Add(30 * time.Second) // a idle 60s, b 30s
	if n, err := testutil.GatherAndCount(reg, "promtail_custom_lines_total"); err != nil || n != 1 {
		t.Fatalf("after a's idle time: series %d %v, want 1", n, err)
	}
	pl.Close()
	pl.Close()
	pl.Process(withLine(3, "x", map[string]string{"job": "b"}), func(*Entry) {})
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("after Close: series %d %v, want 0", n, err)
	}
	pl2 := mustParse(t, doc, env)
	defer pl2.Close()
	pl2.Process(withLine(4, "x", map[string]string{"job": "b"}), func(*Entry) {})
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 1 {
		t.Fatalf("new pipeline: series %d %v, want 1", n, err)
	}
}

// TestMetricsSameSeriesLabels: entries whose labels differ only in labels
// a series does not carry (__ ones) update one series; Promtail made two
// with the same labels, which broke /metrics.
func TestMetricsSameSeriesLabels(t *testing.T) {
	doc := `
- metrics:
    lines_total:
      type: Counter
      config: {match_all: true, action: inc}
`
	pl, reg := runMetrics(t, doc, Env{},
		withLine(1, "x", map[string]string{"job": "a", "__a": "1"}),
		withLine(2, "x", map[string]string{"job": "a", "__a": "2", "bad-name": "x", "v": "\xff"}))
	defer pl.Close()
	want := `
# HELP promtail_custom_lines_total 
# TYPE promtail_custom_lines_total counter
promtail_custom_lines_total{job="a"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
