// Package deploy holds the deployment kit (systemd unit, Prometheus alerts,
// Grafana dashboard, compose file); this test checks it with the real tools.
package deploy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sources"
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

// TestPromtailEquivalentRules: the rule group the Promtail migration guide
// gives for the Promtail mixin's alert names passes promtool check rules
// (the metrics it names exist: cmd's TestDashboardMetricsExist).
func TestPromtailEquivalentRules(t *testing.T) {
	b, err := os.ReadFile("promtail-migration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n```yaml\ngroups:\n  - name: promtail-equivalents\n")
	if !ok {
		t.Fatal("promtail-migration.md has no promtail-equivalents rule group")
	}
	rules, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatal("the promtail-equivalents rule group does not end")
	}
	for _, name := range []string{"PromtailRequestsErrors", "PromtailRequestLatency", "PromtailFileLagging", "PromtailFileMissing"} {
		if !strings.Contains(rules, "- alert: "+name+"\n") {
			t.Errorf("no %s in the promtail-equivalents rules", name)
		}
	}
	pt := tool(t, "promtool", "prometheus")
	path := filepath.Join(t.TempDir(), "promtail_equivalents.yml")
	os.WriteFile(path, []byte("groups:\n  - name: promtail-equivalents\n"+rules+"\n"), 0o644)
	runTool(t, "", pt, "check", "rules", path)
}

// TestDashboardShowsPipelineMetrics: the metrics of the sources'
// pipeline_stages each have a panel (drops by reason, stage errors, streams
// per source, entries beyond max_streams), and the warning alert on
// max_streams exists.
func TestDashboardShowsPipelineMetrics(t *testing.T) {
	exprs, err := dashboardExprs("grafana/logcapturer.json")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(exprs, "\n")
	for _, m := range []string{"logcapturer_pipeline_entries_dropped_total", "logcapturer_pipeline_errors_total",
		"logcapturer_source_streams{", "logcapturer_pipeline_streams_over_limit_total"} {
		if !strings.Contains(all, m) {
			t.Errorf("no dashboard panel queries %s", strings.TrimSuffix(m, "{"))
		}
	}
	rules, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rules), "increase(logcapturer_pipeline_streams_over_limit_total[") {
		t.Error("no alert on logcapturer_pipeline_streams_over_limit_total increasing")
	}
}

// TestDockerfileDataDir: the final image creates its data directory (the
// VOLUME) owned by the user it runs as, so a named volume mounted there
// starts writable by that user; the CMD and HEALTHCHECK read one config.
func TestDockerfileDataDir(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Instructions of the last stage, continuation lines joined.
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	var stage []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stage = nil
		}
		stage = append(stage, line)
	}
	var user, volume string
	copied := map[string]string{} // destination -> --chown
	volumeAt, copyAt := -1, -1
	for i, line := range stage {
		f := strings.Fields(line)
		switch f[0] {
		case "USER":
			user = f[1]
		case "VOLUME":
			var vs []string
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "VOLUME ")), &vs); err != nil || len(vs) != 1 {
				t.Fatalf("%s: want one volume as a JSON array (%v)", line, err)
			}
			volume, volumeAt = vs[0], i
		case "COPY":
			for _, a := range f[1:] {
				if o, ok := strings.CutPrefix(a, "--chown="); ok {
					copied[f[len(f)-1]] = o
					copyAt = i
				}
			}
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Fatalf("the image runs as %q, want a non-root user", user)
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "nonroot" {
		uid = "65532" // distroless's
	}
	if volume != "/var/lib/logcapturer" {
		t.Fatalf("VOLUME %q, want /var/lib/logcapturer (data_dir of the examples and compose)", volume)
	}
	owner, ok := copied[volume]
	if o, _, _ := strings.Cut(owner, ":"); !ok || o != uid || copyAt > volumeAt {
		t.Fatalf("the data directory %s is not created owned by the image's user %s before VOLUME (COPY --chown: %v)", volume, user, copied)
	}
	for _, want := range []string{`"health", "--config", "/etc/logcapturer/config.yaml"`, `CMD ["run", "--config", "/etc/logcapturer/config.yaml"`} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

