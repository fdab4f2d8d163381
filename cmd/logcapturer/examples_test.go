package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources/kubepods/kubetest"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/sinks/otlp/otlptest"
	"github.com/logcapturer/logcapturer/sources"
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
// alert rules name, every one the Promtail migration guide names, and every series the code defines, is served by a
// running logcapturer with a file and a loki_push source, a file and a loki sink (histograms by their
// _bucket/_count series) before its first event: the first scrape is taken
// before any line was read or sent (the admin server starts last, once
// every source and sink has registered its metrics). A second scrape after
// a delivery checks the same.
func TestDashboardMetricsExist(t *testing.T) {
	var names []string
	for _, f := range []string{"../../deploy/grafana/logcapturer.json", "../../deploy/prometheus/alerts.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, metricName.FindAllString(string(b), -1)...)
	}
	// Every series the code defines exists before its first event (at
	// zero), so dashboards and alerts see it: read from the source, kafka's
	// aside (no kafka sink here; its own tests cover it).
	declared := regexp.MustCompile(`Name:\s*"(logcapturer_[a-z_]+)"`)
	srcs, _ := filepath.Glob("../../*/*.go")
	more, _ := filepath.Glob("../../*/*/*.go")
	var defined []string // "name (file)"
	for _, f := range append(srcs, more...) {
		if strings.HasSuffix(f, "_test.go") || strings.Contains(f, "/kafka/") || strings.Contains(f, "/scripts/") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range declared.FindAllStringSubmatch(string(b), -1) {
			defined = append(defined, m[1]+" ("+filepath.Base(f)+")")
		}
	}
	// The migration guide names histograms by their family, as defined.
	guide, err := os.ReadFile("../../deploy/promtail-migration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range metricName.FindAllString(string(guide), -1) {
		defined = append(defined, n+" (promtail-migration.md)")
	}

	r := lokitest.NewReceiver()
	defer r.Close()
	o := otlptest.NewReceiver()
	defer o.Close()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	logFile := filepath.Join(logs, "a.log")
	os.WriteFile(logFile, nil, 0o644) // tailed, empty: nothing to send before the first scrape
	addr := freePort(t)
	// A journald source whose journalctl stands for a quiet journal.
	quiet := filepath.Join(dir, "journalctl")
	os.WriteFile(quiet, []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755)
	kube := kubetest.New(t)
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources:
  - {name: pods, type: kubernetes, paths: ["`+dir+`/pods/*/*/*.log"], kubernetes: {api_server: "`+kube.URL+`", node_name: n1}}
  - {name: app, type: file, paths: ["`+logs+`/*.log"], pipeline_stages: [{regex: {expression: '^(?P<word>\S+)'}}]}
  - {name: journal, type: journald, journalctl_path: "`+quiet+`", sinks: [archive]}
  - {name: pushed, type: loki_push, listen_address: "`+freePort(t)+`"}
  - {name: otel, type: otlp, listen_address: "`+freePort(t)+`"}
  - {name: network, type: syslog, listen_address: "`+freePort(t)+`"}
sinks:
  - {name: archive, type: file, path: `+filepath.Join(dir, "out.log")+`, batch: {max_wait: 10ms}}
  - {name: loki, type: loki, url: "`+r.URL()+`", batch: {max_wait: 10ms}}
  - {name: collector, type: otlp, url: "`+o.URL()+`", batch: {max_wait: 10ms}}
admin: {listen: "`+addr+`"}
`), 0o644)
	cfg, err := config.Load(cfgPath, parseOptions())
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

	var body []byte
	waitFor(t, func() bool { // the admin server is up: everything is registered
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == http.StatusOK
	})
	if n := len(r.Requests()); n != 0 {
		t.Fatalf("%d pushes before the first scrape: nothing was written", n)
	}
	checkServed(t, "before the first event", body, names, defined)

	appendFile(t, logFile, "one\n")
	if err := r.WaitEntries(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	checkServed(t, "after a delivery", []byte(metricsText(t, addr)), names, defined)
}

// checkServed checks that the /metrics page body serves every metric in
// names, and a series of every metric in defined ("name (file)"), and that
// it follows Prometheus's naming conventions.
func checkServed(t *testing.T, when string, body []byte, names, defined []string) {
	t.Helper()
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
		t.Errorf("%s: the dashboard or alerts name metrics a running logcapturer does not serve: %v", when, missing)
	}
	var unserved []string
	for _, d := range defined {
		if n, _, _ := strings.Cut(d, " "); !served[n] && !served[n+"_bucket"] && !served[n+"_count"] {
			unserved = append(unserved, d)
		}
	}
	if len(unserved) > 0 {
		t.Errorf("%s: metrics defined but not served: %v", when, unserved)
	}
	if !served["logcapturer_build_info"] {
		t.Errorf("%s: no logcapturer_build_info", when)
	}
	// The whole registry follows Prometheus's naming conventions.
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: metric lint: %s: %s", when, p.Metric, p.Text)
	}
}

// TestQuickstartWritesNoTrackedFile: the README's quickstart runs the
// quickstart config, and the file it tells a newcomer to append to is one
// the config tails and git ignores, so trying it leaves the checkout clean.
func TestQuickstartWritesNoTrackedFile(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("go run ./cmd/logcapturer run --config examples/quickstart.yaml\n")) {
		t.Fatal("the README lost the quickstart command")
	}
	cfg, err := config.ParseWith("quickstart.yaml", mustRead(t, "../../examples/quickstart.yaml"), &config.ParseOptions{SinkTypes: sinkTypes(), SourceTypes: sourceTypes(), SkipDirCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	var globs []string
	for _, s := range cfg.Sources {
		globs = append(globs, s.Options.(*sources.FileConfig).Paths...)
	}
	targets := regexp.MustCompile(`>> (\S+)`).FindAllSubmatch(readme, -1)
	if len(targets) == 0 {
		t.Fatal("the README tells nobody where to append")
	}
	for _, m := range targets {
		target := string(m[1])
		matched := false
		for _, g := range globs {
			if ok, _ := filepath.Match(g, target); ok {
				matched = true
			}
		}
		if !matched {
			t.Errorf("the README appends to %s, which the quickstart's sources %v do not tail", target, globs)
		}
		git, err := exec.LookPath("git")
		if err != nil {
			t.Skip("no git to ask what it ignores")
		}
		cmd := exec.Command(git, "check-ignore", "-q", target)
		cmd.Dir = "../.."
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 1 {
				t.Errorf("the README appends to %s, which git does not ignore: the checkout gets dirty", target)
			} else {
				t.Skipf("git check-ignore: %v (not a git checkout?)", err)
			}
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
