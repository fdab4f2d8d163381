package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/sinktest"
)

// TestCrashDuringOutage: the HTTP target fails while lines are written and
// the shipper is kill -9ed several times; the retry ranges it had stored
// are reloaded from state.db after each restart, and once the target is up
// every line arrives and nothing is in the dead-letter queue.
func TestCrashDuringOutage(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	target := sinktest.NewTarget(t)
	addr := freePort(t)
	cfg := filepath.Join(dir, "config.yaml")
	conf := fmt.Sprintf(`data_dir: %s
sources:
  - {name: app, type: file, paths: ["%s/*.log"]}
sinks:
  - name: web
    type: http
    url: %s
    timeout: 500ms
    batch: {max_entries: 500, max_wait: 20ms}
    workers: 2
    retry: {min_backoff: 50ms, max_backoff: 500ms}
admin: {listen: "%s"}
`, filepath.Join(dir, "data"), logs, target.URL(), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWriter(t, logs, 2, 2000)
	var stderr syncWriter // the child writes it while the test may read it

	// Healthy for a moment, so a cursor exists; then failing, with kills.
	cmd := startChild(t, bin, cfg, &stderr)
	deadline := time.Now().Add(20 * time.Second)
	for d, _ := target.Distinct(); d < 500; d, _ = target.Distinct() {
		if time.Now().After(deadline) {
			t.Fatalf("nothing delivered while healthy:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	modes := []sinktest.Mode{sinktest.Fail500, sinktest.Refuse, sinktest.Throttle, sinktest.Fail500, sinktest.Hang}
	for _, m := range modes {
		target.SetMode(t, m)
		// Crash once ranges failed, were stored and came back for another
		// try (logcapturer_retries_total of this process).
		deadline := time.Now().Add(20 * time.Second)
		for metricSum(addr, `logcapturer_retries_total{sink="web"}`) < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("mode %v: no range failed and came back for a retry:\n%s", m, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		cmd = startChild(t, bin, cfg, &stderr)
	}
	written := w.finish()
	target.SetMode(t, sinktest.Healthy)
	total := written[0] + written[1]
	deadline = time.Now().Add(60 * time.Second)
	for d, _ := target.Distinct(); d < total; d, _ = target.Distinct() {
		if time.Now().After(deadline) {
			walCounts, _ := walLines(t, filepath.Join(dir, "data", "wal"))
			var missing []string
			for f, n := range written {
				for i := 0; i < n; i++ {
					if target.Count(lineKey(f, i)) == 0 {
						missing = append(missing, fmt.Sprintf("%d:%d(wal %d)", f, i, walCounts[lineKey(f, i)]))
					}
				}
			}
			if len(missing) > 20 {
				missing = append(missing[:10], missing[len(missing)-10:]...)
			}
			t.Fatalf("after recovery %d of %d lines arrived; missing %v; the sink: %s\n%s", d, total, missing, httpGet(addr, "/api/v1/sinks/web"), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopChild(t, cmd, &stderr)
	for f, n := range written {
		for i := 0; i < n; i++ {
			if target.Count(lineKey(f, i)) == 0 {
				t.Fatalf("line %s never arrived", lineKey(f, i))
			}
		}
	}
	var out bytes.Buffer
	if code := runMain([]string{"dlq", "list", "--data-dir", filepath.Join(dir, "data")}, &out, &out); code != 0 {
		t.Fatalf("dlq list: %d %s", code, out.String())
	}
	if bytes.Count(out.Bytes(), []byte("\n")) != 2 { // "offline: ..." and the header
		t.Fatalf("dead letters after recovery:\n%s", out.String())
	}
	all, accepted := target.Requests()
	d, received := target.Distinct()
	t.Logf("kills=%d lines=%d distinct delivered=%d duplicates=%d requests=%d accepted=%d", len(modes), total, d, received-d, all, accepted)
}

// metricSum adds up the samples of the running program's /metrics whose
// name and labels start with prefix; 0 when it cannot be read.
func metricSum(addr, prefix string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	sum := 0.0
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && strings.HasPrefix(f[0], prefix) {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// httpGet returns the body of the running program's admin path, or the
// error, for failure messages.
func httpGet(addr, path string) string {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
