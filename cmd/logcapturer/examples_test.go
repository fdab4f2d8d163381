package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestExamplesCheck: every example config, and the compose stack's, passes
// `logcapturer check` (which leaves nothing behind). check reads the files
// a config names, so the compose stack's is checked as its container sees
// it: each file docker-compose.yml mounts from the compose directory (the
// admin token) is read from there.
func TestExamplesCheck(t *testing.T) {
	paths, _ := filepath.Glob("../../examples/*.yaml")
	paths = append(paths, composeAsMounted(t, "../../deploy/compose"))
	if len(paths) < 6 {
		t.Fatalf("only %v: examples went missing", paths)
	}
	for _, p := range paths {
		var out, errb bytes.Buffer
		if code := runMain([]string{"check", "--config", p}, &out, &errb); code != 0 {
			t.Errorf("check %s: exit %d\n%s", p, code, errb.String())
		}
	}
}

// composeMount is a docker-compose.yml volume of a file or directory of
// the compose directory: "- ./admin.token:/etc/logcapturer/admin.token:ro".
var composeMount = regexp.MustCompile(`(?m)^\s*-\s*(\./[^:\s]+):(/[^:\s]+)(?::ro)?\s*$`)

// composeAsMounted writes a copy of dir's logcapturer.yaml in which every
// path that docker-compose.yml mounts from dir names the file in dir, and
// returns the copy's path.
func composeAsMounted(t *testing.T, dir string) string {
	t.Helper()
	compose, err := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "logcapturer.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	for _, m := range composeMount.FindAllStringSubmatch(string(compose), -1) {
		host, err := filepath.Abs(filepath.Join(dir, m[1]))
		if err != nil {
			t.Fatal(err)
		}
		text = strings.ReplaceAll(text, m[2], host)
	}
	path := filepath.Join(t.TempDir(), "compose-logcapturer.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var metricName = regexp.MustCompile(`\b(logcapturer_[a-z_]+|go_[a-z_]+|process_[a-z_]+)`)

// TestDashboardMetricsExist: every metric the Grafana dashboard and the
// alert rules name is served by a running logcapturer with a file and a
// loki sink (histograms by their _bucket/_count series), before any fault.
func TestDashboardMetricsExist(t *testing.T) {
	var names []string
	for _, f := range []string{"../../deploy/grafana/logcapturer.json", "../../deploy/prometheus/alerts.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, metricName.FindAllString(string(b), -1)...)
	}
	r := lokitest.NewReceiver()
	defer r.Close()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "a.log"), []byte("one\n"), 0o644)
	addr := freePort(t)
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"]}]
sinks:
  - {name: archive, type: file, path: `+filepath.Join(dir, "out.log")+`, batch: {max_wait: 10ms}}
  - {name: loki, type: loki, url: "`+r.URL()+`", batch: {max_wait: 10ms}}
admin: {listen: "`+addr+`"}
`), 0o644)
	cfg, err := config.Load(cfgPath, &config.ParseOptions{SinkTypes: sinkTypes()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, slog.New(slog.DiscardHandler), cfgPath, cfg, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if err := r.WaitEntries(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	served := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		served[name] = true
	}
	var missing []string
	for _, n := range names {
		if !served[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard or alerts name metrics a running logcapturer does not serve: %v", missing)
	}
	// Every series the code defines exists before its first event (at
	// zero), so dashboards and alerts see it: read from the source, kafka's
	// aside (no kafka sink here; its own tests cover it).
	declared := regexp.MustCompile(`Name:\s*"(logcapturer_[a-z_]+)"`)
	srcs, _ := filepath.Glob("../../*/*.go")
	more, _ := filepath.Glob("../../*/*/*.go")
	var unserved []string
	for _, f := range append(srcs, more...) {
		if strings.HasSuffix(f, "_test.go") || strings.Contains(f, "/kafka/") || strings.Contains(f, "/scripts/") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range declared.FindAllStringSubmatch(string(b), -1) {
			if n := m[1]; !served[n] && !served[n+"_bucket"] && !served[n+"_count"] {
				unserved = append(unserved, n+" ("+filepath.Base(f)+")")
			}
		}
	}
	if len(unserved) > 0 {
		t.Errorf("metrics defined but not served before their first event: %v", unserved)
	}
	if !served["logcapturer_build_info"] {
		t.Error("no logcapturer_build_info")
	}
	// The whole registry follows Prometheus's naming conventions.
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric lint: %s: %s", p.Metric, p.Text)
	}
}
