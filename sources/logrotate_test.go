package sources

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/wal/waltest"
)

// TestFileLogrotate drives the real logrotate (Debian package logrotate,
// which .ci/run installs) every 300 ms on a file written at 5,000 lines/s,
// with the rotated names inside the glob and the compressed ones excluded
// (app.log*, exclude *.gz), as the README advises, in both of its modes:
//
//   - create (rename, then create; the writer reopens app.log when it sees
//     the rename, as an application does on its SIGHUP): nothing lost,
//     nothing read twice;
//   - copytruncate: nothing read twice, and the only lines lost are those
//     logrotate itself loses, written between its copy and its truncation:
//     they are in no file afterwards (the copy app.log.1 resumes at the
//     offset app.log had, so the lines written after the source's last
//     read of app.log and before the copy are read from the copy).
//
// LOGCAPTURER_LOGROTATE_SECONDS sets how long the writer writes (default 4).
func TestFileLogrotate(t *testing.T) {
	bin := waltest.Logrotate(t)
	seconds := 4
	if v := os.Getenv("LOGCAPTURER_LOGROTATE_SECONDS"); v != "" {
		var err error
		if seconds, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range []string{"create", "copytruncate"} {
		t.Run(mode, func(t *testing.T) {
			dir, etc := t.TempDir(), t.TempDir()
			path := filepath.Join(dir, "app.log")
			conf := filepath.Join(etc, "logrotate.conf")
			// rotate 30 keeps every rotation of the default run; a longer
			// run keeps more, so that a line in no file is one logrotate lost.
			writeConf(t, conf, path, mode, max(30, 2*seconds))

			cnt := &seqCounter{t: t, counts: make(map[int]int)}
			h := newHarness(t, FileOptions{Paths: []string{path + "*"}, Exclude: []string{"*.gz"}, Emitter: cnt})
			h.start(t)
			h.waitStarted(t)

			lr := startLogrotate(t, bin, filepath.Join(etc, "state"), conf, 300*time.Millisecond)
			written := writeLines(t, path, mode == "create", 5000, time.Duration(seconds)*time.Second)
			runs := lr.stop(t)

			inFiles := linesInFiles(t, dir)
			kept := 0
			for i := range written {
				if inFiles[i] > 0 {
					kept++
				}
				if inFiles[i] > 1 {
					t.Fatalf("line %d is in %d files", i, inFiles[i])
				}
			}
			if !eventually(func() bool { return cnt.hasAll(written, inFiles) }, 20*time.Second) {
				t.Errorf("timed out after 20s waiting for every line still in a file")
			} else {
				h.waitScans(t, 3)
			}

			cnt.mu.Lock()
			lost, lostInFile, dups := 0, 0, 0
			for i := range written {
				switch k := cnt.counts[i]; {
				case k == 0:
					lost++
					if inFiles[i] > 0 {
						lostInFile++
					}
				case k > 1:
					dups += k - 1
				}
			}
			cnt.mu.Unlock()
			rotations := countRotated(t, dir)
			t.Logf("%s: %d lines written, %d logrotate runs, %d rotations, %d files taken for copies; "+
				"lost %d (in no file after logrotate: %d), duplicates %d",
				mode, written, runs, rotations, int(testutilValue(h.f.metrics.copies)), lost, written-kept, dups)
			if rotations < 3 {
				t.Errorf("only %d rotations", rotations)
			}
			if dups > 0 {
				t.Errorf("%d duplicates", dups)
			}
			if lostInFile > 0 {
				t.Errorf("%d lost lines are still in a file: the source lost them", lostInFile)
			}
			if mode == "create" && lost > 0 {
				t.Errorf("create mode lost %d lines", lost)
			}
			cnt.check(t, 0) // unexpected lines
		})
	}
}

// hasAll reports whether every line of 0..n-1 that is in a file arrived.
func (c *seqCounter) hasAll(n int, inFiles map[int]int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range n {
		if inFiles[i] > 0 && c.counts[i] == 0 {
			return false
		}
	}
	return true
}

func writeConf(t *testing.T, conf, path, mode string, keep int) {
	t.Helper()
	// size: rotate at each run once app.log passed 256 KiB; compress with
	// delaycompress: app.log.1 stays plain until the next rotation, then
	// becomes app.log.2.gz.
	body := fmt.Sprintf("%s {\n\tsize 256k\n\trotate %d\n\t%s\n\tcompress\n\tdelaycompress\n\tmissingok\n\tnomail\n}\n", path, keep, mode)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// logrotateLoop runs logrotate every period until stopped.
type logrotateLoop struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	runs  int
	err   error
}

func startLogrotate(t *testing.T, bin, state, conf string, period time.Duration) *logrotateLoop {
	l := &logrotateLoop{stopc: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-l.stopc:
				return
			case <-tick.C:
			}
			out, err := exec.CommandContext(context.Background(), bin, "-s", state, conf).CombinedOutput()
			l.mu.Lock()
			l.runs++
			if err != nil && l.err == nil {
				l.err = fmt.Errorf("logrotate: %w: %s", err, out)
			}
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { l.stop(t) })
	return l
}

// stop stops the loop, waits for it and returns how many runs it made; a
// failed run fails the test. It is safe to call twice.
func (l *logrotateLoop) stop(t *testing.T) int {
	t.Helper()
	l.mu.Lock()
	select {
	case <-l.stopc:
	default:
		close(l.stopc)
	}
	l.mu.Unlock()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		t.Error(l.err)
		l.err = nil
	}
	return l.runs
}

// writeLines appends seqLines to path at rate lines/s for d, through one
// O_APPEND descriptor, as an application does; with reopen it reopens path
// when path no longer leads to that descriptor's file (create mode: its
// reaction to logrotate's postrotate SIGHUP). It returns how many lines it
// wrote.
func writeLines(t *testing.T, path string, reopen bool, rate int, d time.Duration) int {
	t.Helper()
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := open()
	defer func() { f.Close() }()
	const tick = 5 * time.Millisecond
	perTick := max(1, rate/int(time.Second/tick))
	var buf []byte
	n := 0
	start := time.Now()
	for next := start; time.Since(start) < d; {
		next = next.Add(tick)
		time.Sleep(time.Until(next))
		buf = buf[:0]
		for range perTick {
			buf = append(append(buf, seqLine(n)...), '\n')
			n++
		}
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
		if reopen {
			if cur, err := os.Stat(path); err == nil {
				if mine, err := f.Stat(); err == nil && !os.SameFile(cur, mine) {
					f.Close()
					f = open()
				}
			}
		}
	}
	return n
}

// linesInFiles counts, per sequence number, the copies of each seqLine in
// the files of dir, the compressed ones uncompressed.
func linesInFiles(t *testing.T, dir string) map[int]int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := make(map[int]int)
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = bytes.NewReader(data)
		if strings.HasSuffix(e.Name(), ".gz") {
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			r = zr
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			i, err := strconv.Atoi(strings.SplitN(sc.Text(), " ", 2)[0])
			if err != nil || sc.Text() != seqLine(i) {
				t.Fatalf("%s: unexpected line %q", e.Name(), sc.Text())
			}
			in[i]++
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
	}
	return in
}

// countRotated counts the rotated files in dir.
func countRotated(t *testing.T, dir string) int {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(dir, "app.log.*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}
