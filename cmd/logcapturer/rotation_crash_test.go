package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// rotLine is the n-th line the rotating writer writes.
func rotLine(n int) string {
	return fmt.Sprintf("rot-%09d payload=lorem-ipsum-dolor-sit-amet-consectetur-adipiscing", n)
}

// rotatingAppWriter writes rotLines to dir/app.log at a steady rate and
// rotates it (rename to app.log.<k>, k = 1, 2, ...; create) every
// rotateBytes, writing a few more lines to the renamed file before it
// reopens, as an application does until it is told to. The rotated names
// stay inside the glob app.log*.
type rotatingAppWriter struct {
	dir       string
	written   int
	rotations atomic.Int64 // read by the test while the writer runs
	stop      chan struct{}
	done      chan struct{}
	err       error
}

func startRotatingWriter(dir string, linesPerSec, rotateBytes int) *rotatingAppWriter {
	w := &rotatingAppWriter{dir: dir, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.err = w.run(linesPerSec, rotateBytes)
	}()
	return w
}

func (w *rotatingAppWriter) run(linesPerSec, rotateBytes int) error {
	path := filepath.Join(w.dir, "app.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	const tick = 10 * time.Millisecond
	perTick := max(1, linesPerSec/int(time.Second/tick))
	tk := time.NewTicker(tick)
	defer tk.Stop()
	size, late := 0, -1
	var buf []byte
	for {
		select {
		case <-w.stop:
			return nil
		case <-tk.C:
		}
		buf = buf[:0]
		for range perTick {
			buf = append(append(buf, rotLine(w.written)...), '\n')
			w.written++
		}
		if _, err := f.Write(buf); err != nil {
			return err
		}
		size += len(buf)
		if late > 0 {
			if late--; late == 0 {
				f.Close()
				if f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
					return err
				}
			}
		}
		if size >= rotateBytes && late <= 0 {
			k := w.rotations.Add(1)
			if err := os.Rename(path, fmt.Sprintf("%s.%d", path, k)); err != nil {
				return err
			}
			size, late = 0, 1+rand.IntN(3)
		}
	}
}

func (w *rotatingAppWriter) finish() (int, error) {
	close(w.stop)
	<-w.done
	return w.written, w.err
}

// TestCrashKill9Rotation runs the real binary on a file rotated by rename
// and create every 256 KiB, with the rotated names inside the glob
// (app.log*), and kill -9s it at random moments, restarting it each time.
// Every line must reach the WAL exactly once: a file renamed while the
// process was dead is recognised by its fingerprint and resumed at its
// offset, not read again. LOGCAPTURER_ROTATIONS raises the number of
// rotations (default 50).
func TestCrashKill9Rotation(t *testing.T) {
	bin := binary(t)
	rotations := envInt(t, "LOGCAPTURER_ROTATIONS", 50)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 256MiB
sources:
  - name: app
    type: file
    paths: ["%s/app.log*"]
    poll_interval: 100ms
sinks:
  - name: archive
    type: file
    path: %s
    batch: {max_entries: 500, max_wait: 20ms}
admin:
  listen: ""
`, filepath.Join(dir, "data"), logs, filepath.Join(dir, "out", "archive.log"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	const rate, rotateBytes = 10000, 256 << 10 // ~1 MiB/s: a rotation every ~0.3 s
	w := startRotatingWriter(logs, rate, rotateBytes)
	var stderr bytes.Buffer
	kills := 0
	for w.rotations.Load() < int64(rotations) {
		cmd := startChild(t, bin, cfgPath, &stderr)
		time.Sleep(time.Duration(100+rand.IntN(700)) * time.Millisecond) // the random moment of the crash
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		kills++
	}
	total, err := w.finish()
	if err != nil {
		t.Fatalf("writer: %v", err)
	}

	// A last, clean run reads the rest.
	out := filepath.Join(dir, "out", "archive.log")
	cmd := startChild(t, bin, cfgPath, &stderr)
	deadline := time.Now().Add(60 * time.Second)
	for len(countLines(t, out)) < total && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("clean shutdown: %v\n%s", err, stderr.String())
	}
	counts := countLines(t, out)
	missing := 0
	for i := range total {
		if counts[rotLine(i)] == 0 {
			if missing < 5 {
				t.Errorf("line %d never reached the sink", i)
			}
			missing++
		}
	}

	// The WAL (one 256 MiB segment: nothing deleted) holds every line
	// exactly once.
	walCounts, walBlocks := walLines(t, filepath.Join(dir, "data", "wal"))
	walDups := 0
	for line, n := range walCounts {
		if n > 1 {
			if walDups < 5 {
				t.Errorf("line %q is %d times in the wal", line, n)
			}
			walDups += n - 1
		}
	}
	for i := range total {
		delete(walCounts, rotLine(i))
	}
	walOther := len(walCounts)
	t.Logf("rotations=%d kills=%d lines=%d missing at sink=%d wal blocks=%d wal duplicates=%d unexpected wal lines=%d",
		w.rotations.Load(), kills, total, missing, walBlocks, walDups, walOther)
	if walDups > 0 || walOther > 0 || missing > 0 {
		t.Errorf("lost %d lines, %d lines more than once in the wal, %d unexpected", missing, walDups, walOther)
	}
	if t.Failed() {
		t.Logf("child stderr:\n%s", stderr.String())
	}
}
