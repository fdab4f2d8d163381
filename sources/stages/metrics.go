package stages

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// metricOptions is one metric of Promtail's metrics stage (the stage's
// options are a mapping of metric names to these).
type metricOptions struct {
	Type            string    `yaml:"type"`
	Description     string    `yaml:"description"`
	Source          *string   `yaml:"source"`
	Prefix          string    `yaml:"prefix"`
	MaxIdleDuration *string   `yaml:"max_idle_duration"`
	Config          yaml.Node `yaml:"config"`
}

// counterOptions, gaugeOptions and histogramOptions are a metric's config.
type counterOptions struct {
	MatchAll        *bool   `yaml:"match_all"`
	CountEntryBytes *bool   `yaml:"count_entry_bytes"`
	Value           *string `yaml:"value"`
	Action          string  `yaml:"action"`
}

type gaugeOptions struct {
	Value  *string `yaml:"value"`
	Action string  `yaml:"action"`
}

type histogramOptions struct {
	Value   *string   `yaml:"value"`
	Buckets []float64 `yaml:"buckets"`
}

// metricDef is one decoded metric: its options and, by type, its config.
type metricDef struct {
	metricOptions
	Counter   counterOptions
	Gauge     gaugeOptions
	Histogram histogramOptions
}

const (
	defaultMetricPrefix  = "promtail_custom_"
	defaultMetricMaxIdle = 5 * time.Minute
)

// metricsStage is Promtail's metrics stage: each entry updates the
// configured counters, gauges and histograms, served on /metrics through
// Env.Registerer. A series carries the entry's labels at that point,
// without those whose name starts with "__" or is not a valid Prometheus
// label name, or whose value is not UTF-8. A series not updated for
// max_idle_duration is removed when /metrics is read (as in Promtail).
// Close removes every series and unregisters the stage.
//
// Process is called by the source's goroutine; the registry collects from
// others: a mutex guards the series.
type metricsStage struct {
	now     func() time.Time
	failed  func(stage, reason string)
	reg     prometheus.Registerer
	metrics []*stageMetric // by name
	coll    *metricsCollector

	mu     sync.Mutex
	closed bool
	key    []byte
	names  []string
}

type stageMetric struct {
	def     metricDef
	name    string // full name: prefix + metric name
	source  string
	action  string
	maxIdle time.Duration
	series  map[string]*metricSeries
}

type metricSeries struct {
	m    prometheus.Metric // a Counter, Gauge or Histogram
	last time.Time
}

func parseMetrics(p *parser, n *yaml.Node, key string, line int) Stage {
	n = config.ResolveAlias(n)
	if n == nil || config.IsNull(n) || n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.fail(line, key, "the metrics stage takes a mapping of metric names to their options (type, config, ...)")
		return nil
	}
	defs := map[string]metricDef{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, mn := n.Content[i].Value, config.ResolveAlias(n.Content[i+1])
		mkey := key + "." + name
		if _, dup := defs[name]; dup {
			p.fail(n.Content[i].Line, mkey, "duplicate metric")
			ok = false
			continue
		}
		var d metricDef
		if !p.decode(mn, mkey, n.Content[i].Line, "metrics", &d.metricOptions) {
			ok = false
			continue
		}
		cfg, ckey, cline := &d.Config, mkey+".config", optionLine(mn, "config", n.Content[i].Line)
		if cfg.Kind == 0 && slices.Contains([]string{"counter", "gauge"}, strings.ToLower(d.Type)) {
			// Left out: Promtail refuses it too, as an action not defined
			// (a histogram without config has Prometheus's default buckets).
			what := map[string]string{"counter": "a counter needs config.action (inc or add)",
				"gauge": "a gauge needs config.action (set, inc, dec, add or sub)"}
			p.fail(n.Content[i].Line, ckey, "is required: %s", what[strings.ToLower(d.Type)])
			ok = false
			continue
		}
		switch strings.ToLower(d.Type) {
		case "counter":
			ok = p.decode(cfg, ckey, cline, "metrics counter", &d.Counter) && ok
		case "gauge":
			ok = p.decode(cfg, ckey, cline, "metrics gauge", &d.Gauge) && ok
		case "histogram":
			if cfg.Kind != 0 { // none: Prometheus's default buckets, as in Promtail
				ok = p.decode(cfg, ckey, cline, "metrics histogram", &d.Histogram) && ok
			}
		}
		defs[name] = d
	}
	if !ok {
		return nil
	}
	s, err := newMetricsStage(defs, p.env)
	if err != nil {
		p.failOption(n, key, line, err)
		return nil
	}
	return s
}

