package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/wal/waltest"
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
//
// "one segment" keeps the whole WAL (one 256 MiB segment) and checks that
// it holds every line exactly once. "retention" runs on 1 MiB segments
// that retention deletes as the sink delivers them, so positions outlive
// their blocks and are pruned while files rotate; the WAL cannot be
// checked there, so no line may be missing at the sink and its duplicates
// must stay within the in-flight window of each kill. (The kills are too
// frequent for a pruned position to show reliably as a re-read file:
// TestRotatedFileAcrossRestarts pins that down deterministically.)
func TestCrashKill9Rotation(t *testing.T) {
	t.Run("one segment", func(t *testing.T) { testCrashKill9Rotation(t, "256MiB", false) })
	t.Run("retention", func(t *testing.T) { testCrashKill9Rotation(t, "1MiB", true) })
}

func testCrashKill9Rotation(t *testing.T, segment string, retention bool) {
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
  segment_size: %s
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
`, filepath.Join(dir, "data"), segment, logs, filepath.Join(dir, "out", "archive.log"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	const rate, rotateBytes = 10000, 256 << 10 // ~1 MiB/s: a rotation every ~0.3 s
	w := startRotatingWriter(logs, rate, rotateBytes)
	var stderr bytes.Buffer
	kills := 0
	for w.rotations.Load() < int64(rotations) {
		crashOnce(t, bin, cfgPath, &stderr, 100*time.Millisecond, 700*time.Millisecond)
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
	stopChild(t, cmd, &stderr)
	counts := countLines(t, out)
	missing, dups := 0, 0
	for i := range total {
		switch n := counts[rotLine(i)]; {
		case n == 0:
			if missing < 5 {
				t.Errorf("line %d never reached the sink", i)
			}
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	if retention {
		// What was sent after the last cursor commit (100ms at 10,000
		// lines/s) plus the batches in flight (workers+2 of 500), per kill.
		bound := kills * (1000 + 3*500)
		t.Logf("rotations=%d kills=%d lines=%d missing at sink=%d sink duplicates=%d (bound %d)",
			w.rotations.Load(), kills, total, missing, dups, bound)
		if missing > 0 || dups > bound {
			t.Errorf("lost %d lines, %d duplicates at the sink (bound %d)", missing, dups, bound)
		}
		if t.Failed() {
			t.Logf("child stderr:\n%s", stderr.String())
		}
		return
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

// TestCrashKill9Copytruncate runs the real binary on a file rotated by the
// real logrotate every 300 ms with copytruncate (size 256k, compress,
// delaycompress), the copies inside the glob (app.log*, exclude *.gz), and
// kill -9s it at random moments, restarting it each time. No line is in
// the WAL twice (each copy app.log.1 resumes at the offset app.log had,
// also when the copy or the truncation happened while the process was
// dead), and the only lines missing are those logrotate itself lost,
// written between its copy and its truncation: they are in no file.
// Skipped where logrotate is not installed (.ci/run installs it).
func TestCrashKill9Copytruncate(t *testing.T) {
	bin := binary(t)
	lr := waltest.Logrotate(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(logs, "app.log")
	lrConf, lrState := filepath.Join(dir, "logrotate.conf"), filepath.Join(dir, "logrotate.state")
	if err := os.WriteFile(lrConf, []byte(path+" {\n\tsize 256k\n\trotate 30\n\tcopytruncate\n\tcompress\n\tdelaycompress\n\tmissingok\n\tnomail\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 256MiB
sources:
  - name: app
    type: file
    paths: ["%s*"]
    exclude: ["*.gz"]
    poll_interval: 100ms
sinks:
  - name: archive
    type: file
    path: %s
    batch: {max_entries: 500, max_wait: 20ms}
admin:
  listen: ""
`, filepath.Join(dir, "data"), path, filepath.Join(dir, "out", "archive.log"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	// The application: one O_APPEND descriptor, 5,000 lines/s; logrotate
	// every 300 ms.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stop, done := make(chan struct{}), make(chan error, 2)
	written, runs := 0, 0
	go func() {
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		var buf []byte
		for {
			select {
			case <-stop:
				done <- nil
				return
			case <-tk.C:
			}
			buf = buf[:0]
			for range 50 {
				buf = append(append(buf, rotLine(written)...), '\n')
				written++
			}
			if _, err := f.Write(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	go func() {
		tk := time.NewTicker(300 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				done <- nil
				return
			case <-tk.C:
			}
			if out, err := exec.Command(lr, "-s", lrState, lrConf).CombinedOutput(); err != nil {
				done <- fmt.Errorf("logrotate: %w: %s", err, out)
				return
			}
			runs++
		}
	}()

	var stderr bytes.Buffer
	kills := 0
	for start := time.Now(); time.Since(start) < 8*time.Second; kills++ {
		crashOnce(t, bin, cfgPath, &stderr, 100*time.Millisecond, 700*time.Millisecond)
	}
	close(stop)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	// What logrotate left: every line in at most one file.
	inFiles := make(map[string]int)
	ents, err := os.ReadDir(logs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		var r io.Reader
		fh, err := os.Open(filepath.Join(logs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		r = fh
		if strings.HasSuffix(e.Name(), ".gz") {
			if r, err = gzip.NewReader(fh); err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			inFiles[sc.Text()]++
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
	}

	// A last, clean run reads the rest.
	out := filepath.Join(dir, "out", "archive.log")
	cmd := startChild(t, bin, cfgPath, &stderr)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got := countLines(t, out)
		all := true
		for line := range inFiles {
			if got[line] == 0 {
				all = false
				break
			}
		}
		if all {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopChild(t, cmd, &stderr)

	walCounts, walBlocks := walLines(t, filepath.Join(dir, "data", "wal"))
	walDups, lost, lostInFile, inNoFile := 0, 0, 0, 0
	for i := range written {
		line := rotLine(i)
		if inFiles[line] == 0 {
			inNoFile++
		}
		if inFiles[line] > 1 {
			t.Errorf("line %d is in %d files", i, inFiles[line])
		}
		switch n := walCounts[line]; {
		case n == 0:
			lost++
			if inFiles[line] > 0 {
				if lostInFile < 5 {
					t.Errorf("line %d is in a file but not in the wal", i)
				}
				lostInFile++
			}
		case n > 1:
			if walDups < 5 {
				t.Errorf("line %d is %d times in the wal", i, n)
			}
			walDups += n - 1
		}
		delete(walCounts, line)
	}
	t.Logf("logrotate runs=%d kills=%d lines=%d wal blocks=%d wal duplicates=%d lost=%d (in no file after logrotate: %d) unexpected wal lines=%d",
		runs, kills, written, walBlocks, walDups, lost, inNoFile, len(walCounts))
	if walDups > 0 || lostInFile > 0 || len(walCounts) > 0 {
		t.Errorf("%d lines more than once in the wal, %d lost that are still in a file, %d unexpected", walDups, lostInFile, len(walCounts))
	}
	if t.Failed() {
		t.Logf("child stderr:\n%s", stderr.String())
	}
}
