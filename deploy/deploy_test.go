// Package deploy holds the deployment kit (systemd unit, Prometheus alerts,
// Grafana dashboard, compose file); this test checks it with the real tools.
package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tool returns the path of a tool or skips the test, saying how to get it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found: install Debian's %s package to run this check (.ci/run does)", name, pkg)
	}
	return p
}

func runTool(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestSystemdUnit runs systemd-analyze verify on the unit, with ExecStart
// pointing at an executable that exists here.
func TestSystemdUnit(t *testing.T) {
	sa := tool(t, "systemd-analyze", "systemd")
	unit, err := os.ReadFile("systemd/logcapturer.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "ExecStartPre=/usr/local/bin/logcapturer check", "ExecReload=/bin/kill -HUP $MAINPID",
		"Restart=on-failure", "StateDirectory=logcapturer", "ProtectSystem=strict", "ReadWritePaths=/var/lib/logcapturer",
		"NoNewPrivileges=yes", "CapabilityBoundingSet=CAP_DAC_READ_SEARCH", "MemoryMax="} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "logcapturer.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/logcapturer", self)), 0o644)
	runTool(t, "", sa, "verify", path)
}

// TestAlertRules checks the rules and fires each alert from synthetic
// series (promtool test rules).
func TestAlertRules(t *testing.T) {
	pt := tool(t, "promtool", "prometheus")
	runTool(t, "prometheus", pt, "check", "rules", "alerts.yml")
	runTool(t, "prometheus", pt, "test", "rules", "alerts_test.yml")
	// Every alert has a unit test and a runbook section.
	rules, _ := os.ReadFile("prometheus/alerts.yml")
	tests, _ := os.ReadFile("prometheus/alerts_test.yml")
	readme, _ := os.ReadFile("README.md")
	for _, line := range strings.Split(string(rules), "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "- alert: ")
		if !ok {
			continue
		}
		if !strings.Contains(string(tests), "alertname: "+name) {
			t.Errorf("alert %s has no promtool unit test", name)
		}
		if !strings.Contains(string(readme), "### "+name) {
			t.Errorf("alert %s has no runbook section in deploy/README.md", name)
		}
	}
}

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// dashboardExprs returns every panel query with Grafana's variables
// replaced, so Prometheus can parse it.
func dashboardExprs(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*", "$sink", ".*")
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, r.Replace(tg.Expr))
		}
	}
	return out, nil
}

// TestDashboardQueriesParse: the dashboard is valid JSON and every panel's
// PromQL parses (each becomes a recording rule for promtool check rules).
func TestDashboardQueriesParse(t *testing.T) {
	exprs, err := dashboardExprs("grafana/logcapturer.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(exprs) < 16 {
		t.Fatalf("%d queries: the dashboard lost panels", len(exprs))
	}
	pt := tool(t, "promtool", "prometheus")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(e)
		fmt.Fprintf(&rules, "      - record: dashboard:query_%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	os.WriteFile(path, []byte(rules.String()), 0o644)
	runTool(t, "", pt, "check", "rules", path)
}
