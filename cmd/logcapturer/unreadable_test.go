package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sources"
)

// TestUnreadableFileShows runs the real binary on a file it may not read
// (a real EACCES: as root the test runs the binary as nobody, since
// permission bits do not stop root). `logcapturer sources`,
// /api/v1/sources, the status page and /readyz show it; after a chmod the
// line is read and everything clears. The log says it once each way.
func TestUnreadableFileShows(t *testing.T) {
	built := binary(t)
	root, err := os.MkdirTemp("", "logcapturer-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	// Everything the child needs is reachable by it: the binary, the
	// config, the logs directory; the data and output directories are its.
	mustOK(t, os.Chmod(root, 0o755))
	bin := filepath.Join(root, "logcapturer")
	b, err := os.ReadFile(built)
	mustOK(t, err)
	mustOK(t, os.WriteFile(bin, b, 0o755))
	logs, data, outDir := filepath.Join(root, "logs"), filepath.Join(root, "data"), filepath.Join(root, "out")
	for _, d := range []string{logs, data, outDir} {
		mustOK(t, os.Mkdir(d, 0o755))
	}
	secret := filepath.Join(logs, "secret.log")
	mustOK(t, os.WriteFile(secret, []byte("hidden\n"), 0o644))
	mustOK(t, os.Chmod(secret, 0))
	out := filepath.Join(outDir, "archive.log")
	addr := freePort(t)
	cfgPath := filepath.Join(root, "c.yaml")
	mustOK(t, os.WriteFile(cfgPath, []byte("data_dir: "+data+`
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"], poll_interval: 50ms}]
sinks: [{name: archive, type: file, path: `+out+`, batch: {max_wait: 10ms}}]
admin: {listen: "`+addr+`"}
`), 0o644))

	cmd := exec.Command(bin, "run", "--config", cfgPath)
	if os.Geteuid() == 0 {
		const nobody = 65534
		for _, d := range []string{data, outDir} {
			mustOK(t, os.Chown(d, nobody, nobody))
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	var stderr syncWriter
	cmd.Stderr = &stderr
	mustOK(t, cmd.Start())
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("log:\n%s", stderr.String())
		}
	}()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	secretState := func() (sources.FileStatus, bool) {
		code, body := get("/api/v1/sources")
		if code != http.StatusOK {
			return sources.FileStatus{}, false
		}
		var resp struct{ Sources []pipeline.SourceStatus }
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatalf("decode /api/v1/sources: %v\n%s", err, body)
		}
		for _, s := range resp.Sources {
			for _, f := range s.Files {
				if f.Path == secret {
					return f, true
				}
			}
		}
		return sources.FileStatus{}, false
	}

	waitFor(t, func() bool { f, ok := secretState(); return ok && f.State == sources.FileUnreadable })
	f, _ := secretState()
	if !strings.Contains(f.Error, "permission denied") || f.Since == nil || time.Since(*f.Since) > time.Minute {
		t.Fatalf("/api/v1/sources: %+v, want the error and since when", f)
	}
	waitFor(t, func() bool { code, _ := get("/readyz"); return code == http.StatusServiceUnavailable })
	if _, body := get("/readyz"); !strings.Contains(body, `"component":"source/app"`) || !strings.Contains(body, `"reason":"source_unreadable"`) ||
		!strings.Contains(body, "permission denied") {
		t.Fatalf("/readyz lacks source_unreadable on source/app: %s", body)
	}
	_, page := get("/")
	row := regexp.MustCompile(`(?s)<tr class="file">(<td><code>` + regexp.QuoteMeta(secret) + `</code>.*?)</tr>`).FindStringSubmatch(page)
	if row == nil || !strings.Contains(row[1], "unreadable") || !strings.Contains(row[1], "permission denied") {
		t.Fatalf("the status page does not show the unreadable file with its error:\n%s", page)
	}
	cli, err := exec.Command(bin, "sources", "--addr", addr).CombinedOutput()
	if err != nil || !strings.Contains(string(cli), "unreadable") || !strings.Contains(string(cli), "permission denied") ||
		!strings.Contains(string(cli), f.Since.UTC().Format(time.RFC3339)) {
		t.Fatalf("logcapturer sources: %v\n%s", err, cli)
	}

	// chmod: the line is read, the state and the reason clear.
	mustOK(t, os.Chmod(secret, 0o644))
	waitFile(t, out, func(s string) bool { return s == "hidden\n" })
	waitFor(t, func() bool { f, ok := secretState(); return ok && f.State == sources.FileOpen && f.Error == "" })
	waitFor(t, func() bool { code, _ := get("/readyz"); return code == http.StatusOK })

	mustOK(t, cmd.Process.Signal(syscall.SIGTERM))
	exited = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	log := stderr.String()
	for _, want := range []string{"permission denied; retrying", "degraded: source_unreadable", "recovered: source_unreadable", "file is readable again"} {
		if n := strings.Count(log, want); n != 1 {
			t.Errorf("%d log lines with %q, want 1", n, want)
		}
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
