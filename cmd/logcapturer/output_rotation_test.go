package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/wal/waltest"
)

// TestFileSinkOutputRotation runs the real binary with a file sink and
// rotates the sink's output as an operator and logrotate do:
//
//   - mv raw.log away, write more input: every later line is in a new
//     raw.log, none in the renamed file;
//   - rm raw.log: the same;
//   - mv raw.log away and SIGHUP with the config unchanged: raw.log is
//     created again at once (no input needed) and the log says the output
//     files were reopened;
//   - logrotate (the real one) with nocreate and a postrotate that sends
//     SIGHUP, while lines are written;
//   - logrotate with nocreate, compress (no delaycompress) and a postrotate
//     that calls POST /-/reload, while lines are written: the answer comes
//     once the old file is closed, so the compressed file holds every line
//     written to it.
//
// At the end the files, oldest first, hold every line once and in order
// (but those in the file rm removed).
func TestFileSinkOutputRotation(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	logs, out, etc := filepath.Join(dir, "logs"), filepath.Join(dir, "out"), filepath.Join(dir, "etc")
	for _, d := range []string{logs, out, etc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	app, raw := filepath.Join(logs, "app.log"), filepath.Join(out, "raw.log")
	tokenFile := filepath.Join(etc, "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	addr := freePort(t)
	cfgPath := filepath.Join(etc, "c.yaml")
	os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["`+app+`"]}]
sinks:
  - {name: out, type: file, path: `+raw+`, workers: 1, batch: {max_wait: 10ms}}
admin: {listen: "`+addr+`", token_file: `+tokenFile+`}
`), 0o644)

	w := &inputWriter{path: app}
	w.write(t, 100)
	var stderr syncWriter
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitLines := func(path string, from, to int) {
		t.Helper()
		waitFile(t, path, func(s string) bool { return s == seqLines(from, to) })
	}
	waitLines(raw, 0, 100)

	// mv: the next lines go to a new raw.log, none to the renamed file.
	mustRename(t, raw, raw+".mv")
	w.write(t, 100)
	waitLines(raw, 100, 200)
	if b, _ := os.ReadFile(raw + ".mv"); string(b) != seqLines(0, 100) {
		t.Fatalf("the renamed file holds %d bytes, want only the lines before the rename", len(b))
	}

	// rm: the same.
	if err := os.Remove(raw); err != nil {
		t.Fatal(err)
	}
	w.write(t, 50)
	waitLines(raw, 200, 250)

	// mv and SIGHUP, config unchanged: raw.log is created at once.
	mustRename(t, raw, raw+".hup")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return fileExists(raw) && strings.Contains(stderr.String(), "output files reopened") })
	if !strings.Contains(stderr.String(), "nothing changed") {
		t.Errorf("the log does not say that nothing changed:\n%s", stderr.String())
	}
	if b, _ := os.ReadFile(raw); len(b) != 0 {
		t.Fatalf("the file a SIGHUP created holds %q before any input", b)
	}
	w.write(t, 50)
	waitLines(raw, 250, 300)

	lr := waltest.Logrotate(t)
	rotate := func(conf, postrotate string) {
		t.Helper()
		path := filepath.Join(etc, conf)
		os.WriteFile(path, []byte(raw+" {\n\trotate 5\n\tnocreate\n\t"+conf+"\n\tmissingok\n\tnomail\n\tpostrotate\n\t\t"+postrotate+"\n\tendscript\n}\n"), 0o644)
		// Rotate while lines are being written: once the sink has
		// written some of the running writer's lines, and until it
		// has written some more after the rotation.
		from := w.n()
		stop := w.run(t)
		defer stop()
		waitFor(t, func() bool { return strings.Contains(readMaybe(raw), seqLine(from+50)) })
		if b, err := exec.Command(lr, "-f", "-s", filepath.Join(etc, "state"), path).CombinedOutput(); err != nil {
			t.Fatalf("logrotate: %v\n%s", err, b)
		}
		after := w.n()
		waitFor(t, func() bool { return strings.Contains(readMaybe(raw), seqLine(after+50)) })
	}
	reopened := func() int { return strings.Count(stderr.String(), "output files reopened") }

	// logrotate, postrotate SIGHUP.
	before := reopened()
	rotate("nocompress", "kill -HUP "+strconv.Itoa(cmd.Process.Pid))
	waitFor(t, func() bool { return reopened() > before })
	mustRename(t, raw+".1", raw+".lr-hup")

	// logrotate, postrotate POST /-/reload, then compress at once.
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed: it is the postrotate's HTTP client")
	}
	before = reopened()
	rotate("compress", `curl -sSf -X POST -H "Authorization: Bearer $(cat `+tokenFile+`)" http://`+addr+`/-/reload`)
	waitFor(t, func() bool { return reopened() > before })

	// Every line once, in order: the files oldest first.
	n := w.n()
	waitFor(t, func() bool { return strings.HasSuffix(readMaybe(raw), seqLine(n-1)+"\n") })
	var all bytes.Buffer
	for _, f := range []string{raw + ".mv", raw + ".hup", raw + ".lr-hup", raw + ".1.gz", raw} {
		all.WriteString(readOutput(t, f))
	}
	// Lines 100..199 were in the file rm removed.
	if got := strings.TrimPrefix(all.String(), seqLines(0, 100)); got != seqLines(200, n) {
		lines := strings.Split(got, "\n")
		t.Fatalf("the output files hold %d lines for 100 + %d written, or not in order; first difference at line %d",
			len(lines)-1+100, n-200, firstDiff(lines, 200, n))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
}

// inputWriter appends numbered lines to the source's file.
type inputWriter struct {
	path string
	mu   sync.Mutex
	next int
}

func (w *inputWriter) write(t *testing.T, k int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(seqLines(w.next, w.next+k)); err != nil {
		t.Error(err)
	}
	w.next += k
}

func (w *inputWriter) n() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// run writes 10 lines every 2 ms until the returned stop is called (which
// waits for it).
func (w *inputWriter) run(t *testing.T) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				w.write(t, 10)
			}
		}
	}()
	return func() { close(quit); <-done }
}

func seqLine(i int) string { return fmt.Sprintf("line-%07d", i) }

func seqLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(seqLine(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// firstDiff returns the first line from..to-1 that is not at its place.
func firstDiff(lines []string, from, to int) int {
	for i := from; i < to; i++ {
		if i-from >= len(lines) || lines[i-from] != seqLine(i) {
			return i
		}
	}
	return to
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readMaybe(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// readOutput reads a plain or gzip file.
func readOutput(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}