// compose is the part of docker-compose.yml the checks read.
type compose struct {
	Services map[string]struct {
		Command  []string `yaml:"command"`
		User     string   `yaml:"user"`
		GroupAdd []string `yaml:"group_add"`
		Volumes  []string `yaml:"volumes"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// lcConfig is the part of a logcapturer config the checks read.
type lcConfig struct {
	DataDir string `yaml:"data_dir"`
	Sources []struct {
		Type  string   `yaml:"type"`
		Paths []string `yaml:"paths"`
	} `yaml:"sources"`
	Sinks []struct {
		URL string `yaml:"url"`
	} `yaml:"sinks"`
	Admin struct {
		Listen    string `yaml:"listen"`
		TokenFile string `yaml:"token_file"`
	} `yaml:"admin"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestComposeStackConsistent: the compose stack works as written: every
// path its logcapturer config reads is mounted (the config where the
// image looks for it, the token file, the log directories read-only, the
// data_dir on a named volume, writable), the container may read the
// host's root-only logs, Loki and the Prometheus target are services
// reached on the ports they listen on, and the alert rules are mounted
// where prometheus.yml loads them.
func TestComposeStackConsistent(t *testing.T) {
	var c compose
	readYAML(t, "compose/docker-compose.yml", &c)
	lc, ok := c.Services["logcapturer"]
	if !ok {
		t.Fatal("no logcapturer service")
	}
	type mount struct {
		src string
		ro  bool
	}
	mounts := map[string]mount{}
	for _, v := range lc.Volumes {
		f := strings.Split(v, ":")
		if len(f) < 2 {
			t.Fatalf("volume %q: want SRC:DST[:ro]", v)
		}
		mounts[f[1]] = mount{f[0], len(f) > 2 && f[2] == "ro"}
		if strings.HasPrefix(f[0], "./") {
			if _, err := os.Stat(filepath.Join("compose", f[0])); err != nil {
				t.Errorf("volume %q: %v", v, err)
			}
		}
	}
	// mounted returns the mount holding path.
	mounted := func(path string) (mount, bool) {
		for dst, m := range mounts {
			if path == dst || strings.HasPrefix(path, dst+"/") {
				return m, true
			}
		}
		return mount{}, false
	}
	cfgPath := "/etc/logcapturer/config.yaml"
	if m, ok := mounts[cfgPath]; !ok || m.src != "./logcapturer.yaml" {
		t.Fatalf("logcapturer.yaml is not mounted at %s (the image's CMD and HEALTHCHECK read it): %v", cfgPath, mounts)
	}
	if !strings.Contains(strings.Join(lc.Command, " "), "--config "+cfgPath) {
		t.Errorf("command %v does not read %s", lc.Command, cfgPath)
	}
	var cfg lcConfig
	readYAML(t, "compose/logcapturer.yaml", &cfg)
	if m, ok := mounts[cfg.DataDir]; !ok || m.ro || strings.ContainsAny(m.src, "./") {
		t.Errorf("data_dir %s is not a writable named volume: %+v", cfg.DataDir, m)
	} else if _, ok := c.Volumes[m.src]; !ok {
		t.Errorf("volume %s of data_dir is not declared under volumes:", m.src)
	}
	if _, ok := mounted(cfg.Admin.TokenFile); !ok {
		t.Errorf("admin.token_file %s is not mounted", cfg.Admin.TokenFile)
	}
	docker := false
	for _, s := range cfg.Sources {
		docker = docker || s.Type == "docker" || s.Type == "cri"
		for _, p := range s.Paths {
			dir := p
			if i := strings.IndexAny(p, "*?["); i >= 0 {
				dir = filepath.Dir(p[:i] + "x")
			}
			if m, ok := mounted(dir); !ok || !m.ro {
				t.Errorf("source path %s is not under a read-only mount: %v", p, mounts)
			}
		}
	}
	// nonroot cannot read Docker's json logs nor root:adm files.
	root := lc.User == "0" || strings.HasPrefix(lc.User, "0:")
	if !root && (docker || len(lc.GroupAdd) == 0) {
		t.Errorf("user %q, group_add %v: the container cannot read the host logs it is configured for (docker: %v)", lc.User, lc.GroupAdd, docker)
	}
	for _, s := range cfg.Sinks {
		if s.URL == "" {
			continue
		}
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Services[u.Hostname()]; !ok {
			t.Errorf("sink url %s: no service %s", s.URL, u.Hostname())
		}
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "compose/prometheus.yml", &prom)
	_, port, _ := strings.Cut(cfg.Admin.Listen, ":")
	if len(prom.ScrapeConfigs) == 0 || len(prom.ScrapeConfigs[0].StaticConfigs) == 0 ||
		!slices.Contains(prom.ScrapeConfigs[0].StaticConfigs[0].Targets, "logcapturer:"+port) {
		t.Errorf("prometheus does not scrape logcapturer:%s (admin.listen %s): %+v", port, cfg.Admin.Listen, prom.ScrapeConfigs)
	}
	for _, rf := range prom.RuleFiles {
		found := false
		for _, v := range c.Services["prometheus"].Volumes {
			if strings.Contains(v, ":/etc/prometheus/"+rf) {
				found = true
			}
		}
		if !found {
			t.Errorf("rule file %s is not mounted next to prometheus.yml", rf)
		}
	}
}

// TestKubernetesManifest: the DaemonSet kit works as written: its config
// loads (with the real source and sink types), every path the config
// reads is mounted (the pod logs read-only, the data directory writable on
// a hostPath, Promtail's positions), the node name reaches $HOSTNAME, the
// service account may list pods, and the probes and args read the config
// where the ConfigMap is mounted.
func TestKubernetesManifest(t *testing.T) {
	type probe struct {
		Exec struct {
			Command []string `yaml:"command"`
		} `yaml:"exec"`
	}
	b, err := os.ReadFile("kubernetes/logcapturer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name, Namespace string
		} `yaml:"metadata"`
		Rules []struct {
			APIGroups []string `yaml:"apiGroups"`
			Resources []string `yaml:"resources"`
			Verbs     []string `yaml:"verbs"`
		} `yaml:"rules"`
		RoleRef struct {
			Kind, Name string
		} `yaml:"roleRef"`
		Subjects []struct {
			Kind, Name, Namespace string
		} `yaml:"subjects"`
		Data map[string]string `yaml:"data"`
		Spec struct {
			Template struct {
				Spec struct {
					ServiceAccountName string `yaml:"serviceAccountName"`
					Containers         []struct {
						Args []string `yaml:"args"`
						Env  []struct {
							Name      string `yaml:"name"`
							ValueFrom struct {
								FieldRef struct {
									FieldPath string `yaml:"fieldPath"`
								} `yaml:"fieldRef"`
							} `yaml:"valueFrom"`
						} `yaml:"env"`
						SecurityContext struct {
							RunAsUser *int `yaml:"runAsUser"`
						} `yaml:"securityContext"`
						LivenessProbe  probe `yaml:"livenessProbe"`
						ReadinessProbe probe `yaml:"readinessProbe"`
						VolumeMounts   []struct {
							Name      string `yaml:"name"`
							MountPath string `yaml:"mountPath"`
							ReadOnly  bool   `yaml:"readOnly"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
					Volumes []struct {
						Name      string `yaml:"name"`
						ConfigMap *struct {
							Name string `yaml:"name"`
						} `yaml:"configMap"`
						HostPath *struct {
							Path string `yaml:"path"`
						} `yaml:"hostPath"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	objs := map[string]object{}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	for {
		var o object
		if err := dec.Decode(&o); err != nil {
			break
		}
		objs[o.Kind] = o
	}
	sa, role, binding, cm, ds := objs["ServiceAccount"], objs["ClusterRole"], objs["ClusterRoleBinding"], objs["ConfigMap"], objs["DaemonSet"]
	listsPods := false
	for _, r := range role.Rules {
		listsPods = listsPods || slices.Contains(r.Resources, "pods") && slices.Contains(r.Verbs, "list") && slices.Contains(r.APIGroups, "")
	}
	if !listsPods {
		t.Errorf("ClusterRole %s does not allow list pods: %+v", role.Metadata.Name, role.Rules)
	}
	if binding.RoleRef.Name != role.Metadata.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != sa.Metadata.Name ||
		binding.Subjects[0].Namespace != sa.Metadata.Namespace {
		t.Errorf("ClusterRoleBinding does not bind %s to %s/%s: %+v", role.Metadata.Name, sa.Metadata.Namespace, sa.Metadata.Name, binding)
	}
	pod := ds.Spec.Template.Spec
	if pod.ServiceAccountName != sa.Metadata.Name || len(pod.Containers) != 1 {
		t.Fatalf("DaemonSet: service account %q, %d containers", pod.ServiceAccountName, len(pod.Containers))
	}
	c := pod.Containers[0]
	nodeName := false
	for _, e := range c.Env {
		nodeName = nodeName || e.Name == "HOSTNAME" && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName"
	}
	if !nodeName {
		t.Errorf("HOSTNAME is not the node's name (fieldRef spec.nodeName): %+v", c.Env)
	}
	if c.SecurityContext.RunAsUser == nil || *c.SecurityContext.RunAsUser != 0 {
		t.Errorf("the container does not run as root: the pod logs are root's, mode 0640")
	}
	type mount struct {
		ro       bool
		hostPath string
		cm       string
	}
	mounts := map[string]mount{}
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != m.Name {
				continue
			}
			mt := mount{ro: m.ReadOnly}
			if v.HostPath != nil {
				mt.hostPath = v.HostPath.Path
			}
			if v.ConfigMap != nil {
				mt.cm = v.ConfigMap.Name
			}
			mounts[m.MountPath] = mt
		}
	}
	mounted := func(path string) (mount, bool) {
		for dst, m := range mounts {
			if path == dst || strings.HasPrefix(path, dst+"/") {
				return m, true
			}
		}
		return mount{}, false
	}
	const cfgPath = "/etc/logcapturer/config.yaml"
	if m, ok := mounted(cfgPath); !ok || m.cm != cm.Metadata.Name {
		t.Errorf("%s is not the ConfigMap %s: %+v", cfgPath, cm.Metadata.Name, mounts)
	}
	for what, cmd := range map[string][]string{"args": c.Args, "livenessProbe": c.LivenessProbe.Exec.Command, "readinessProbe": c.ReadinessProbe.Exec.Command} {
		if !strings.Contains(strings.Join(cmd, " "), "--config "+cfgPath) {
			t.Errorf("%s %v does not read %s", what, cmd, cfgPath)
		}
	}
	text, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatal("the ConfigMap has no config.yaml")
	}
	cfg, err := config.ParseWith("config.yaml", []byte(text), &config.ParseOptions{SkipDirCheck: true,
		SinkTypes: []config.SinkType{loki.SinkType()}, SourceTypes: []config.SourceType{sources.KubernetesSourceType()}})
	if err != nil {
		t.Fatalf("the ConfigMap's config does not load: %v", err)
	}
	if m, ok := mounted(cfg.DataDir); !ok || m.ro || m.hostPath == "" {
		t.Errorf("data_dir %s is not on a writable hostPath: %+v", cfg.DataDir, m)
	}
	if m, ok := mounted(cfg.Takeover.PromtailPositions); !ok || m.hostPath != "/run/promtail" {
		t.Errorf("takeover.promtail_positions %s is not Promtail's hostPath /run/promtail: %+v", cfg.Takeover.PromtailPositions, m)
	}
	for _, s := range cfg.Sources {
		for _, p := range s.Options.(*sources.FileConfig).Paths {
			dir := filepath.Dir(p[:strings.IndexAny(p+"*", "*?[")] + "x")
			if m, ok := mounted(dir); !ok || !m.ro || m.hostPath != dir {
				t.Errorf("source %s path %s is not its host's directory, mounted read-only: %+v", s.Name, p, mounts)
			}
		}
	}
}
