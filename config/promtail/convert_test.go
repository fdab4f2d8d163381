package promtail

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/journald"
	"github.com/logcapturer/logcapturer/sources/lokipush"
	"github.com/logcapturer/logcapturer/sources/syslog"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func noEnv(string) (string, bool) { return "", false }

// testEnv is the environment the converted configs are read with.
func testEnv(k string) (string, bool) {
	v, ok := map[string]string{"LOKI_URL": "http://loki:3100/loki/api/v1/push"}[k]
	return v, ok
}

func parseOpts() *config.ParseOptions {
	return &config.ParseOptions{
		SkipDirCheck: true, LookupEnv: testEnv,
		SinkTypes: []config.SinkType{loki.SinkType()},
		SourceTypes: []config.SourceType{sources.FileSourceType(), sources.DockerSourceType(), sources.CRISourceType(), sources.KubernetesSourceType(),
			journald.SourceType(), syslog.SourceType(), syslog.GELFSourceType(), lokipush.SourceType()},
	}
}

// TestConvertGolden converts each Promtail config of testdata, compares
// the result with its golden file, and checks that the native config
// loads (what logcapturer check does with the converted file).
func TestConvertGolden(t *testing.T) {
	for _, name := range []string{"full", "static", "notargets", "relabel", "journal", "syslog", "gelf", "push", "docker", "kubernetes"} {
		t.Run(name, func(t *testing.T) {
			r, err := Load(filepath.Join("testdata", name+".yaml"), &Options{KeepEnv: true, LookupEnv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, r.YAML, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(r.YAML) {
				t.Errorf("converted config differs from %s (go test -update):\n%s", golden, r.YAML)
			}
			if _, err := config.ParseWith(name+".converted.yaml", r.YAML, parseOpts()); err != nil {
				t.Fatalf("the converted config does not load:\n%v", err)
			}
			if _, err := r.Parse(parseOpts()); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
}

// TestConvertRelabel checks the labels and paths the relabel rules give
// static targets, as Promtail's file target manager computes them.
func TestConvertRelabel(t *testing.T) {
	r, err := Load("testdata/relabel.yaml", &Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := r.Parse(parseOpts())
	if err != nil {
		t.Fatal(err)
	}
	type src struct {
		name, path string
		labels     map[string]string
	}
	var got []src
	for _, s := range cfg.Sources {
		got = append(got, src{s.Name, s.Options.(*sources.FileConfig).Paths[0], s.Labels})
	}
	// hashmod of "web" and "db" modulo 4, as Prometheus computes it.
	want := []src{
		{"apps-1", "/srv/web/*.log", map[string]string{"app": "web", "APP": "WEB", "instance": "host-a", "team": "payments", "shard": got[0].labels["shard"]}},
		{"apps-2", "/srv/web/*.log", map[string]string{"app": "web", "APP": "WEB", "instance": "host-b", "team": "payments", "shard": got[0].labels["shard"]}},
		{"apps-3", "/srv/db/*.log", map[string]string{"app": "db", "APP": "DB", "instance": "host-c", "shard": got[2].labels["shard"]}},
		{"dropped", "/srv/prod/*.log", map[string]string{"env": "prod"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sources, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].name != want[i].name || got[i].path != want[i].path || !equalMaps(got[i].labels, want[i].labels) {
			t.Errorf("source %d: got %+v, want %+v", i, got[i], want[i])
		}
		if got[i].labels["shard"] == "" && i < 3 {
			t.Errorf("source %d: no shard label", i)
		}
	}
	if len(cfg.Sinks) != 2 || cfg.Sinks[0].Name != "loki-1" || cfg.Sinks[1].Name != "loki-2" {
		t.Errorf("sinks: %+v", cfg.Sinks)
	}
	o := cfg.Sinks[1].Options.(*loki.Options)
	if o.BearerTokenFile != "/etc/promtail/token" || o.TLS.CAFile != "/etc/promtail/ca.pem" || o.TLS.KeyFile != "/etc/promtail/client.key" {
		t.Errorf("second client: %+v", o)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// TestConvertFull checks the values of every covered key of full.yaml,
// with the environment expanded (run and check) and kept (convert).
func TestConvertFull(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"LOKI_URL": "http://loki:3100/loki/api/v1/push", "LOG_DIR": "/data/logs"}[k]
		return v, ok
	}
	r, err := Load("testdata/full.yaml", &Options{LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	popts := parseOpts()
	popts.LookupEnv = env
	cfg, err := r.Parse(popts)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Listen != "127.0.0.1:9080" || cfg.Takeover.PromtailPositions != "/tmp/positions.yaml" {
		t.Errorf("admin %q, takeover %+v", cfg.Admin.Listen, cfg.Takeover)
	}
	s := cfg.Sinks[0]
	o := s.Options.(*loki.Options)
	if o.URL != "http://loki:3100/loki/api/v1/push" || o.TenantID != "tenant1" || o.BasicAuth.Username != "promtail" ||
		o.BasicAuth.PasswordFile != "/etc/promtail/password" || o.Labels["host"] != "edge-1" || o.Headers["X-Team"] != "logs" ||
		o.Timeout.String() != "15s" || o.ProxyURL != "http://proxy.corp:3128" || o.NoProxy != "loki.internal,10.0.0.0/8" {
		t.Errorf("sink options: %+v", o)
	}
	if s.Batch.MaxWait.String() != "2s" || s.Batch.MaxBytes != 524288 || s.Retry.MinBackoff.String() != "1s" ||
		s.Retry.MaxBackoff.String() != "1m0s" || s.Retry.MaxAttempts != 5 {
		t.Errorf("sink batch/retry: %+v %+v", s.Batch, s.Retry)
	}
	fc := cfg.Sources[0].Options.(*sources.FileConfig)
	if fc.Paths[0] != "/data/logs/*.log" || fc.Exclude[0] != "/data/logs/debug.log" || fc.PollInterval.String() != "5s" ||
		fc.MaxLineBytes != 512000 || cfg.Sources[0].Labels["job"] != "varlogs" {
		t.Errorf("source: %+v labels %v", fc, cfg.Sources[0].Labels)
	}
	if st := cfg.Sources[1].PipelineStages; st == nil || len(st.Content) != 3 || st.Content[2].Content[0].Value != "limit" {
		t.Errorf("pipeline_stages of app: %+v", st)
	}
	if !slices.ContainsFunc(r.Notes, func(p config.Problem) bool { return p.Key == "limits_config.max_streams" && p.Line == 41 }) {
		t.Errorf("no note for max_streams: %v", r.Notes)
	}
}

// TestConvertProblems checks that bad Promtail configs give every problem
// at its line, with Promtail's key path.
func TestConvertProblems(t *testing.T) {
	const head = "clients:\n  - url: http://localhost:3100/loki/api/v1/push\n"
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"yaml error", head + "scrape_configs:\n  - job_name: a\n   static_configs: [\n", []string{"t.yaml:3: invalid YAML"}},
		{"unknown key", head + "scrape_configs:\n  - job_name: a\n    static_config:\n      - labels: {__path__: /x}\n",
			[]string{"t.yaml:5: scrape_configs[0].static_config: unknown key"}},
		{"stage shape", head + "scrape_configs:\n  - job_name: a\n    pipeline_stages:\n      - regex: [a]\n    static_configs:\n      - labels: {__path__: /x}\n",
			[]string{"t.yaml:6: scrape_configs[0].pipeline_stages[0].regex"}},
		{"stage list", head + "scrape_configs:\n  - job_name: a\n    pipeline_stages:\n      json:\n        expressions: {a: b}\n    static_configs:\n      - labels: {__path__: /x}\n",
			[]string{"t.yaml:6: scrape_configs[0].pipeline_stages: must be a list of stages"}},
		{"relabel regex", head + "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [a]\n        regex: '(unclosed'\n        target_label: b\n    static_configs:\n      - labels: {__path__: /x}\n",
			[]string{"t.yaml:7: scrape_configs[0].relabel_configs[0].regex: does not compile"}},
		{"relabel action", head + "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: explode\n    static_configs:\n      - labels: {__path__: /x}\n",
			[]string{"t.yaml:6: scrape_configs[0].relabel_configs[0]: unknown relabel action"}},
		{"no url", "clients:\n  - tenant_id: x\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__path__: /x}\n",
			[]string{"t.yaml:2: clients[0].url: is required"}},
		{"bad duration", head + "  - url: http://b/\n    batchwait: soon\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__path__: /x}\n",
			[]string{"t.yaml:4: clients[1].batchwait: must be a duration"}},
		{"authorization type", "clients:\n  - url: http://localhost:3100/loki/api/v1/push\n    authorization:\n      type: Token\n      credentials: x\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__path__: /x}\n",
			[]string{"t.yaml:4: clients[0].authorization.type: \"Token\": the loki sink sends Authorization: Bearer only"}},
		{"authorization twice", "clients:\n  - url: http://localhost:3100/loki/api/v1/push\n    authorization:\n      credentials: x\n      credentials_file: /f\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__path__: /x}\n",
			[]string{"bearer_token and bearer_token_file"}},
		{"double star inside an element", head + "scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels:\n          __path__: /var/log/**.log\n",
			[]string{"t.yaml:6: scrape_configs[0].static_configs[0].labels.__path__: \"**\" must be a whole path element"}},
		// A problem the native check finds comes back at the Promtail line.
		{"native problem", "clients:\n  - url: http://localhost:3100/loki/api/v1/push\n    headers:\n      Authorization: x\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__path__: /x}\n",
			[]string{"t.yaml:3: clients[0].headers: \"Authorization\" is set by the sink"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Convert("t.yaml", []byte(tc.yaml), &Options{LookupEnv: noEnv})
			if err == nil {
				_, err = r.Parse(parseOpts())
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a *config.Error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems do not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestConvertUnsupported checks that every part not covered is listed at
// its line, and that SkipUnsupported converts the rest (journal, syslog
// and loki_push_api included) and lists them.
func TestConvertUnsupported(t *testing.T) {
	data, err := os.ReadFile("testdata/unsupported.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantLines := map[string]int{
		"scrape_configs[1].consul_sd_configs": 9, "scrape_configs[5].docker_sd_configs[0].host": 25, "scrape_configs[6].windows_events": 27,
		"scrape_configs[7].gcplog": 30, "scrape_configs[8].cloudflare": 33, "scrape_configs[9].heroku_drain": 36,
		"scrape_configs[11].kafka": 43, "scrape_configs[12].azure_event_hubs": 46,
		"scrape_configs[13].consul_sd_configs": 49,
	}
	_, err = Convert("u.yaml", data, &Options{LookupEnv: noEnv})
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a *config.Error, got %v", err)
	}
	check := func(ps []config.Problem) {
		t.Helper()
		got := map[string]int{}
		for _, p := range ps {
			got[p.Key] = p.Line
		}
		for k, line := range wantLines {
			if got[k] != line {
				t.Errorf("%s: line %d, want %d (%v)", k, got[k], line, ps)
			}
		}
		if len(ps) != len(wantLines) {
			t.Errorf("%d problems, want %d: %v", len(ps), len(wantLines), ps)
		}
	}
	check(ce.Problems)

	r, err := Convert("u.yaml", data, &Options{LookupEnv: noEnv, SkipUnsupported: true})
	if err != nil {
		t.Fatal(err)
	}
	check(r.Left)
	cfg, err := r.Parse(parseOpts())
	if err != nil {
		t.Fatal(err)
	}
	// journal, syslog, loki_push_api and gelf are converted (see their
	// golden tests); the rest is left out.
	var names []string
	for _, s := range cfg.Sources {
		names = append(names, s.Name+":"+string(s.Type))
	}
	if want := []string{"files:file", "journal:journald", "syslog:syslog", "push:loki_push", "gelf:gelf"}; !slices.Equal(names, want) {
		t.Errorf("sources %v, want %v", names, want)
	}
}

// TestEnv checks Promtail's -config.expand-env semantics and the
// references convert keeps.
func TestEnv(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"A": "x", "EMPTY": ""}[k]
		return v, ok
	}
	for _, tc := range []struct{ in, expanded, kept string }{
		{"${A}", "x", "${A:-}"},
		// Promtail's envsubst expands only ${...}: a password "Pa$sw0rd"
		// and a template's {{ $v }} stay as written.
		{"$A/b", "$A/b", "$A/b"},
		{"Pa$sw0rd", "Pa$sw0rd", "Pa$sw0rd"},
		{"{{ $v := .Value }}{{ $v }}", "{{ $v := .Value }}{{ $v }}", "{{ $v := .Value }}{{ $v }}"},
		// Its escapes are not applied (noted by the caller).
		{`C:\\logs`, `C:\\logs`, `C:\\logs`},
		{`\d+\s`, `\d+\s`, `\d+\s`},
		{"${UNSET}", "", "${UNSET:-}"},
		{"${UNSET:-d}", "d", "${UNSET:-d}"},
		{"${EMPTY:-d}", "d", "${EMPTY:-d}"},
		{"a$$b", "a$b", "a$b"},
		{"end$", "end$", "end$"},
		{"$${A}", "${A}", "$${A}"},
		{"$$$A", "$$A", "$$$A"},
		{"$$${A}", "$x", "$$${A:-}"},
		{"re(x)$", "re(x)$", "re(x)$"},
	} {
		got, errs := expandEnv(tc.in, env)
		if got != tc.expanded || len(errs) > 0 {
			t.Errorf("expandEnv(%q) = %q %v, want %q", tc.in, got, errs, tc.expanded)
		}
		// What convert writes reads back, in logcapturer, as Promtail's value.
		if k := keepRefs(tc.in); k != tc.kept {
			t.Errorf("keepRefs(%q) = %q, want %q", tc.in, k, tc.kept)
		}
	}
	if _, errs := expandEnv("${A", env); len(errs) != 1 {
		t.Errorf("unterminated: %v", errs)
	}
	// envsubst would give B's value; a silent literal "${B}" would be
	// wrong: refused.
	if _, errs := expandEnv("${A:-${B}}", env); len(errs) != 1 || !strings.Contains(errs[0], "nested") {
		t.Errorf("nested: %v", errs)
	}
}

// TestConvertDockerProblems: the parts of docker_sd_configs that do not
// reduce to json-file logs on this host are each a problem at their
// line: a remote daemon, a filter that is not name, id, label or status
// running, a relabel rule reading a label only the Docker API gives; a
// name filter that is not a regular expression and a missing host too.
func TestConvertDockerProblems(t *testing.T) {
	const head = "clients:\n  - url: http://localhost:3100/loki/api/v1/push\nscrape_configs:\n  - job_name: d\n    docker_sd_configs:\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"remote host", head + "      - host: tcp://10.0.0.5:2375\n", "t.yaml:6: scrape_configs[0].docker_sd_configs[0].host: \"tcp://10.0.0.5:2375\": only a local Docker daemon"},
		{"network filter", head + "      - host: unix:///var/run/docker.sock\n        filters:\n          - name: network\n            values: [shop]\n",
			"t.yaml:8: scrape_configs[0].docker_sd_configs[0].filters[0]: filter \"network\": only name, id and label filters are covered"},
		{"exited", head + "      - host: unix:///var/run/docker.sock\n        filters:\n          - name: status\n            values: [exited]\n",
			"t.yaml:8: scrape_configs[0].docker_sd_configs[0].filters[0]: status filter \"exited\""},
		{"api label", head + "      - host: unix:///var/run/docker.sock\n    relabel_configs:\n      - source_labels: [__meta_docker_network_ip]\n        target_label: ip\n",
			"t.yaml:8: scrape_configs[0].relabel_configs[0].source_labels: __meta_docker_network_ip: only the Docker API gives it"},
		{"bad regex", head + "      - host: unix:///var/run/docker.sock\n        filters:\n          - name: name\n            values: ['(web']\n",
			"t.yaml:8: scrape_configs[0].docker_sd_configs[0].filters[0].values: \"(web\" does not compile"},
		{"no host", head + "      - port: 80\n", "t.yaml:6: scrape_configs[0].docker_sd_configs[0].host: is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert("t.yaml", []byte(tc.yaml), &Options{LookupEnv: noEnv})
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a *config.Error, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("problems do not contain %q:\n%v", tc.want, err)
			}
		})
	}
}

// TestConvertDockerDataRoot: the converted source reads the json-file
// logs under Options.DockerDataRoot.
func TestConvertDockerDataRoot(t *testing.T) {
	_, cfg := convertParse(t, "clients:\n  - url: http://l/\nscrape_configs:\n  - job_name: d\n    docker_sd_configs:\n      - host: unix:///var/run/docker.sock\n", Options{LookupEnv: noEnv, DockerDataRoot: "/srv/docker"})
	fc := cfg.Sources[0].Options.(*sources.FileConfig)
	if cfg.Sources[0].Type != "docker" || !slices.Equal(fc.Paths, []string{"/srv/docker/containers/*/*-json.log"}) || !fc.PromtailLabels {
		t.Errorf("source %s: %+v", cfg.Sources[0].Type, fc)
	}
}

// TestConvertAuthorization: a client's authorization section (Bearer, the
// default type) becomes the sink's bearer token, from credentials or
// credentials_file.
func TestConvertAuthorization(t *testing.T) {
	for _, c := range []struct{ auth, token, file string }{
		{"      credentials: s3cret\n", "s3cret", ""},
		{"      type: Bearer\n      credentials_file: /etc/promtail/token\n", "", "/etc/promtail/token"},
	} {
		src := "clients:\n  - url: http://localhost:3100/loki/api/v1/push\n    authorization:\n" + c.auth +
			"scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__path__: /x}\n"
		_, cfg := convertParse(t, src, Options{LookupEnv: noEnv})
		o := cfg.Sinks[0].Options.(*loki.Options)
		if o.BearerToken != c.token || o.BearerTokenFile != c.file {
			t.Errorf("%q: bearer_token %q, bearer_token_file %q", c.auth, o.BearerToken, o.BearerTokenFile)
		}
	}
}

// TestConvertEmptyLabels: a label with an empty value (written so, or a
// ${HOSTNAME} that is not set where Promtail ran under systemd) is no
// label in Promtail's streams. The converter leaves it out with a note
// (journal, syslog, a client's external_labels) instead of writing a
// config that does not load; a kept ${VAR} reference stays and is left out
// when it expands to nothing. A journal job with a static label gets no
// note about entries without labels.
func TestConvertEmptyLabels(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
    external_labels:
      host: ""
      dc: ${DC}
scrape_configs:
  - job_name: j
    journal:
      labels:
        job: j
        env: ""
        host: ${HOSTNAME}
  - job_name: bare
    journal: {}
  - job_name: s
    syslog:
      listen_address: 0.0.0.0:1514
      labels:
        env: ""
`
	r, err := Convert("t.yaml", []byte(src), &Options{KeepEnv: true, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(r.YAML), "host: ${HOSTNAME:-}") || !strings.Contains(string(r.YAML), "dc: ${DC:-}") {
		t.Errorf("the references are not kept:\n%s", r.YAML)
	}
	var notes []string
	for _, n := range r.Notes {
		if strings.Contains(n.Msg, "empty value") || strings.Contains(n.Msg, "without any label") {
			notes = append(notes, n.Key)
		}
	}
	want := []string{"clients[0].external_labels.host", "scrape_configs[0].journal.labels.env",
		"scrape_configs[1].journal", "scrape_configs[2].syslog.labels.env"}
	slices.Sort(notes)
	if !slices.Equal(notes, want) {
		t.Errorf("notes on %v, want %v", notes, want)
	}
	cfg, err := r.Parse(parseOpts())
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sources[0].Labels; len(got) != 1 || got["job"] != "j" {
		t.Errorf("journal labels %v, want job=j only", got)
	}
	if got := cfg.Sources[2].Labels; len(got) != 0 {
		t.Errorf("syslog labels %v, want none", got)
	}
	if o := cfg.Sinks[0].Options.(*loki.Options); len(o.Labels) != 1 || o.Labels["dc"] != "" {
		t.Errorf("sink labels %v, want dc (empty: left out when sending)", o.Labels)
	}
}

// TestConvertStaticKeepsRefs: convert (KeepEnv) writes a static target's
// ${VAR} references as written, so a file converted once for a fleet reads
// ${HOSTNAME} on each host, not the converting machine's; a value that
// relabel_configs changed is written as relabeling made it.
func TestConvertStaticKeepsRefs(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: a
    static_configs:
      - labels:
          job: a
          host: ${HOSTNAME}
          site: ${SITE}
          env: ${ENV}
          __path__: ${LOGDIR:-/var/log}/app.log
    relabel_configs:
      - source_labels: [env]
        regex: (.*)
        replacement: env-$1
        target_label: env
`
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"HOSTNAME": "convhost", "ENV": "prod"}[k]
		return v, ok
	}
	r, err := Convert("t.yaml", []byte(src), &Options{KeepEnv: true, LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"host: ${HOSTNAME:-}", "env: env-prod", "- ${LOGDIR:-/var/log}/app.log"} {
		if !strings.Contains(string(r.YAML), want) {
			t.Errorf("no %q in:\n%s", want, r.YAML)
		}
	}
	// SITE is not set here and a rule could have read it: relabeling
	// decided, with the value it saw.
	if strings.Contains(string(r.YAML), "SITE") {
		t.Errorf("site kept:\n%s", r.YAML)
	}
	if strings.Contains(string(r.YAML), "convhost") {
		t.Errorf("the converting machine's HOSTNAME is in the result:\n%s", r.YAML)
	}
}

// TestConvertNoSources: a config with nothing logcapturer can run gets
// one message that says what can run; when its scrape configs are all
// not covered, those say it (and with --skip-unsupported, that nothing is
// left), not a second message that only static_configs would do.
func TestConvertNoSources(t *testing.T) {
	head := "clients:\n  - url: http://loki:3100/loki/api/v1/push\n"
	k8s := head + "scrape_configs:\n  - job_name: services\n    consul_sd_configs:\n      - server: localhost:8500\n"
	for _, tc := range []struct {
		name, src string
		skip      bool
		want      []string // each problem's message starts so
	}{
		{"empty", head + "scrape_configs: []\n", false, []string{"no scrape config that logcapturer can run: give a static_configs target with a __path__ label, a journal, syslog or loki_push_api target, docker_sd_configs"}},
		{"not covered", k8s, false, []string{"consul_sd_configs: service discovery is not covered"}},
		{"not covered, skipped", k8s, true, []string{"nothing is left to run: every scrape config is one logcapturer does not cover"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert("t.yaml", []byte(tc.src), &Options{LookupEnv: noEnv, SkipUnsupported: tc.skip})
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a *config.Error, got %v", err)
			}
			if len(ce.Problems) != len(tc.want) {
				t.Fatalf("problems %v, want %d", ce.Problems, len(tc.want))
			}
			for i, p := range ce.Problems {
				if !strings.HasPrefix(p.Msg, tc.want[i]) {
					t.Errorf("problem %d: %q, want it to start with %q", i, p.Msg, tc.want[i])
				}
			}
		})
	}
}

// TestConvertDockerLabelFilterNote: the note on a label filter without a
// value is there only when one has no value.
func TestConvertDockerLabelFilterNote(t *testing.T) {
	const head = "clients:\n  - url: http://localhost:3100/loki/api/v1/push\nscrape_configs:\n  - job_name: d\n    docker_sd_configs:\n" +
		"      - host: unix:///var/run/docker.sock\n        filters:\n          - name: label\n            values: "
	for values, want := range map[string]bool{`["com.docker.compose.project=shop"]`: false, `["team", "app=web"]`: true} {
		r, err := Convert("t.yaml", []byte(head+values+"\n"), &Options{LookupEnv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		got := slices.ContainsFunc(r.Notes, func(p config.Problem) bool { return strings.Contains(p.Msg, "a label filter without a value") })
		if got != want {
			t.Errorf("%s: note %v, want %v", values, got, want)
		}
	}
}

// TestConvertURLCredentials: a client url with a user and password (as
// Grafana Cloud's instructions write it) converts to basic_auth and the
// url without them (the loki sink refuses credentials in its url); Go's
// client, Promtail's, sends them and none of the client's basic_auth or
// authorization, so those are left out with a note. References stay
// references.
func TestConvertURLCredentials(t *testing.T) {
	const tail = "scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__path__: /x}\n"
	for _, tc := range []struct {
		name, client            string
		env                     map[string]string
		url, user, pass, output string // output: a line of the converted file
		noted                   bool
	}{
		{name: "grafana cloud", client: "  - url: https://123456:glc_eyJr%2Fx%40y@logs-prod-us-central1.grafana.net/loki/api/v1/push\n",
			url: "https://logs-prod-us-central1.grafana.net/loki/api/v1/push", user: "123456", pass: "glc_eyJr/x@y"},
		{name: "references", client: "  - url: https://${LOKI_USER}:${LOKI_TOKEN:-a:b}@logs.example.com:8443/loki/api/v1/push?x=1\n",
			env: map[string]string{"LOKI_USER": "me"},
			url: "https://logs.example.com:8443/loki/api/v1/push?x=1", user: "me", pass: "a:b", output: "password: ${LOKI_TOKEN:-a:b}"},
		{name: "basic_auth too", client: "  - url: http://u:p@loki:3100/loki/api/v1/push\n    basic_auth: {username: other, password: secret}\n",
			url: "http://loki:3100/loki/api/v1/push", user: "u", pass: "p", noted: true},
		{name: "no credentials", client: "  - url: http://loki:3100/loki/api/v1/push\n", url: "http://loki:3100/loki/api/v1/push"},
		// Decoded as Go's URL parser (Promtail's) decodes them, references
		// or not elsewhere in the url.
		{name: "encoded with a reference", client: "  - url: https://123456:glc_ab%2Fcd%24x@${LOKI_HOST}/loki/api/v1/push\n",
			env: map[string]string{"LOKI_HOST": "logs.example.com"},
			url: "https://logs.example.com/loki/api/v1/push", user: "123456", pass: "glc_ab/cd$x", output: "password: glc_ab/cd$x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			r, cfg := convertParse(t, "clients:\n"+tc.client+tail, Options{KeepEnv: true, LookupEnv: lookup})
			if tc.output != "" && !strings.Contains(string(r.YAML), tc.output) {
				t.Errorf("no %q in:\n%s", tc.output, r.YAML)
			}
			if strings.Contains(string(r.YAML), "secret") {
				t.Errorf("the unused basic_auth is in the result:\n%s", r.YAML)
			}
			noted := slices.ContainsFunc(r.Notes, func(p config.Problem) bool {
				return strings.Contains(p.Msg, "the user and password in the url are sent")
			})
			if noted != tc.noted {
				t.Errorf("note %v, want %v: %v", noted, tc.noted, r.Notes)
			}
			o := cfg.Sinks[0].Options.(*loki.Options)
			if o.URL != tc.url || o.BasicAuth.Username != tc.user || o.BasicAuth.Password != tc.pass {
				t.Errorf("url %q, basic_auth %q %q; want %q, %q %q", o.URL, o.BasicAuth.Username, o.BasicAuth.Password, tc.url, tc.user, tc.pass)
			}
		})
	}
}

func TestSplitUserinfo(t *testing.T) {
	for _, tc := range []struct{ in, rest, user, pass string }{
		{"https://u:p@h/x", "https://h/x", "u", "p"},
		{"https://u@h:1/x?a=b#c", "https://h:1/x?a=b#c", "u", ""},
		{"https://${U}:${P:-a/b?c}@h/x", "https://h/x", "${U}", "${P:-a/b?c}"},
		{"https://${U:-me}:p:q@${HOST}/x", "https://${HOST}/x", "${U:-me}", "p:q"},
		{"https://h/path@with-at", "", "", ""},
		{"h@x", "", "", ""},
	} {
		rest, user, pass, ok := splitUserinfo(tc.in)
		if ok != (tc.rest != "") || rest != tc.rest || user != tc.user || pass != tc.pass {
			t.Errorf("%q: %q %q %q %v; want %q %q %q", tc.in, rest, user, pass, ok, tc.rest, tc.user, tc.pass)
		}
	}
}

// TestConvertSkipLeavesJobOut: with SkipUnsupported a job left out whole
// (its only targets not covered) has no problems of its own reported.
func TestConvertSkipLeavesJobOut(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: services
    consul_sd_configs:
      - server: localhost:8500
    pipeline_stages:
      - label_drop: [x]
  - job_name: files
    static_configs:
      - labels: {__path__: /var/log/a.log}
`
	r, err := Convert("t.yaml", []byte(src), &Options{LookupEnv: noEnv, SkipUnsupported: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Left) != 1 || r.Left[0].Key != "scrape_configs[0].consul_sd_configs" {
		t.Errorf("left out: %v", r.Left)
	}
	if _, err := Convert("t.yaml", []byte(src), &Options{LookupEnv: noEnv}); err == nil || !strings.Contains(err.Error(), `unknown stage "label_drop"`) {
		t.Errorf("without SkipUnsupported the job's problems are reported: %v", err)
	}
}

// TestConvertShadowedFileJob: Promtail's file target manager keeps one
// scrape config per job_name, the last: an earlier static job of the same
// name never ran, so it is left out (with a note), and the same streams
// as Promtail's reach Loki. A journal job of that name is not affected.
func TestConvertShadowedFileJob(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: system
    static_configs:
      - labels: {job: consul, __path__: /var/log/consul*.log}
  - job_name: system
    static_configs:
      - labels: {job: nomad, __path__: /var/log/nomad*.log}
  - job_name: journal
    journal: {labels: {job: journal}}
`
	r, cfg := convertParse(t, src, Options{LookupEnv: noEnv})
	var got []string
	for _, s := range cfg.Sources {
		got = append(got, s.Name+":"+s.Labels["job"])
	}
	if want := []string{"system:nomad", "journal:journal"}; !slices.Equal(got, want) {
		t.Errorf("sources %v, want %v", got, want)
	}
	if !slices.ContainsFunc(r.Notes, func(p config.Problem) bool {
		return p.Key == "scrape_configs[0]" && p.Line == 4 && strings.Contains(p.Msg, "runs only the last scrape config named \"system\"")
	}) {
		t.Errorf("no note at scrape_configs[0]: %v", r.Notes)
	}
}

// TestConvertURLCredentialsInOneReference: a url that is one reference
// holding a user and password cannot keep the reference and lose the
// credentials: convert says what to write (run, which expands, takes it).
func TestConvertURLCredentialsInOneReference(t *testing.T) {
	src := "clients:\n  - url: ${LOKI_URL}\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {__path__: /x}\n"
	lookup := func(k string) (string, bool) {
		return map[string]string{"LOKI_URL": "https://123456:tok@logs.example.com/loki/api/v1/push"}[k], k == "LOKI_URL"
	}
	_, err := Convert("t.yaml", []byte(src), &Options{KeepEnv: true, LookupEnv: lookup})
	if err == nil || !strings.Contains(err.Error(), "t.yaml:2: clients[0].url: expands to a URL with a user and password") {
		t.Errorf("convert: %v", err)
	}
	_, cfg := convertParse(t, src, Options{LookupEnv: lookup})
	if o := cfg.Sinks[0].Options.(*loki.Options); o.URL != "https://logs.example.com/loki/api/v1/push" || o.BasicAuth.Password != "tok" {
		t.Errorf("run: url %q, password %q", o.URL, o.BasicAuth.Password)
	}
}

// TestConvertOneKindPerJob: Promtail runs one kind of target per scrape
// config, the first of static_configs (or a discovery), journal, syslog,
// ..., docker_sd_configs (targets/manager.go); the others are never read,
// so they are left out with a note. A static job is shadowed by a later
// discovery job of the same name too (one file target manager entry per
// job_name, up to Promtail 3.2).
func TestConvertOneKindPerJob(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: mixed
    journal: {labels: {job: journal}}
    static_configs:
      - labels: {job: files, __path__: /var/log/a.log}
  - job_name: push-and-syslog
    loki_push_api: {server: {http_listen_port: 3500}}
    syslog: {listen_address: 0.0.0.0:1514}
  - job_name: pods
    static_configs:
      - labels: {job: early, __path__: /var/log/b.log}
  - job_name: pods
    consul_sd_configs: [{server: "localhost:8500"}]
`
	r, cfg := convertParse(t, src, Options{LookupEnv: noEnv, SkipUnsupported: true})
	var got []string
	for _, s := range cfg.Sources {
		got = append(got, s.Name+":"+string(s.Type))
	}
	if want := []string{"mixed:file", "push-and-syslog:syslog"}; !slices.Equal(got, want) {
		t.Errorf("sources %v, want %v", got, want)
	}
	var noted []string
	for _, n := range r.Notes {
		if strings.Contains(n.Msg, "runs one kind of target") || strings.Contains(n.Msg, "runs only the last scrape config") {
			noted = append(noted, n.Key)
		}
	}
	slices.Sort(noted)
	if want := []string{"scrape_configs[0].journal", "scrape_configs[1].loki_push_api", "scrape_configs[2]"}; !slices.Equal(noted, want) {
		t.Errorf("notes on %v, want %v", noted, want)
	}
	if len(r.Left) != 1 || r.Left[0].Key != "scrape_configs[3].consul_sd_configs" {
		t.Errorf("left out %v", r.Left)
	}
}

// TestConvertStaticEmptyAndExcludeRef: an empty static label gets the same
// note as elsewhere; a __path_exclude__ written as a reference that is not
// set where convert runs is kept (it may be set where the result runs).
func TestConvertStaticEmptyAndExcludeRef(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: a
    static_configs:
      - targets: [localhost, other]
        labels: {job: a, env: "", __path__: /var/log/*.log, __path_exclude__: "${EXCLUDE}"}
`
	r, err := Convert("t.yaml", []byte(src), &Options{KeepEnv: true, LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range r.Notes {
		if p.Key == "scrape_configs[0].static_configs[0].labels.env" && strings.Contains(p.Msg, "empty value") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d notes on the empty label, want 1: %v", n, r.Notes)
	}
	if !strings.Contains(string(r.YAML), "exclude:\n      - ${EXCLUDE:-}") {
		t.Errorf("the exclude reference is lost:\n%s", r.YAML)
	}
}

// TestConvertDockerProxyLocal: with DockerProxyLocal (--docker-proxy-local)
// a tcp:// docker host, a socket proxy in front of this host's Docker, is
// read as the local daemon (its json-file logs on disk), with a note.
func TestConvertDockerProxyLocal(t *testing.T) {
	src := "clients:\n  - url: http://l/\nscrape_configs:\n  - job_name: d\n    docker_sd_configs:\n      - host: tcp://socket-proxy:2375\n"
	if _, err := Convert("t.yaml", []byte(src), &Options{LookupEnv: noEnv}); err == nil || !strings.Contains(err.Error(), "give --docker-proxy-local") {
		t.Errorf("without the option: %v", err)
	}
	r, cfg := convertParse(t, src, Options{LookupEnv: noEnv, DockerProxyLocal: true})
	if fc := cfg.Sources[0].Options.(*sources.FileConfig); cfg.Sources[0].Type != "docker" || !slices.Equal(fc.Paths, []string{"/var/lib/docker/containers/*/*-json.log"}) {
		t.Errorf("source %s: %v", cfg.Sources[0].Type, fc.Paths)
	}
	if !slices.ContainsFunc(r.Notes, func(p config.Problem) bool {
		return strings.Contains(p.Msg, "is read as a proxy of this host's Docker socket")
	}) {
		t.Errorf("no note: %v", r.Notes)
	}
}

// convertParse converts src (as t.yaml) with o and loads the result in
// o's environment, as run --config-format promtail does; a problem fails
// the test.
func convertParse(t *testing.T, src string, o Options) (*Result, *config.Config) {
	t.Helper()
	r, err := Convert("t.yaml", []byte(src), &o)
	if err != nil {
		t.Fatal(err)
	}
	opts := parseOpts()
	opts.LookupEnv = o.LookupEnv
	cfg, err := r.Parse(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r, cfg
}

// TestConvertNamelessJobs: jobs without a job_name each get the problem;
// they do not shadow one another as one name.
func TestConvertNamelessJobs(t *testing.T) {
	src := "clients:\n  - url: http://l/\nscrape_configs:\n  - static_configs: [{labels: {__path__: /a}}]\n  - static_configs: [{labels: {__path__: /b}}]\n"
	_, err := Convert("t.yaml", []byte(src), &Options{LookupEnv: noEnv})
	if err == nil || strings.Count(err.Error(), "job_name: is required") != 2 {
		t.Errorf("want the problem twice, got %v", err)
	}
}

// TestConvertShadowedJobStages: Promtail (up to 3.2) builds the stages of
// a scrape config it then shadows, so a bad stage there stopped it: the
// problem is reported, at its line.
func TestConvertShadowedJobStages(t *testing.T) {
	src := `clients:
  - url: http://l/
scrape_configs:
  - job_name: a
    static_configs: [{labels: {__path__: /a}}]
    pipeline_stages:
      - jsn: {}
  - job_name: a
    static_configs: [{labels: {__path__: /b}}]
`
	_, err := Convert("t.yaml", []byte(src), &Options{LookupEnv: noEnv})
	if err == nil || !strings.Contains(err.Error(), `t.yaml:7: scrape_configs[0].pipeline_stages[0].jsn: unknown stage "jsn"`) {
		t.Errorf("got %v", err)
	}
}

// TestConvertKubeconfigConflicts: kubeconfig_file goes without api_server
// and the HTTP client keys, HTTP client keys need api_server, and
// own_namespace goes without either, as Prometheus's SDConfig checks.
func TestConvertKubeconfigConflicts(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: /etc/k.yaml
        api_server: https://k:6443
        bearer_token_file: /t
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_uid], replacement: '/var/log/pods/*$1/*/*.log', target_label: __path__}
`
	_, err := Convert("t.yaml", []byte(src), &Options{LookupEnv: noEnv})
	if err == nil || !strings.Contains(err.Error(), "t.yaml:7: scrape_configs[0].kubernetes_sd_configs[0].kubeconfig_file: cannot use 'kubeconfig_file' and 'api_server' simultaneously") ||
		!strings.Contains(err.Error(), "t.yaml:9: scrape_configs[0].kubernetes_sd_configs[0].bearer_token_file: cannot use a custom HTTP client configuration") {
		t.Errorf("err = %v", err)
	}
	// In-cluster (no api_server): no HTTP client keys, as Prometheus says;
	// own_namespace only there.
	src2 := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        bearer_token_file: /t
      - role: pod
        api_server: https://k:6443
        namespaces: {own_namespace: true}
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_uid], replacement: '/var/log/pods/*$1/*/*.log', target_label: __path__}
`
	_, err = Convert("t.yaml", []byte(src2), &Options{LookupEnv: noEnv})
	if err == nil || !strings.Contains(err.Error(), "t.yaml:7: scrape_configs[0].kubernetes_sd_configs[0].bearer_token_file: to use custom HTTP client configuration please provide the 'api_server' URL explicitly") ||
		!strings.Contains(err.Error(), "t.yaml:10: scrape_configs[0].kubernetes_sd_configs[1].namespaces.own_namespace: cannot use 'api_server' or 'kubeconfig_file' and 'namespaces.own_namespace'") {
		t.Errorf("err = %v", err)
	}
}

// TestConvertKubernetes: the parts of a kubernetes_sd_configs item that
// logcapturer does not cover are each listed at their key; a job whose
// rules set no __path__ reads nothing in Promtail and is left out with a
// note; the converted source's kubernetes section carries the API
// settings.
func TestConvertKubernetes(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: bad
    kubernetes_sd_configs:
      - role: node
      - role: pod
        api_server: https://k:6443
        bearer_token: secret
        attach_metadata: {node: true, deployment: true}
        selectors: [{role: node, label: "topology.kubernetes.io/zone=eu-1"}]
        tls_config: {ca: "-----BEGIN CERTIFICATE-----"}
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_uid], replacement: '/var/log/containers/*$1*.log', target_label: __path__}
  - job_name: no-path
    kubernetes_sd_configs: [{role: pod}]
  - job_name: fine
    kubernetes_sd_configs: [{role: pod, namespaces: {names: [a], own_namespace: true}, attach_metadata: {node: true, namespace: true}}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name], separator: /, replacement: '/var/log/pods/*$1/*.log', target_label: __path__}
`
	r, cfg := convertParse(t, src, Options{LookupEnv: noEnv, SkipUnsupported: true})
	var left []string
	for _, p := range r.Left {
		left = append(left, p.Key)
	}
	want := []string{
		"scrape_configs[0].relabel_configs[0].replacement",
		"scrape_configs[0].kubernetes_sd_configs[0].role",
		"scrape_configs[0].kubernetes_sd_configs[1].bearer_token",
		"scrape_configs[0].kubernetes_sd_configs[1].tls_config.ca",
		"scrape_configs[0].kubernetes_sd_configs[1].attach_metadata.deployment",
		"scrape_configs[0].kubernetes_sd_configs[1].selectors[0].role",
	}
	slices.Sort(left)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left out:\n got %q\nwant %q", left, want)
	}
	if !slices.Contains(notedAt(r, "no relabel rule sets __path__"), "scrape_configs[1]") {
		t.Errorf("no note on the job without __path__: %v", r.Notes)
	}
	if len(cfg.Sources) != 1 || cfg.Sources[0].Name != "fine" || cfg.Sources[0].Type != "kubernetes" {
		t.Fatalf("sources: %+v", cfg.Sources)
	}
	fc := cfg.Sources[0].Options.(*sources.FileConfig)
	if fc.Format != sources.FormatRaw || !slices.Equal(fc.Kubernetes.Namespaces, []string{"a"}) || !fc.Kubernetes.OwnNamespace ||
		len(cfg.Sources[0].RelabelConfigs) != 1 || !fc.Kubernetes.AttachMetadata.Node || !fc.Kubernetes.AttachMetadata.Namespace {
		t.Errorf("source options: %+v", fc)
	}
}

// TestConvertKubernetesItems: kubernetes_sd_configs items of a job that
// differ only in their namespaces become one source listing them all
// (every namespace when one item has none), so that a pod two items
// select is read once, as Promtail reads it; items that differ otherwise
// stay apart, with a note.
func TestConvertKubernetesItems(t *testing.T) {
	rule := `
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name], separator: /, replacement: '/var/log/pods/*$1/*.log', target_label: __path__}
`
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: union
    kubernetes_sd_configs:
      - {role: pod, namespaces: {names: [shop]}}
      - {role: pod, namespaces: {names: [payments, shop], own_namespace: true}}` + rule + `  - job_name: all
    kubernetes_sd_configs:
      - {role: pod, namespaces: {names: [shop]}}
      - {role: pod}` + rule + `  - job_name: apart
    kubernetes_sd_configs:
      - {role: pod, namespaces: {names: [a]}}
      - {role: pod, selectors: [{role: pod, label: "app=x"}]}` + rule
	r, cfg := convertParse(t, src, Options{LookupEnv: noEnv})
	var got []string
	for _, s := range cfg.Sources {
		k := s.Options.(*sources.FileConfig).Kubernetes
		got = append(got, fmt.Sprintf("%s:%v:%v:%s", s.Name, k.Namespaces, k.OwnNamespace, k.LabelSelector))
	}
	want := []string{"union:[shop payments]:true:", "all:[]:false:", "apart-1:[a]:false:", "apart-kubernetes-2:[]:false:app=x"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("sources\n got %q\nwant %q", got, want)
	}
	noted := 0
	for _, n := range r.Notes {
		if strings.Contains(n.Msg, "differ only in their namespaces") || strings.Contains(n.Msg, "read by the source of each") {
			noted++
		}
	}
	if noted != 3 {
		t.Errorf("%d notes on the items, want 3: %v", noted, r.Notes)
	}

	// A problem in the merged namespaces names the line the user wrote.
	_, err := Convert("m.yaml", []byte(`clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - {role: pod, api_server: "https://k:6443", namespaces: {names: [shop]}}
      - role: pod
        api_server: "https://k:6443"
        namespaces:
          own_namespace: true`+rule), &Options{LookupEnv: noEnv})
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Line != 10 || !strings.Contains(ce.Problems[0].Msg, "own_namespace") {
		t.Errorf("err %v, want one problem at line 10 (own_namespace with api_server)", err)
	}
}

// TestConvertEncoding: a scrape config's encoding goes to the file and
// kubernetes sources it makes; UTF-8 needs none; a name Promtail cannot
// use is a problem at its line; on a push or journal job it is noted and
// left out, as Promtail ignores it there.
func TestConvertEncoding(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: win
    encoding: UTF-16LE
    static_configs: [{labels: {__path__: /logs/*.log}}]
  - job_name: plain
    encoding: utf-8
    static_configs: [{labels: {__path__: /plain/*.log}}]
  - job_name: kube
    encoding: ISO-8859-1
    kubernetes_sd_configs: [{role: pod}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name], separator: /, replacement: '/var/log/pods/*$1/*.log', target_label: __path__}
  - job_name: push
    encoding: windows-1252
    loki_push_api: {server: {http_listen_port: 3500}}
`
	r, cfg := convertParse(t, src, Options{LookupEnv: noEnv})
	got := map[string]string{}
	for _, s := range cfg.Sources {
		if fc, ok := s.Options.(*sources.FileConfig); ok {
			got[s.Name] = fc.Encoding
		}
	}
	if want := map[string]string{"win": "UTF-16LE", "plain": "", "kube": "ISO-8859-1"}; !maps.Equal(got, want) {
		t.Errorf("encodings %v, want %v", got, want)
	}
	if !slices.Contains(notedAt(r, "Promtail ignores it"), "scrape_configs[3].encoding") {
		t.Errorf("no note on the push job's encoding: %v", r.Notes)
	}

	for name, want := range map[string]string{
		"UTF-32":  `t.yaml:5: scrape_configs[0].encoding: "UTF-32" is a known character set that cannot be converted here`,
		"klingon": `t.yaml:5: scrape_configs[0].encoding: "klingon" is not an IANA character set name`,
	} {
		_, err := Convert("t.yaml", []byte(strings.Replace(src, "UTF-16LE", name, 1)), &Options{LookupEnv: noEnv})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}

// TestConvertRelativePath: Promtail makes the matches of a relative
// __path__ absolute (filepath.Abs), so the filename label and its
// positions are absolute; the converted path is resolved in WorkDir.
func TestConvertRelativePath(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: rel
    static_configs: [{labels: {__path__: logs/**/*.log, __path_exclude__: logs/debug/*.log}}]
  - job_name: abs
    static_configs: [{labels: {__path__: /var/log/*.log}}]
`
	r, cfg := convertParse(t, src, Options{LookupEnv: noEnv, WorkDir: "/srv/app"})
	var paths []string
	for _, s := range cfg.Sources {
		paths = append(paths, s.Options.(*sources.FileConfig).Paths...)
	}
	if want := []string{"/srv/app/logs/**/*.log", "/var/log/*.log"}; !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	// Promtail drops the exclude's matches from the relative matches.
	if ex := cfg.Sources[0].Options.(*sources.FileConfig).Exclude; !slices.Equal(ex, []string{"/srv/app/logs/debug/*.log"}) {
		t.Errorf("exclude %q", ex)
	}
	if !slices.Contains(notedAt(r, "is relative"), "scrape_configs[0].static_configs[0].labels.__path__") {
		t.Errorf("no note on the relative path: %v", r.Notes)
	}
}

// TestConvertRelativeExcludeNote: Promtail excludes a file when the
// exclude's glob gives the same string as the match, or when the exclude
// matches the file's absolute path (startTailing): a name alone with an
// absolute __path__ excluded nothing, and is left out with a note; an
// absolute exclude is kept; a relative one of a relative path is
// resolved with it.
func TestConvertRelativeExcludeNote(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: a
    static_configs: [{labels: {__path__: /var/log/*, __path_exclude__: "*.gz"}}]
  - job_name: b
    static_configs: [{labels: {__path__: /var/log/*, __path_exclude__: /var/log/*.gz}}]
  - job_name: c
    static_configs: [{labels: {__path__: /var/log/*, __path_exclude__: "**/debug.log"}}]
  - job_name: d
    static_configs: [{labels: {__path__: logs/*.log, __path_exclude__: "*debug*"}}]
  - job_name: e
    static_configs: [{labels: {__path__: logs/*.log, __path_exclude__: /srv/app/logs/debug.log}}]
`
	r, cfg := convertParse(t, src, Options{LookupEnv: noEnv, WorkDir: "/srv/app"})
	keys := notedAt(r, "excluded nothing")
	want := []string{"scrape_configs[0].static_configs[0].labels.__path_exclude__"}
	if !slices.Equal(keys, want) {
		t.Errorf("notes at %q, want %q", keys, want)
	}
	excludes := map[string][]string{}
	for _, s := range cfg.Sources {
		excludes[s.Name] = s.Options.(*sources.FileConfig).Exclude
	}
	for name, ex := range map[string][]string{"a": nil, "b": {"/var/log/*.gz"}, "c": {"**/debug.log"}, "d": {"/srv/app/*debug*"},
		"e": {"/srv/app/logs/debug.log"}} {
		if !slices.Equal(excludes[name], ex) {
			t.Errorf("%s: exclude %q, want %q", name, excludes[name], ex)
		}
	}
}

// TestConvertBackslashNote: a value with \\ or \/ is converted as written
// and noted: Promtail's -config.expand-env (envsubst) would read them as
// \ and /, without the flag it does not, and which one ran cannot be told.
func TestConvertBackslashNote(t *testing.T) {
	src := `clients:
  - url: http://loki:3100/loki/api/v1/push
scrape_configs:
  - job_name: a
    pipeline_stages:
      - replace: {expression: '(\\n)', replace: ' '}
      - replace: {expression: "\\bERROR\\b", replace: ' '}
    static_configs: [{labels: {__path__: /var/log/*.log}}]
`
	r, _ := convertParse(t, src, Options{LookupEnv: noEnv})
	if !strings.Contains(string(r.YAML), `expression: '(\\n)'`) {
		t.Errorf("expression not as written:\n%s", r.YAML)
	}
	keys := notedAt(r, "envsubst")
	if want := []string{"scrape_configs[0].pipeline_stages[0].replace.expression", "scrape_configs[0].pipeline_stages[1].replace.expression"}; !slices.Equal(keys, want) {
		t.Errorf("notes at %q, want %q: %v", keys, want, r.Notes)
	}
}

// notedAt returns the keys of r's notes whose message contains substr.
func notedAt(r *Result, substr string) []string {
	var keys []string
	for _, n := range r.Notes {
		if strings.Contains(n.Msg, substr) {
			keys = append(keys, n.Key)
		}
	}
	return keys
}

// TestConvertTenantHeader: Promtail adds a client's header only when the
// request has none of that name, so headers: {X-Scope-OrgID: t} is the
// tenant of entries that name none (tenant_id), left out when tenant_id
// is set, and Content-Type is never sent; external_labels'
// __tenant_id__ is every entry's tenant. Found by a reviewer: such
// configs were refused.
func TestConvertTenantHeader(t *testing.T) {
	for _, tc := range []struct {
		client, tenant string
		note           string
	}{
		{"headers: {X-Scope-OrgID: team-a, Content-Type: text/plain, X-Extra: 1}", "team-a", "converted to tenant_id"},
		{"tenant_id: fixed\n    headers: {x-scope-orgid: team-a}", "fixed", "tenant_id does"},
		{"tenant_id: fixed\n    external_labels: {__tenant_id__: ext, dc: eu}", "ext", "the tenant of every entry"},
	} {
		src := "clients:\n  - url: http://loki:3100/loki/api/v1/push\n    " + tc.client + `
scrape_configs:
  - job_name: a
    static_configs: [{labels: {__path__: /var/log/*.log}}]
`
		r, cfg := convertParse(t, src, Options{LookupEnv: noEnv})
		o := cfg.Sinks[0].Options.(*loki.Options)
		if o.TenantID != tc.tenant {
			t.Errorf("%s: tenant %q, want %q", tc.client, o.TenantID, tc.tenant)
		}
		if _, ok := o.Headers["Content-Type"]; ok {
			t.Errorf("%s: Content-Type kept: %v", tc.client, o.Headers)
		}
		if len(notedAt(r, tc.note)) == 0 {
			t.Errorf("%s: no note %q: %v", tc.client, tc.note, r.Notes)
		}
	}
}
