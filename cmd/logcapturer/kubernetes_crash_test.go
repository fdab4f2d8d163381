package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources/kubepods/kubetest"
)

// TestCrashKill9Kubernetes runs the real binary with a kubernetes source
// against a fake API server, kill -9s it at random moments while two pods
// write CRI logs, and deletes one pod from the API half-way (its log
// directory stays, as until the kubelet cleans up), and rotates the other
// pod's log as the kubelet does while logcapturer is down, and has the
// API refuse every list during one run: every line reaches the file sink,
// and the WAL holds each once. The deleted pod's file is read on to its
// end, as is the rotated log; every line has its pod's labels (app, from
// the pod's labels: after its pod's deletion, and while the API is down,
// from the pod list kept in the data directory), in the stream of its
// current log (filename).
func TestCrashKill9Kubernetes(t *testing.T) {
	bin := binary(t)
	kills := envInt(t, "LOGCAPTURER_CRASH_KILLS", 8)
	dir := t.TempDir()
	api := kubetest.New(t)
	pods := []kubetest.Pod{
		{Namespace: "shop", Name: "web-0", UID: "uid-web", Node: "node-a", IP: "10.42.0.7", Phase: "Running", Labels: map[string]string{"app": "web"},
			Containers: []kubetest.Container{{Name: "web"}}},
		{Namespace: "shop", Name: "job-0", UID: "uid-job", Node: "node-a", IP: "10.42.0.8", Phase: "Running", Labels: map[string]string{"app": "job"},
			Containers: []kubetest.Container{{Name: "job"}}},
	}
	api.SetPods(pods...)
	var files []*os.File
	var paths []string
	for _, p := range pods {
		path := filepath.Join(dir, "pods", p.Namespace+"_"+p.Name+"_"+p.UID, p.Containers[0].Name, "0.log")
		paths = append(paths, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 64MiB
sources:
  - name: pods
    type: kubernetes
    paths: ["%s/pods/*/*/*.log", "%s/pods/*/*/*.log.*"]
    kubernetes: {api_server: "%s", node_name: node-a}
    relabel_configs:
      - {action: labelmap, regex: __meta_kubernetes_pod_label_(.+)}
sinks:
  - name: archive
    type: file
    path: %s
    format: json
    batch: {max_entries: 500, max_wait: 20ms}
admin:
  listen: ""
`, filepath.Join(dir, "data"), dir, dir, api.URL, filepath.Join(dir, "out", "archive.log"))), 0o644)

	// The writer: 1,000 lines a second to each pod's log, until stopped.
	written := make([]int, len(files))
	stop, done := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	go func() { // owned by the test: stopped and waited below
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var buf []byte
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			mu.Lock()
			for i, f := range files {
				buf = buf[:0]
				for range 10 {
					buf = fmt.Appendf(buf, "2026-12-05T10:00:00.000000001Z stdout F %s\n", lineKey(i, written[i]))
					written[i]++
				}
				if _, err := f.Write(buf); err != nil {
					panic(err)
				}
			}
			mu.Unlock()
		}
	}()
	var stderr bytes.Buffer
	for i := range kills {
		if i == kills/2 {
			api.SetPods(pods[0]) // job-0 deleted; its file is still there
		}
		if i == 3*kills/4 {
			// k8s.io/apimachinery/pkg/api/errors: a 503's message.
			api.Fail(503, "the server is currently unable to handle the request")
		}
		crashOnce(t, bin, cfg, &stderr, 300*time.Millisecond, 900*time.Millisecond)
		api.Fail(0, "")
		if i == kills/4 {
			// The kubelet rotates web-0's log while logcapturer is down,
			// after the pod wrote more to it.
			mu.Lock()
			var buf []byte
			for range 50 {
				buf = fmt.Appendf(buf, "2026-12-05T10:00:00.000000001Z stdout F %s\n", lineKey(0, written[0]))
				written[0]++
			}
			if _, err := files[0].Write(buf); err != nil {
				t.Fatal(err)
			}
			files[0].Close()
			if err := os.Rename(paths[0], paths[0]+".20261205-101010"); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(paths[0], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			files[0] = f
			mu.Unlock()
		}
	}
	close(stop)
	<-done
	for _, f := range files {
		f.Close()
	}
	total := written[0] + written[1]

	cmd := startChild(t, bin, cfg, &stderr)
	out := filepath.Join(dir, "out", "archive.log")
	deadline := time.Now().Add(60 * time.Second)
	for len(sinkJSONLines(t, out, nil)) < total && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stopChild(t, cmd, &stderr)
	// Labels: web-0's lines (the rotated log's too) are its pod's, in the
	// stream of its 0.log; job-0's are its pod's, after its deletion too.
	badLabels := 0
	counts := sinkJSONLines(t, out, func(line string, labels map[string]string) {
		f := 0
		if strings.HasPrefix(line, "f1-") {
			f = 1
		}
		ok := labels["filename"] == paths[f] && labels["stream"] == "stdout" &&
			labels["app"] == pods[f].Labels["app"]
		if !ok {
			if badLabels < 3 {
				t.Errorf("line %s: labels %v", line, labels)
			}
			badLabels++
		}
	})
	missing := 0
	for f, n := range written {
		for i := range n {
			if counts[lineKey(f, i)] == 0 {
				if missing < 5 {
					t.Errorf("line %s never reached the sink", lineKey(f, i))
				}
				missing++
			}
		}
	}
	walCounts, _ := walLines(t, filepath.Join(dir, "data", "wal"))
	walDups := 0
	for _, n := range walCounts {
		walDups += max(0, n-1)
	}
	if walDups > 0 || len(walCounts) != total {
		t.Errorf("wal: %d distinct lines, %d written, %d lines more than once", len(walCounts), total, walDups)
	}
	t.Logf("kills=%d lines written=%d (web %d, job %d) delivered distinct=%d missing=%d wal duplicates=%d",
		kills, total, written[0], written[1], len(counts), missing, walDups)
	if t.Failed() {
		t.Logf("child stderr:\n%s", stderr.String())
	}
}

// sinkJSONLines counts each line of a json-format file sink output, handing
// each entry's line and labels to check (when not nil).
func sinkJSONLines(t *testing.T, path string, check func(line string, labels map[string]string)) map[string]int {
	t.Helper()
	counts := make(map[string]int)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return counts
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var e struct {
			Labels map[string]string `json:"labels"`
			Line   string            `json:"line"`
		}
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("%s: %q: %v", path, l, err)
		}
		counts[e.Line]++
		if check != nil {
			check(e.Line, e.Labels)
		}
	}
	return counts
}
