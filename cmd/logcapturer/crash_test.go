package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/wal"
)

// childReady holds, by child (*exec.Cmd), the notify socket startChild
// gave it.
var childReady sync.Map

// buildBinary builds the real logcapturer binary once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "logcapturer-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "logcapturer")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped with -short")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// lineWriter appends numbered lines to several files at a steady rate.
type lineWriter struct {
	files   []*os.File
	written []int // lines written per file
	mu      sync.Mutex
	stop    chan struct{}
	done    chan struct{}
}

func startWriter(t *testing.T, dir string, nfiles, linesPerSec int) *lineWriter {
	t.Helper()
	w := &lineWriter{stop: make(chan struct{}), done: make(chan struct{}), written: make([]int, nfiles)}
	for i := 0; i < nfiles; i++ {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("app-%d.log", i)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		w.files = append(w.files, f)
	}
	const tick = 10 * time.Millisecond
	perTick := max(1, linesPerSec*int(tick/time.Millisecond)/1000/nfiles)
	go func() {
		defer close(w.done)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		var buf []byte
		for {
			select {
			case <-w.stop:
				return
			case <-tk.C:
			}
			w.mu.Lock()
			for i, f := range w.files {
				buf = buf[:0]
				for j := 0; j < perTick; j++ {
					buf = fmt.Appendf(buf, "f%d-%08d payload=%s\n", i, w.written[i], "lorem-ipsum-dolor-sit-amet-consectetur")
					w.written[i]++
				}
				if _, err := f.Write(buf); err != nil {
					panic(err)
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *lineWriter) finish() []int {
	close(w.stop)
	<-w.done
	for _, f := range w.files {
		f.Close()
	}
	return w.written
}

func writeConfig(t *testing.T, dir string, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 64MiB
sources:
  - name: app
    type: file
    paths: ["%s/*.log"]
sinks:
  - name: archive
    type: file
    path: %s
    batch: {max_entries: 500, max_wait: 20ms}
admin:
  listen: ""
%s`, filepath.Join(dir, "data"), filepath.Join(dir, "logs"), filepath.Join(dir, "out", "archive.log"), extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func startChild(t *testing.T, bin, cfg string, stderr io.Writer) *exec.Cmd {
	t.Helper()
	// LOGCAPTURER_TEST_CHILD_LOG_LEVEL (default warn) sets the children's
	// log level: debug shows what a failing test's child did.
	level := os.Getenv("LOGCAPTURER_TEST_CHILD_LOG_LEVEL")
	if level == "" {
		level = "warn"
	}
	cmd := exec.Command(bin, "run", "--config", cfg, "--log-level", level)
	cmd.Stderr = stderr
	// Unless the test listens itself, the child tells its own socket when
	// it is ready: stopChild waits for that, since a SIGTERM before the
	// child's handler is installed kills it ("signal: terminated").
	if os.Getenv("NOTIFY_SOCKET") == "" {
		dir, err := os.MkdirTemp("", "lc-notify-") // short: a socket path has at most 107 bytes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		path := filepath.Join(dir, "s")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path)
		childReady.Store(cmd, &notifySocket{conn: conn})
		t.Cleanup(func() { childReady.Delete(cmd) })
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A test that fails half-way leaves no child behind.
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// countLines counts each line's occurrences in the sink output.
func countLines(t *testing.T, path string) map[string]int {
	t.Helper()
	counts := make(map[string]int)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return counts
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		counts[sc.Text()]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return counts
}

func lineKey(file, n int) string {
	return fmt.Sprintf("f%d-%08d payload=lorem-ipsum-dolor-sit-amet-consectetur", file, n)
}

// TestCrashKill9 runs the real binary, kill -9s it at random moments while
// lines are written, restarts it each time, and checks that every line
// reached the file sink, no line is in the WAL twice, and duplicates at the
// sink stay within the in-flight window. LOGCAPTURER_CRASH_KILLS raises the
// number of kills for soak runs.
func TestCrashKill9(t *testing.T) {
	bin := binary(t)
	kills := envInt(t, "LOGCAPTURER_CRASH_KILLS", 20)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, "")
	out := filepath.Join(dir, "out", "archive.log")
	const nfiles, rate = 4, 4000
	w := startWriter(t, filepath.Join(dir, "logs"), nfiles, rate)
	var stderr bytes.Buffer
	for i := 0; i < kills; i++ {
		crashOnce(t, bin, cfg, &stderr, 100*time.Millisecond, 900*time.Millisecond)
	}
	written := w.finish()
	total := 0
	for _, n := range written {
		total += n
	}

	// A last, clean run delivers the rest.
	cmd := startChild(t, bin, cfg, &stderr)
	deadline := time.Now().Add(60 * time.Second)
	var counts map[string]int
	for {
		counts = countLines(t, out)
		if len(counts) >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopChild(t, cmd, &stderr)
	counts = countLines(t, out)

	missing, dups := 0, 0
	for f, n := range written {
		for i := 0; i < n; i++ {
			c := counts[lineKey(f, i)]
			if c == 0 {
				if missing < 5 {
					t.Errorf("line %s never reached the sink", lineKey(f, i))
				}
				missing++
			}
			if c > 1 {
				dups += c - 1
			}
		}
	}
	if len(counts) != total {
		t.Errorf("sink holds %d distinct lines, %d were written", len(counts), total)
	}

	// The WAL (one 64 MiB segment, so nothing was deleted) holds every
	// line exactly once.
	walCounts, walBlocks := walLines(t, filepath.Join(dir, "data", "wal"))
	walDups := 0
	for _, n := range walCounts {
		walDups += max(0, n-1)
	}
	if walDups > 0 || len(walCounts) != total {
		t.Errorf("wal: %d distinct lines, %d written, %d lines more than once", len(walCounts), total, walDups)
	}
	// Duplicates at the sink: at most what was sent after the last cursor
	// commit (100ms at 4,000 lines/s = 400) plus the batches in flight
	// (workers+2 of 500 entries), per kill.
	bound := kills * (400 + 3*500)
	t.Logf("kills=%d lines written=%d delivered distinct=%d missing=%d sink duplicates=%d (bound %d) wal blocks=%d wal duplicates=%d",
		kills, total, len(counts), missing, dups, bound, walBlocks, walDups)
	if dups > bound {
		t.Errorf("%d duplicates at the sink, more than the in-flight bound %d", dups, bound)
	}
	if t.Failed() {
		t.Logf("child stderr:\n%s", stderr.String())
	}
}

// envInt reads a whole number from the environment variable name (soak
// runs raise the defaults), or returns def when it is unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// walLines counts each line in the WAL under walDir, which the crash tests
// keep in one large segment so that retention deletes nothing; it returns
// the counts and the number of blocks.
// tally compares counts (line → times seen) with want (the lines that
// belong there). It reports the first five lines of want that counts lacks
// with missingMsg and the first five of counts that want lacks with
// extraMsg (each a format of the line, %q; "" reports nothing), and returns
// how many lines were missing, extra, and seen more than once.
func tally(t *testing.T, counts map[string]int, want map[string]bool, missingMsg, extraMsg string) (missing, extra, dups int) {
	t.Helper()
	for k := range want {
		if counts[k] == 0 {
			if missing < 5 && missingMsg != "" {
				t.Errorf(missingMsg, k)
			}
			missing++
		}
	}
	for k, n := range counts {
		if !want[k] {
			if extra < 5 && extraMsg != "" {
				t.Errorf(extraMsg, k)
			}
			extra++
		}
		dups += max(0, n-1)
	}
	return missing, extra, dups
}

func walLines(t *testing.T, walDir string) (map[string]int, uint64) {
	t.Helper()
	l, err := wal.Open(walDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.FirstIndex() != 1 {
		t.Errorf("wal starts at %d: the test needs it whole", l.FirstIndex())
	}
	counts := make(map[string]int)
	var (
		buf []byte
		blk wal.Block
	)
	for i := l.FirstIndex(); i <= l.LastIndex(); i++ {
		if buf, err = l.Read(buf, i); err != nil {
			t.Fatalf("read wal %d: %v", i, err)
		}
		if err := wal.DecodeBlock(buf, &blk); err != nil {
			t.Fatalf("decode wal %d: %v", i, err)
		}
		for _, e := range blk.Entries {
			counts[string(e.Line)]++
		}
	}
	return counts, l.LastIndex()
}

// crashOnce starts the binary on cfg and kill -9s it at a random moment
// between least and least+spread after, then reaps it.
func crashOnce(t *testing.T, bin, cfg string, stderr io.Writer, least, spread time.Duration) {
	t.Helper()
	cmd := startChild(t, bin, cfg, stderr)
	time.Sleep(least + rand.N(spread)) // the random moment of the crash
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// stopChild stops a child with SIGTERM and fails the test, showing its
// stderr, unless it shuts down cleanly.
func stopChild(t *testing.T, cmd *exec.Cmd, stderr fmt.Stringer) {
	t.Helper()
	if n, ok := childReady.Load(cmd); ok {
		n.(*notifySocket).wait(t, "READY=1")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("clean shutdown: %v\n%s", err, stderr.String())
	}
}
