package sources

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

func relabelRules(t testing.TB, src string) []*relabel.Config {
	t.Helper()
	var rules []*relabel.Config
	if err := yaml.Unmarshal([]byte(src), &rules); err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestRelabelHook: the hook of relabel_configs replaces the labels it is
// given with the rules' result and reports drops; a cached label set
// gives the same answer as the first time; with every entry's set unique
// (journald's fields) the cache turns itself off and the answers stay
// right.
func TestRelabelHook(t *testing.T) {
	if Relabel(nil) != nil {
		t.Fatal("no rules: want no hook")
	}
	hook := Relabel(relabelRules(t, `
- {source_labels: [__journal__systemd_unit], target_label: unit}
- {action: drop, source_labels: [unit], regex: 'cron\..*'}
- {action: labelmap, regex: '__journal_(syslog_identifier)'}
`))
	for round := range 3 {
		m := map[string]string{"__journal__systemd_unit": "nginx.service", "__journal_syslog_identifier": "nginx", "job": "j"}
		if !hook(m) {
			t.Fatalf("round %d: nginx dropped", round)
		}
		want := map[string]string{"__journal__systemd_unit": "nginx.service", "__journal_syslog_identifier": "nginx",
			"job": "j", "unit": "nginx.service", "syslog_identifier": "nginx"}
		if !maps.Equal(m, want) {
			t.Fatalf("round %d: %v, want %v", round, m, want)
		}
		if hook(map[string]string{"__journal__systemd_unit": "cron.service"}) {
			t.Fatalf("round %d: cron kept", round)
		}
	}
	r := newRelabeler(relabelRules(t, "- {source_labels: [id], target_label: copy}"))
	for i := range relabelCacheSize * (relabelCacheFills + 1) {
		id := fmt.Sprint(i)
		m := map[string]string{"id": id}
		if !r.apply(m) || m["copy"] != id {
			t.Fatalf("entry %d: %v", i, m)
		}
	}
	if !r.off || r.cache != nil {
		t.Errorf("cache still on after %d unique label sets", relabelCacheSize*(relabelCacheFills+1))
	}
}

// TestFileRelabel: a file source opened from its config with a relabel
// hook in its Deps (relabel_configs) runs it on each entry's labels: a
// file's entries get the label the rules make from filename, and the
// entries of a file the rules drop are counted under reason "relabel".
func TestFileRelabel(t *testing.T) {
	dir := t.TempDir()
	keep, drop := filepath.Join(dir, "keep.log"), filepath.Join(dir, "drop.log")
	appendFile(t, keep, "k1\nk2\n")
	appendFile(t, drop, "d1\nd2\nd3\n")
	c := NewFileConfig(TypeFile)
	c.Paths = []string{filepath.Join(dir, "*.log")}
	c.PollInterval = config.Duration(20 * time.Millisecond)
	rec := &recorder{t: t}
	reg := prometheus.NewRegistry()
	src, err := c.Open(Deps{Logger: slog.New(slog.DiscardHandler), Registerer: reg, Name: "rl", Labels: map[string]string{"job": "j"},
		Emitter: rec, Relabel: Relabel(relabelRules(t, `
- {action: drop, source_labels: [filename], regex: '.*/drop\.log'}
- {source_labels: [filename], regex: '.*/(.*)\.log', target_label: app}
- {action: labeldrop, regex: job}
`))})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	dropped := func() float64 {
		return gathered(t, reg, "logcapturer_pipeline_entries_dropped_total", "reason", "relabel")
	}
	waitFor(t, func() bool { return len(rec.lines("")) >= 2 && dropped() >= 3 }, 5*time.Second, "2 lines kept and 3 dropped")
	if got := rec.lines(""); !slices.Equal(got, []string{"k1", "k2"}) {
		t.Errorf("lines %q", got)
	}
	for _, b := range rec.all() {
		for i := range b.lines {
			ls := labelString(b.labels)
			if b.entryLabels[i] != "" {
				ls = b.entryLabels[i]
			}
			if want := "app=keep,filename=" + keep; ls != want {
				t.Errorf("labels %s, want %s", ls, want)
			}
		}
	}
}

// gathered returns the value of the series of metric name with label
// key=value in reg, or -1 when there is none.
func gathered(t testing.TB, reg *prometheus.Registry, name, key, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == key && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// BenchmarkRelabel: the hook on a stream's entries (cached) and on
// entries that each have labels of their own (journald's fields: the
// cache turns off).
func BenchmarkRelabel(b *testing.B) {
	rules := relabelRules(b, `
- {source_labels: [__journal__systemd_unit], target_label: unit}
- {source_labels: [__journal_priority_keyword], target_label: level}
- {action: drop, source_labels: [unit], regex: 'cron\..*'}
`)
	for _, unique := range []bool{false, true} {
		b.Run(fmt.Sprintf("unique=%t", unique), func(b *testing.B) {
			hook := Relabel(rules)
			m := map[string]string{}
			for i := range b.N {
				clear(m)
				m["__journal__systemd_unit"], m["__journal_priority_keyword"], m["job"] = "app.service", "info", "j"
				if unique {
					m["__journal__pid"] = fmt.Sprint(i)
				}
				if !hook(m) {
					b.Fatal("dropped")
				}
			}
		})
	}
}
