package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
)

// fakeDockerContainer writes containers/<id>/ of a Docker data root under
// root as dockerd does: config.v2.json (the sources package's real
// sample, with this ID and name) and <id>-json.log holding log.
func fakeDockerContainer(t *testing.T, root, id, name, log string) {
	t.Helper()
	dir := filepath.Join(root, "containers", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("../../sources/testdata/docker/config.v2.json")
	if err != nil {
		t.Fatal(err)
	}
	c := strings.ReplaceAll(string(cfg), "ID_PLACEHOLDER", id)
	c = strings.Replace(c, `"Name":"/shop-web-1"`, `"Name":"`+name+`"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+"-json.log"), []byte(log), 0o640); err != nil {
		t.Fatal(err)
	}
}

// timedEntries returns the entries rcv received as "time {labels} line",
// sorted.
func timedEntries(rcv *lokitest.Receiver) []string {
	var got []string
	for _, e := range rcv.Entries() {
		ls, _ := lokitest.ParseLabels(e.Labels)
		got = append(got, time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano)+" "+lokitest.Labels(ls...)+" "+e.Line)
	}
	slices.Sort(got)
	return got
}

// TestPromtailDockerSD converts docker_sd_configs in the shape of the
// Loki docs (the name filter, __meta_docker_container_name relabeled to
// container with regex /(.*)) and runs it with --docker-data-root on a
// fake data root with real json-file logs and config.v2.json: the
// streams that reach Loki carry the labels Promtail makes (container,
// plus the log stream and a compose label mapped by the extra rules; no
// filename, no __ label), the lines without their '\n' (a TTY line
// without its '\r', Docker's partial lines joined), the records' times;
// the container the filter leaves out is not shipped.
func TestPromtailDockerSD(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	root := filepath.Join(dir, "docker")
	const flogID = "9c1f0e5b2a7d4c3b8e6f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"
	const webID = "2222222222222222222222222222222222222222222222222222222222222222"
	fakeDockerContainer(t, root, flogID, "/flog", `{"log":"GET /a 200\n","stream":"stdout","time":"2026-01-05T10:00:01.000000001Z"}
`)
	fakeDockerContainer(t, root, webID, "/shop-web-1", `{"log":"not mine\n","stream":"stdout","time":"2026-01-05T10:00:01Z"}
`)
	convertCheckRun(t, rcv, dir, promtailHead(filepath.Join(dir, "positions.yaml"))+`  - job_name: flog_scrape
    docker_sd_configs:
      - host: unix:///var/run/docker.sock
        refresh_interval: 5s
        filters:
          - name: name
            values: [flog]
    relabel_configs:
      - source_labels: ['__meta_docker_container_name']
        regex: '/(.*)'
        target_label: 'container'
      - source_labels: ['__meta_docker_container_log_stream']
        target_label: 'logstream'
      - source_labels: ['__meta_docker_container_label_com_docker_compose_service']
        target_label: 'service'
`, "--docker-data-root", root)
	// The first line is in after the first read round, which read the
	// other container's log too; the rest is written then, so that when
	// it is in, whatever that log gave would be in before it.
	if err := rcv.WaitEntries(1, 15*time.Second); err != nil {
		t.Fatalf("%v; got %q", err, streams(rcv))
	}
	f, err := os.OpenFile(filepath.Join(root, "containers", flogID, flogID+"-json.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"log":"oops\n","stream":"stderr","time":"2026-01-05T10:00:02.000000002Z"}
{"log":"tty\r\n","stream":"stdout","time":"2026-01-05T10:00:03.000000003Z"}
{"log":"cut by ","stream":"stdout","time":"2026-01-05T10:00:04.000000004Z"}
{"log":"docker\n","stream":"stdout","time":"2026-01-05T10:00:04.000000004Z"}
`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := rcv.WaitEntries(4, 15*time.Second); err != nil {
		t.Fatalf("%v; got %q", err, streams(rcv))
	}
	got := timedEntries(rcv)
	want := []string{
		`2026-01-05T10:00:01.000000001Z {container="flog", logstream="stdout", service="web"} GET /a 200`,
		`2026-01-05T10:00:02.000000002Z {container="flog", logstream="stderr", service="web"} oops`,
		`2026-01-05T10:00:03.000000003Z {container="flog", logstream="stdout", service="web"} tty`,
		`2026-01-05T10:00:04.000000004Z {container="flog", logstream="stdout", service="web"} cut by docker`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPromtailDockerSDTakeover: Promtail's positions hold cursor-<id>
// with the Unix second of the last entry its docker target sent
// (2026-01-05T10:00:02Z). On the first start the converted docker source
// resumes that container's json-file log where Promtail would (its restart
// asks Docker for the logs since that second): the entries of that second
// and later arrive, the earlier one does not; a partial line that ends
// after that second arrives whole. A container Promtail has no position
// for is read from its start.
func TestPromtailDockerSDTakeover(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	root := filepath.Join(dir, "docker")
	const oldID = "9c1f0e5b2a7d4c3b8e6f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"
	const newID = "3333333333333333333333333333333333333333333333333333333333333333"
	fakeDockerContainer(t, root, oldID, "/flog", `{"log":"sent by promtail\n","stream":"stdout","time":"2026-01-05T10:00:01.500000000Z"}
{"log":"same second, sent again\n","stream":"stdout","time":"2026-01-05T10:00:02.000000001Z"}
{"log":"cut by ","stream":"stdout","time":"2026-01-05T10:00:02.900000000Z"}
{"log":"docker\n","stream":"stdout","time":"2026-01-05T10:00:03.100000000Z"}
{"log":"after\n","stream":"stderr","time":"2026-01-05T10:00:04Z"}
`)
	fakeDockerContainer(t, root, newID, "/flog-2", `{"log":"new container\n","stream":"stdout","time":"2026-01-05T09:00:00Z"}
`)
	positions := filepath.Join(dir, "positions.yaml")
	if err := os.WriteFile(positions, []byte("positions:\n  cursor-"+oldID+": \"1767607202\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	convertCheckRun(t, rcv, dir, promtailHead(positions)+`  - job_name: flog_scrape
    docker_sd_configs:
      - host: unix:///var/run/docker.sock
    relabel_configs:
      - source_labels: ['__meta_docker_container_name']
        regex: '/(.*)'
        target_label: 'container'
`, "--docker-data-root", root)
	if err := rcv.WaitEntries(4, 15*time.Second); err != nil {
		t.Fatalf("%v; got %q", err, streams(rcv))
	}
	got := timedEntries(rcv)
	want := []string{
		`2026-01-05T09:00:00Z {container="flog-2"} new container`,
		`2026-01-05T10:00:02.000000001Z {container="flog"} same second, sent again`,
		`2026-01-05T10:00:02.9Z {container="flog"} cut by docker`,
		`2026-01-05T10:00:04Z {container="flog"} after`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
