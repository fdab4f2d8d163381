package sources

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/config"
)

// fakeContainer writes a container of a Docker data root under root:
// containers/<id>/<id>-json.log from testdata/docker/json.log and, when
// withConfig, config.v2.json from testdata/docker (a container's file as
// dockerd writes it, its ID replaced). It returns the log's path.
func fakeContainer(t testing.TB, root, id string, withConfig bool) string {
	t.Helper()
	dir := filepath.Join(root, "containers", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if withConfig {
		cfg, err := os.ReadFile("testdata/docker/config.v2.json")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(strings.ReplaceAll(string(cfg), "ID_PLACEHOLDER", id)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	log, err := os.ReadFile("testdata/docker/json.log")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, id+"-json.log")
	if err := os.WriteFile(path, log, 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDockerPromtailLabels: a docker source with promtail_labels, on a
// fake data root with a real config.v2.json, gives relabel_configs the
// labels of Promtail's docker_sd_configs (__meta_docker_container_id,
// _name with its "/", _label_<sanitised name>, _log_stream per entry),
// ships none of them and none of its own (filename, container_id,
// container_name, image, stream), removes a TTY line's '\r' and joins
// Docker's partial lines; a container without a readable config.v2.json
// has only its ID.
func TestDockerPromtailLabels(t *testing.T) {
	root := t.TempDir()
	const idA = "9c1f0e5b2a7d4c3b8e6f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"
	const idB = "1111111111111111111111111111111111111111111111111111111111111111"
	fakeContainer(t, root, idA, true)
	fakeContainer(t, root, idB, false)
	c := NewFileConfig(TypeDocker)
	c.Paths = []string{filepath.Join(root, "containers", "*", "*-json.log")}
	c.PollInterval = config.Duration(20 * time.Millisecond)
	c.PromtailLabels = true
	rec := &recorder{t: t}
	src, err := c.Open(Deps{Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), Name: "docker",
		Emitter: rec, Relabel: Relabel(relabelRules(t, `
- {source_labels: [__meta_docker_container_name], regex: '/(.*)', target_label: container}
- {source_labels: [__meta_docker_container_log_stream], target_label: logstream}
- {source_labels: [__meta_docker_container_id], regex: '(.{12}).*', target_label: id}
- {action: labelmap, regex: '__meta_docker_container_label_(.+)'}
`))})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(rec.lines("")) >= 10 }, 5*time.Second, "10 lines")
	got := map[string][]string{}
	for _, b := range rec.all() {
		for i, l := range b.lines {
			ls := labelString(b.labels)
			if b.entryLabels[i] != "" {
				ls = b.entryLabels[i]
			}
			got[ls] = append(got[ls], l)
		}
	}
	labelsA := "com_docker_compose_project=shop,com_docker_compose_service=web,container=shop-web-1,id=9c1f0e5b2a7d,"
	labelsA2 := ",maintainer=NGINX Docker Maintainers <docker-maint@nginx.com>,team_name=payments"
	want := map[string][]string{
		labelsA + "logstream=stdout" + labelsA2: {"/docker-entrypoint.sh: Configuration complete; ready for start up",
			`172.18.0.1 - - [05/Jan/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 615`, "tty line", "a long line cut by docker"},
		labelsA + "logstream=stderr" + labelsA2: {"2026/01/05 10:00:02 [error] 29#29: *1 open() failed"},
		"id=111111111111,logstream=stdout": {"/docker-entrypoint.sh: Configuration complete; ready for start up",
			`172.18.0.1 - - [05/Jan/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 615`, "tty line", "a long line cut by docker"},
		"id=111111111111,logstream=stderr": {"2026/01/05 10:00:02 [error] 29#29: *1 open() failed"},
	}
	if len(got) != len(want) {
		t.Errorf("got %d streams, want %d: %q", len(got), len(want), got)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("stream {%s}: %q, want %q", k, got[k], w)
		}
	}
}

// TestDockerPromtailLabelsNoRelabel: without relabel_configs the
// __meta_docker_* labels are removed all the same (Promtail ships no "__"
// label), leaving the configured labels only.
func TestDockerPromtailLabelsNoRelabel(t *testing.T) {
	root := t.TempDir()
	fakeContainer(t, root, "abc", true)
	h := newHarness(t, FileOptions{Type: TypeDocker, Paths: []string{filepath.Join(root, "containers", "*", "*-json.log")},
		Labels: map[string]string{"job": "docker"}, PromtailLabels: true})
	h.start(t)
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 5 }, 5*time.Second, "5 lines")
	for _, b := range h.rec.all() {
		if got := labelString(b.labels); got != "job=docker" {
			t.Errorf("block labels %s", got)
		}
		for _, ls := range b.entryLabels {
			if ls != "" && ls != "job=docker" {
				t.Errorf("entry labels %s", ls)
			}
		}
	}
}

// TestDockerMetaLabels: the labels of a container directory: a real
// config.v2.json; none (ID only); one that does not parse; one larger
// than the cap (not read: bounded memory).
func TestDockerMetaLabels(t *testing.T) {
	root := t.TempDir()
	path := fakeContainer(t, root, "cid", true)
	got := map[string]string{}
	for _, l := range dockerMetaLabels(path) {
		got[l.Name] = l.Value
	}
	want := map[string]string{
		"__meta_docker_container_id": "cid", "__meta_docker_container_name": "/shop-web-1",
		"__meta_docker_container_label_com_docker_compose_project": "shop",
		"__meta_docker_container_label_com_docker_compose_service": "web",
		"__meta_docker_container_label_maintainer":                 "NGINX Docker Maintainers <docker-maint@nginx.com>",
		"__meta_docker_container_label_team_name":                  "payments",
	}
	if !maps.Equal(got, want) {
		t.Errorf("labels %v, want %v", got, want)
	}
	cfg := filepath.Join(filepath.Dir(path), "config.v2.json")
	for name, data := range map[string][]byte{
		"bad json": []byte(`{"Name":`),
		"too big":  []byte(`{"Name":"/big","Config":{"Labels":{"a":"` + strings.Repeat("x", maxContainerConfigBytes) + `"}}}`),
	} {
		if err := os.WriteFile(cfg, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if ls := dockerMetaLabels(path); len(ls) != 1 || ls[0].Name != metaContainerID || ls[0].Value != "cid" {
			t.Errorf("%s: %v, want the ID only", name, ls)
		}
	}
	os.Remove(cfg)
	if ls := dockerMetaLabels(path); len(ls) != 1 {
		t.Errorf("no config.v2.json: %v", ls)
	}
}
