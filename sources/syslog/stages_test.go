package syslog

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/sources"
)

// startStaged starts a TCP syslog source whose entries go through stages
// (YAML) and relabel, opened as config opens it (Config.Open).
func startStaged(t *testing.T, cfg Config, stages string, relabel func(map[string]string) bool) (*Source, *fakeEmitter) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(stages), &doc); err != nil {
		t.Fatal(err)
	}
	cfg.ListenAddress = "127.0.0.1:0"
	cfg.SetDefaults()
	em := newFakeEmitter()
	src, err := cfg.Open(sources.Deps{Name: "net", Labels: map[string]string{"job": "syslog"}, Emitter: em,
		PipelineStages: doc.Content[0], Relabel: relabel})
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*Source)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Release(); s.Close() })
	return s, em
}

// TestPipelineStages: json + labels + drop + output change what is
// emitted; the relabel hook sees Promtail's __syslog_* labels, and the
// stages and the WAL do not.
func TestPipelineStages(t *testing.T) {
	var mu sync.Mutex
	var seen []map[string]string
	s, em := startStaged(t, Config{LabelStructuredData: true}, `
- json: {expressions: {level: level, msg: msg}}
- labels: {level: ""}
- drop: {source: level, value: debug}
- output: {source: msg}
`, func(l map[string]string) bool {
		mu.Lock()
		seen = append(seen, maps.Clone(l))
		mu.Unlock()
		l["proc"] = l["__syslog_message_proc_id"]
		return true
	})
	c := dial(t, s)
	for i, body := range []string{`{"level":"info","msg":"one"}`, `{"level":"debug","msg":"noise"}`, `{"level":"error","msg":"two"}`} {
		write(t, c, fmt.Sprintf("<165>1 2003-10-11T22:14:15.003Z host app %d ID47 [ex@32473 iut=\"3\"] %s\n", 100+i, body))
	}
	es := em.waitEntries(t, 2, 5*time.Second)
	// The dropped entry is between the two kept ones: once "two" is in, it
	// was dropped, not delayed.
	waitFor(t, "the third message", 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 3 })
	if len(es) != 2 || es[0].Line != "one" || es[1].Line != "two" {
		t.Fatalf("entries %+v", es)
	}
	want := map[string]string{"job": "syslog", "facility": "local4", "severity": "notice", "hostname": "host", "app_name": "app",
		"sd_ex_32473_iut": "3", "level": "info", "proc": "100"}
	if fmt.Sprint(es[0].Labels) != fmt.Sprint(want) {
		t.Errorf("labels %v, want %v", es[0].Labels, want)
	}
	mu.Lock()
	first := seen[0]
	mu.Unlock()
	for k, v := range map[string]string{"__syslog_message_severity": "notice", "__syslog_message_facility": "local4",
		"__syslog_message_hostname": "host", "__syslog_message_app_name": "app", "__syslog_message_proc_id": "100",
		"__syslog_message_msg_id": "ID47", "__syslog_message_sd_ex_32473_iut": "3", "__syslog_connection_ip_address": "127.0.0.1"} {
		if first[k] != v {
			t.Errorf("the hook saw %s=%q, want %q (all: %v)", k, first[k], v, first)
		}
	}
	if _, ok := first["__syslog_connection_hostname"]; !ok {
		t.Errorf("no __syslog_connection_hostname: %v", first)
	}
}

// TestStagesBackpressure: with stages, an Emitter that does not take
// blocks still stops the batcher, and so the TCP reads (nothing is read
// and dropped); once it takes them again every kept entry arrives.
func TestStagesBackpressure(t *testing.T) {
	s, em := startStaged(t, Config{}, `[{drop: {expression: "^skip"}}]`, nil)
	em.Hold()
	c := dial(t, s)
	const n = 50000
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < n && err == nil; i++ {
			line := fmt.Sprintf("<13>1 - - - - - - keep %06d %0200d\n", i, 0)
			if i%2 == 1 {
				line = fmt.Sprintf("<13>1 - - - - - - skip %06d %0200d\n", i, 0)
			}
			_, err = c.Write([]byte(line))
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the client wrote %d messages (%v) while the emitter held: no backpressure", n, err)
	case <-time.After(300 * time.Millisecond):
	}
	if got := droppedOf(s, dropBackpressure); got != 0 {
		t.Fatalf("dropped %v under backpressure over TCP", got)
	}
	em.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	es := em.waitEntries(t, n/2, 10*time.Second)
	for i, e := range es {
		if want := fmt.Sprintf("keep %06d %0200d", 2*i, 0); e.Line != want {
			t.Fatalf("entry %d %q, want %q", i, e.Line[:12], want[:12])
		}
	}
}

// TestPromtailLabels: with promtail_labels the source sets none of its own
// labels nor structured data metadata, as Promtail's syslog target; a
// relabel_configs hook makes labels from __syslog_message_* (the usual
// Promtail relabeling), structured data included with
// label_structured_data.
func TestPromtailLabels(t *testing.T) {
	s, em := startStaged(t, Config{PromtailLabels: true, LabelStructuredData: true}, "[]",
		sources.Relabel(relabelRules(t, `
- {source_labels: [__syslog_message_hostname], target_label: host}
- {source_labels: [__syslog_message_sd_ex_32473_iut], target_label: iut}
`)))
	c := dial(t, s)
	write(t, c, "<165>1 2003-10-11T22:14:15.003Z h1 app 100 ID47 [ex@32473 iut=\"3\"] hello\n")
	es := em.waitEntries(t, 1, 5*time.Second)
	want := map[string]string{"job": "syslog", "host": "h1", "iut": "3"}
	if fmt.Sprint(es[0].Labels) != fmt.Sprint(want) || len(es[0].Metadata) != 0 || es[0].Line != "hello" {
		t.Errorf("entry %+v, want labels %v and no metadata", es[0], want)
	}
}

func relabelRules(t *testing.T, src string) []*relabel.Config {
	t.Helper()
	var rules []*relabel.Config
	if err := yaml.Unmarshal([]byte(src), &rules); err != nil {
		t.Fatal(err)
	}
	return rules
}
