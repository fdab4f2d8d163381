package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// slowReceiver is an HTTP sink's receiver that takes hold to answer each
// request: it stores every line it is sent when the request arrives (as
// Loki does before it answers), then answers 204 after hold, or counts the
// request as cancelled when the client gives up first.
type slowReceiver struct {
	hold    time.Duration
	arrived chan struct{} // a request arrived (merged)

	mu        sync.Mutex
	lines     map[string]int // every line received, with how often
	requests  int
	answered  int
	cancelled int
}

func newSlowReceiver(t *testing.T, hold time.Duration) (*slowReceiver, string) {
	r := &slowReceiver{hold: hold, arrived: make(chan struct{}, 1), lines: make(map[string]int)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *slowReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests++
	for _, l := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		r.lines[l]++
	}
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	t := time.NewTimer(r.hold)
	defer t.Stop()
	select {
	case <-t.C:
		r.mu.Lock()
		r.answered++
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case <-req.Context().Done():
		r.mu.Lock()
		r.cancelled++
		r.mu.Unlock()
	}
}

// counts returns the distinct lines received, the lines received more than
// once (beyond the first), and the requests answered and cancelled.
func (r *slowReceiver) counts() (distinct, dups, answered, cancelled int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.lines {
		dups += n - 1
	}
	return len(r.lines), dups, r.answered, r.cancelled
}

// appendLines appends lines numbered from..to-1 to path.
func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for i := from; i < to; i++ {
		fmt.Fprintln(w, lineKey(0, i))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// drainSetup writes a config with one http sink posting to url, and
// returns its path and the log file its source reads.
func drainSetup(t *testing.T, dir, url, extra string) (cfgPath, logFile string) {
	t.Helper()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "c.yaml")
	writeDrainConfig(t, cfgPath, dir, url, extra)
	return cfgPath, filepath.Join(logs, "app.log")
}

func writeDrainConfig(t *testing.T, cfgPath, dir, url, extra string) {
	t.Helper()
	cfg := "data_dir: " + filepath.Join(dir, "data") + `
sources: [{name: app, type: file, paths: ["` + filepath.Join(dir, "logs") + `/*.log"]}]
sinks:
  - {name: web, type: http, url: "` + url + `", timeout: 1m, batch: {max_wait: 10ms}}
` + extra + `admin: {listen: ""}
`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startRun starts the real binary on cfgPath at log level info.
func startRun(t *testing.T, bin, cfgPath string, stderr io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd
}

// stopRun sends SIGTERM and waits for the process to exit 0 within limit.
func stopRun(t *testing.T, cmd *exec.Cmd, limit time.Duration, stderr fmt.Stringer) time.Duration {
	t.Helper()
	began := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(limit):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("still running %s after SIGTERM\n%s", limit, stderr.String())
	}
	return time.Since(began)
}

// waitArrived waits until the receiver has a request in hand.
func waitArrived(t *testing.T, r *slowReceiver) {
	t.Helper()
	select {
	case <-r.arrived:
	case <-time.After(15 * time.Second):
		t.Fatal("no request reached the receiver")
	}
}

// waitDistinct waits until the receiver holds n distinct lines.
func waitDistinct(t *testing.T, r *slowReceiver, n int) {
	t.Helper()
	waitFor(t, func() bool { d, _, _, _ := r.counts(); return d >= n })
}

// TestSIGTERMDrainsInFlight: with a receiver that takes a second to answer,
// a SIGTERM while a batch is in flight lets it finish (the receiver
// answered it 2xx, the process exits 0), its acknowledgement is committed,
// and the next start sends nothing twice.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	recv, url := newSlowReceiver(t, 1500*time.Millisecond)
	cfgPath, logFile := drainSetup(t, dir, url, "")
	appendLines(t, logFile, 0, 100)

	var stderr syncWriter
	cmd := startRun(t, bin, cfgPath, &stderr)
	waitArrived(t, recv)
	stopRun(t, cmd, 10*time.Second, &stderr)
	if _, _, answered, cancelled := recv.counts(); answered == 0 || cancelled != 0 {
		t.Fatalf("at SIGTERM: %d requests answered, %d cancelled: the batch in flight was not drained\n%s",
			answered, cancelled, stderr.String())
	}

	appendLines(t, logFile, 100, 200)
	cmd = startRun(t, bin, cfgPath, &stderr)
	waitDistinct(t, recv, 200)
	stopRun(t, cmd, 10*time.Second, &stderr)
	if distinct, dups, _, cancelled := recv.counts(); distinct != 200 || dups != 0 || cancelled != 0 {
		t.Fatalf("received %d distinct lines of 200 written, %d twice, %d requests cancelled\n%s",
			distinct, dups, cancelled, stderr.String())
	}
}