// newMetricsStage checks the metrics and registers them on env.Registerer
// (nil: the stage counts nothing). Errors name the key, such as
// "lines_total.config.action".
func newMetricsStage(defs map[string]metricDef, env Env) (*metricsStage, error) {
	s := &metricsStage{now: env.Now, failed: env.Failed, reg: env.Registerer}
	if s.now == nil {
		s.now = time.Now
	}
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m, err := newStageMetric(name, defs[name])
		if err != nil {
			return nil, err
		}
		s.metrics = append(s.metrics, m)
	}
	if s.reg != nil {
		s.coll = &metricsCollector{s: s, desc: prometheus.NewDesc("logcapturer_pipeline_metrics_stage",
			"Placeholder: the series a metrics stage serves under the names it is configured with.",
			nil, prometheus.Labels{"stage_instance": fmt.Sprintf("%p", s)})}
		if err := s.reg.Register(s.coll); err != nil {
			return nil, fmt.Errorf("register the metrics: %w", err)
		}
	}
	return s, nil
}

func newStageMetric(name string, d metricDef) (*stageMetric, error) {
	m := &stageMetric{def: d, source: name, maxIdle: defaultMetricMaxIdle, series: map[string]*metricSeries{}}
	if d.Source != nil {
		m.source = *d.Source
	}
	prefix := d.Prefix
	if prefix == "" {
		prefix = defaultMetricPrefix
	}
	m.name = prefix + name
	if !validMetricName(m.name) {
		return nil, optErr(name, fmt.Sprintf("%q (prefix and name) is not a valid Prometheus metric name", m.name))
	}
	if d.MaxIdleDuration != nil {
		dur, err := time.ParseDuration(*d.MaxIdleDuration)
		if err != nil {
			return nil, optErr(name+".max_idle_duration", fmt.Sprintf("is not a duration (like 5m): %v", err))
		}
		if dur < time.Second {
			return nil, optErr(name+".max_idle_duration", "must be at least 1s")
		}
		m.maxIdle = dur
	}
	akey := name + ".config.action"
	switch d.Type = strings.ToLower(d.Type); d.Type {
	case "counter":
		c := d.Counter
		m.action = strings.ToLower(c.Action)
		if m.action != "inc" && m.action != "add" {
			return nil, optErr(akey, fmt.Sprintf("must be inc or add, got %q", c.Action))
		}
		matchAll := c.MatchAll != nil && *c.MatchAll
		countBytes := c.CountEntryBytes != nil && *c.CountEntryBytes
		if matchAll && c.Value != nil {
			return nil, optErr(name+".config.match_all", "cannot be combined with value: remove match_all or value")
		}
		if countBytes && !matchAll {
			return nil, optErr(name+".config.count_entry_bytes", "can only be set with match_all: true")
		}
		if countBytes && m.action != "add" {
			return nil, optErr(name+".config.count_entry_bytes", "can only be used with action: add")
		}
	case "gauge":
		m.action = strings.ToLower(d.Gauge.Action)
		switch m.action {
		case "set", "inc", "dec", "add", "sub":
		default:
			return nil, optErr(akey, fmt.Sprintf("must be set, inc, dec, add or sub, got %q", d.Gauge.Action))
		}
	case "histogram":
		for i := 1; i < len(d.Histogram.Buckets); i++ {
			if !(d.Histogram.Buckets[i] > d.Histogram.Buckets[i-1]) {
				return nil, optErr(name+".config.buckets", "must be in increasing order")
			}
		}
	default:
		return nil, optErr(name+".type", fmt.Sprintf("must be Counter, Gauge or Histogram, got %q", d.Type))
	}
	m.def = d
	return m, nil
}

// validMetricName: [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// seriesLabel reports whether a label goes on the series.
func seriesLabel(name, value string) bool {
	return !strings.HasPrefix(name, "__") && validLabelName(name) && utf8.ValidString(value)
}

// Process implements Stage.
func (s *metricsStage) Process(e *Entry, next func(*Entry)) {
	s.mu.Lock()
	if !s.closed && s.coll != nil {
		now := s.now()
		key := s.seriesKey(e.Labels)
		for _, m := range s.metrics {
			if reason := m.record(e, key, now); reason != "" && s.failed != nil {
				s.failed("metrics", reason)
			}
		}
	}
	s.mu.Unlock()
	next(e)
}

// seriesKey is the key of the series labels of labels.
func (s *metricsStage) seriesKey(labels map[string]string) []byte {
	s.names = s.names[:0]
	for k, v := range labels {
		if seriesLabel(k, v) {
			s.names = append(s.names, k)
		}
	}
	slices.Sort(s.names)
	s.key = s.key[:0]
	for _, k := range s.names {
		s.key = strconv.AppendQuote(append(s.key, k...), labels[k])
	}
	return s.key
}

