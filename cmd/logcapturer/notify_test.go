package main

import (
	"bytes"
	"context"
	"errors"
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
	cfg, err := config.Load(cfgPath, parseOptions())
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

// TestCheckSeesWhatRunRefuses: whatever the real binary's run refuses
// before it is running, check (systemd's ExecStartPre) refuses too, each
// problem at the file:line of its key, and check creates nothing on the
// way. What run refuses while loading the config it reports at the same
// line.
func TestCheckSeesWhatRunRefuses(t *testing.T) {
	bin := binary(t)
	base := t.TempDir()
	emptyToken := filepath.Join(base, "empty.token")
	os.WriteFile(emptyToken, []byte("\n"), 0o600)
	aDir := filepath.Join(base, "a-dir")
	os.Mkdir(aDir, 0o755)
	aFile := filepath.Join(base, "a-file")
	os.WriteFile(aFile, nil, 0o644)
	const (
		source  = "sources:\n  - name: app\n    type: file\n    paths: [\"$DIR/logs/*.log\"]\n"
		sink    = "sinks:\n  - name: out\n    type: file\n    path: $DIR/out.log\n"
		noAdmin = "admin: {listen: \"\"}\n"
	)
	for _, tt := range []struct {
		name, yaml string
		want       string // ":line: key:" in check's output
		runToo     bool   // run says the same, at the same line
	}{
		{"multiline regex", source + "    multiline: {start: '('}\n" + sink + noAdmin, ":6: sources[0].multiline.start: does not compile", true},
		{"timestamp regex without ts", source + "    timestamp: {regex: '^(\\S+)'}\n" + sink + noAdmin, ":6: sources[0].timestamp.regex:", true},
		{"unknown zone", source + "    timestamp:\n      json_field: ts\n      location: Mars/Olympus\n" + sink + noAdmin,
			":8: sources[0].timestamp.location:", true},
		{"reserved label", "sources:\n  - name: d\n    type: docker\n    paths: [\"$DIR/logs/*.log\"]\n    labels: {container_name: x}\n" + sink + noAdmin,
			":6: sources[0].labels.container_name: \"container_name\" is reserved", true},
		{"missing token file", source + sink + "admin:\n  listen: 127.0.0.1:0\n  token_file: $DIR/no.token\n",
			":12: admin.token_file: cannot be read: open ", true},
		{"empty token file", source + sink + "admin:\n  listen: 127.0.0.1:0\n  token_file: " + emptyToken + "\n",
			":12: admin.token_file: " + emptyToken + " is empty", true},
		{"missing password file", source + "sinks:\n  - name: l\n    type: loki\n    url: http://127.0.0.1:1/loki/api/v1/push\n" +
			"    basic_auth: {username: u, password_file: $DIR/no.pass}\n" + noAdmin, ":10: sinks[0].basic_auth.password_file: cannot be read", false},
		{"missing TLS file", source + "sinks:\n  - name: l\n    type: loki\n    url: https://127.0.0.1:1/loki/api/v1/push\n" +
			"    tls: {ca_file: $DIR/no.pem}\n" + noAdmin, ":10: sinks[0].tls: ca_file: open ", false},
		{"file sink path is a directory", source + "sinks:\n  - name: out\n    type: file\n    path: " + aDir + "\n" + noAdmin,
			":9: sinks[0].path: " + aDir + " is a directory", false},
		{"data_dir under a file", source + sink + noAdmin, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dataDir := filepath.Join(dir, "data")
			if tt.want == "" { // the data_dir case
				dataDir, tt.want = filepath.Join(aFile, "data"), ":1: data_dir: "+filepath.Join(aFile, "data")+" is not writable"
			}
			cfgPath := filepath.Join(dir, "c.yaml")
			os.WriteFile(cfgPath, []byte("data_dir: "+dataDir+"\n"+strings.ReplaceAll(tt.yaml, "$DIR", dir)), 0o644)
			var out, errb bytes.Buffer
			if code := runMain([]string{"check", "--config", cfgPath}, &out, &errb); code != 1 || !strings.Contains(errb.String(), cfgPath+tt.want) {
				t.Errorf("check: exit %d, want 1 and %q:\n%s%s", code, cfgPath+tt.want, out.String(), errb.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
				t.Error("check created data_dir")
			}

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := exec.CommandContext(ctx, bin, "run", "--config", cfgPath).CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("run accepted what check refused (still running after 30s):\n%s", got)
			}
			if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("run: %v, want exit 1:\n%s", err, got)
			}
			if tt.runToo && !strings.Contains(string(got), cfgPath+tt.want) {
				t.Errorf("run does not say %q:\n%s", cfgPath+tt.want, got)
			}
		})
	}

	t.Run("read-only filesystem", func(t *testing.T) {
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
	})
}