// TestReloadDrainsInFlight: a reload (SIGHUP) while a batch is in flight
// lets it finish instead of cancelling it, and the reloaded pipeline does
// not send it again.
func TestReloadDrainsInFlight(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	recv, url := newSlowReceiver(t, 1500*time.Millisecond)
	cfgPath, logFile := drainSetup(t, dir, url, "")
	appendLines(t, logFile, 0, 100)

	var stderr syncWriter
	cmd := startRun(t, bin, cfgPath, &stderr)
	waitArrived(t, recv)
	writeDrainConfig(t, cfgPath, dir, url, "  - {name: copy, type: file, path: "+filepath.Join(dir, "copy.log")+"}\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "config reloaded") })
	appendLines(t, logFile, 100, 200)
	waitDistinct(t, recv, 200)
	waitFile(t, filepath.Join(dir, "copy.log"), func(s string) bool { return strings.Count(s, "\n") == 200 })
	stopRun(t, cmd, 10*time.Second, &stderr)
	if distinct, dups, _, cancelled := recv.counts(); distinct != 200 || dups != 0 || cancelled != 0 {
		t.Fatalf("received %d distinct lines of 200 written, %d twice, %d requests cancelled: the reload did not drain\n%s",
			distinct, dups, cancelled, stderr.String())
	}
}

// TestSIGTERMWithHungSend: a stdout sink writing to a pipe nobody reads
// never returns from its Send; a SIGTERM still ends the process within
// shutdown_timeout (plus a second for cancelled sends), exit 0, and the
// batch that was in flight is sent again at the next start.
func TestSIGTERMWithHungSend(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 200 // more than a page: the first write cannot fit anywhere
	appendLines(t, filepath.Join(logs, "app.log"), 0, n)
	admin := freePort(t)
	cfgPath := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfgPath, []byte("data_dir: "+filepath.Join(dir, "data")+`
shutdown_timeout: 1s
sources: [{name: app, type: file, paths: ["`+logs+`/*.log"]}]
sinks: [{name: out, type: stdout, batch: {max_wait: 10ms}}]
admin: {listen: "`+admin+`"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fillPipe(t, w) // nobody reads it: the sink's first write blocks for good

	var stderr syncWriter
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	w.Close()
	waitFor(t, func() bool {
		resp, err := http.Get("http://" + admin + "/api/v1/sinks/out")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st struct {
			InFlight int `json:"in_flight"`
		}
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.InFlight == 1
	})
	took := stopRun(t, cmd, 5*time.Second, &stderr)
	t.Logf("exited %s after SIGTERM with a hung send", took.Round(time.Millisecond))
	if !strings.Contains(stderr.String(), "sends in flight ignore cancellation") {
		t.Errorf("the log does not say a send was left behind:\n%s", stderr.String())
	}

	// Next start, with a stdout that is read: the hung batch arrives.
	var out syncWriter
	cmd = exec.Command(bin, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, func() bool { return strings.Count(out.String(), "\n") >= n })
	stopRun(t, cmd, 5*time.Second, &stderr)
	if got := strings.Count(out.String(), lineKey(0, n-1)); got != 1 {
		t.Errorf("the last line arrived %d times after the restart, want 1:\n%s", got, out.String())
	}
}

// fillPipe writes to w until the pipe is full, then puts w back in blocking
// mode, as a process's stdout normally is.
func fillPipe(t *testing.T, w *os.File) {
	t.Helper()
	fd := int(w.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	// Big writes first, then single bytes for the last page's room: a
	// non-blocking write needs room for all it writes.
	for _, size := range []int{4096, 1} {
		chunk := bytes.Repeat([]byte("x"), size)
		for {
			_, err := syscall.Write(fd, chunk)
			if errors.Is(err, syscall.EAGAIN) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		t.Fatal(err)
	}
}