// record updates m for e; it returns why a value was skipped, if it was.
func (m *stageMetric) record(e *Entry, key []byte, now time.Time) string {
	var v any
	if m.def.Type == "counter" && m.def.Counter.MatchAll != nil && *m.def.Counter.MatchAll {
		if m.def.Counter.CountEntryBytes != nil && *m.def.Counter.CountEntryBytes {
			v = float64(len(e.Line))
		}
	} else {
		var ok bool
		if v, ok = e.Extracted[m.source]; !ok {
			return ""
		}
		if want := m.value(); want != nil {
			if str, ok := toString(v); !ok || str != *want {
				return ""
			}
		}
	}
	number := func() (float64, bool) { return extractedFloat(v) }
	switch m.def.Type {
	case "counter":
		c := m.get(e.Labels, key, now).(prometheus.Counter)
		if m.action == "inc" {
			c.Inc()
			return ""
		}
		f, ok := number()
		if !ok {
			return "metric_value_not_a_number"
		}
		if f < 0 || math.IsNaN(f) {
			return "metric_counter_value_negative"
		}
		c.Add(f)
	case "gauge":
		g := m.get(e.Labels, key, now).(prometheus.Gauge)
		switch m.action {
		case "inc":
			g.Inc()
			return ""
		case "dec":
			g.Dec()
			return ""
		}
		f, ok := number()
		if !ok {
			return "metric_value_not_a_number"
		}
		switch m.action {
		case "set":
			g.Set(f)
		case "add":
			g.Add(f)
		case "sub":
			g.Sub(f)
		}
	case "histogram":
		f, ok := number()
		if !ok {
			return "metric_value_not_a_number"
		}
		m.get(e.Labels, key, now).(prometheus.Histogram).Observe(f)
	}
	return ""
}

func (m *stageMetric) value() *string {
	switch m.def.Type {
	case "counter":
		return m.def.Counter.Value
	case "gauge":
		return m.def.Gauge.Value
	}
	return m.def.Histogram.Value
}

// get returns the series of labels (key is their series key), created if
// new, marked as updated now.
func (m *stageMetric) get(labels map[string]string, key []byte, now time.Time) prometheus.Metric {
	if s, ok := m.series[string(key)]; ok {
		s.last = now
		return s.m
	}
	cl := prometheus.Labels{}
	for k, v := range labels {
		if seriesLabel(k, v) {
			cl[k] = v
		}
	}
	var pm prometheus.Metric
	switch m.def.Type {
	case "counter":
		pm = prometheus.NewCounter(prometheus.CounterOpts{Name: m.name, Help: m.def.Description, ConstLabels: cl})
	case "gauge":
		pm = prometheus.NewGauge(prometheus.GaugeOpts{Name: m.name, Help: m.def.Description, ConstLabels: cl})
	default:
		pm = prometheus.NewHistogram(prometheus.HistogramOpts{Name: m.name, Help: m.def.Description, ConstLabels: cl, Buckets: m.def.Histogram.Buckets})
	}
	m.series[string(key)] = &metricSeries{m: pm, last: now}
	return pm
}

// Close removes every series and unregisters the stage's metrics. Safe
// to call more than once, from any goroutine; Process counts nothing
// afterwards.
func (s *metricsStage) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for _, m := range s.metrics {
		clear(m.series)
	}
	if s.coll != nil {
		s.reg.Unregister(s.coll)
	}
}

// metricsCollector serves a metrics stage's series. The series have the
// names and labels the configuration and the entries give them, which
// are not known when it registers: it describes one placeholder Desc of
// its own (so that it can be unregistered, which an unchecked collector
// cannot) and collects series it did not describe, which a registry
// allows unless it is pedantic.
type metricsCollector struct {
	s    *metricsStage
	desc *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector: first it removes the series
// idle for their metric's max_idle_duration.
func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, m := range s.metrics {
		for k, sr := range m.series {
			if now.Sub(sr.last) >= m.maxIdle {
				delete(m.series, k)
				continue
			}
			ch <- sr.m
		}
	}
}

// extractedFloat converts an extracted value to a number as Promtail's
// metrics stage does: numbers as they are, true/false as 1/0, and text
// holding a number ("0.804") or a Go duration ("250us", "2m"), which
// counts in seconds.
func extractedFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return f, true
		}
		if d, err := time.ParseDuration(x); err == nil {
			return d.Seconds(), true
		}
	}
	return 0, false
}
