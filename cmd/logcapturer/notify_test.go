package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/config"
)

// TestNotifyAndHealth: run tells systemd READY=1 over $NOTIFY_SOCKET once it
// runs and STOPPING=1 when it stops; `logcapturer health` exits 0 while the
// admin server answers and 1 once it is gone.
func TestNotifyAndHealth(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	addr := freePort(t)
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"]}]
sinks: [{name: out, type: file, path: `+filepath.Join(dir, "out.log")+`}]
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
		<-done
	}()
	recv := func() string {
		t.Helper()
		buf := make([]byte, 256)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no sd_notify message: %v", err)
		}
		return string(buf[:n])
	}
	if got := recv(); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	var out, errb bytes.Buffer
	if code := runMain([]string{"health", "--addr", addr}, &out, &errb); code != 0 || !strings.Contains(out.String(), "ok") {
		t.Fatalf("health while running: exit %d, %q %q", code, out.String(), errb.String())
	}
	if code := runMain([]string{"health", "--config", cfgPath, "--ready"}, &out, &errb); code != 0 {
		t.Fatalf("health --ready from the config's admin.listen: exit %d, %q", code, errb.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil // for the deferred receive
	if got := recv(); got != "STOPPING=1" {
		t.Fatalf("notification at stop %q, want STOPPING=1", got)
	}
	errb.Reset()
	// The URL once: "health: get http://…/healthz: dial tcp …".
	if code := runMain([]string{"health", "--addr", addr, "--timeout", "1s"}, &out, &errb); code != 1 ||
		!strings.HasPrefix(errb.String(), "logcapturer: health: get http://"+addr+"/healthz: dial tcp ") || strings.Count(errb.String(), "/healthz") != 1 {
		t.Fatalf("health with nothing running: exit %d, %q", code, errb.String())
	}
}

// TestCheckSeesWhatRunRefuses: check (systemd's ExecStartPre) refuses a
// file sink on a read-only filesystem, as run would, with file:line, and
// creates nothing on the way.
func TestCheckSeesWhatRunRefuses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a read-only tmpfs needs root")
	}
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a read-only tmpfs here: %v %s", err, out)
	}
	defer exec.Command("umount", ro).Run()
	cfgPath := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["/var/log/*.log"]}]
sinks:
  - name: archive
    type: file
    path: `+filepath.Join(ro, "out", "archive.log")+`
`), 0o644)
	var out, errb bytes.Buffer
	code := runMain([]string{"check", "--config", cfgPath}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), cfgPath+":6: sinks[0].path: the directory of") ||
		!strings.Contains(errb.String(), "read-only file system") {
		t.Fatalf("check: exit %d\n%s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("check created data_dir")
	}
}
