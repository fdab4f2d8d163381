package sinks

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/wal/waltest"
)

// TestFileLogrotate rotates the file sink's output with the real logrotate
// (Debian package logrotate, which .ci/run installs) every 100 ms while
// batches are written every 5 ms, in logrotate's default rename mode with
// create (a new empty file at the path) and with nocreate (none): each
// batch lands in the file the path names when it is written, so the
// rotated files, oldest first, then the current one hold every line once
// and in order, and a batch written after the last rotation is in the
// current file. (Reopening on SIGHUP, logrotate's postrotate, is tested with
// the real binary in cmd/logcapturer.)
func TestFileLogrotate(t *testing.T) {
	bin := waltest.Logrotate(t)
	for _, mode := range []string{"create", "nocreate"} {
		t.Run(mode, func(t *testing.T) {
			dir, etc := t.TempDir(), t.TempDir()
			path := filepath.Join(dir, "raw.log")
			conf := filepath.Join(etc, "logrotate.conf")
			body := fmt.Sprintf("%s {\n\tsize 4k\n\trotate 1000\n\t%s\n\tmissingok\n\tnomail\n}\n", path, mode)
			if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := NewFile(nil, nil, FileOptions{Name: "f", Path: path})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			stop := make(chan struct{})
			var wg sync.WaitGroup
			var lrErr error
			wg.Add(1)
			go func() { // owned by the test: stopped and waited below
				defer wg.Done()
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if out, err := exec.Command(bin, "-s", filepath.Join(etc, "state"), conf).CombinedOutput(); err != nil {
						lrErr = fmt.Errorf("logrotate: %w: %s", err, out)
						return
					}
				}
			}()
			n := 0
			ctx := context.Background()
			deadline := time.Now().Add(1500 * time.Millisecond)
			for time.Now().Before(deadline) || rotated(t, path) < 3 {
				if time.Now().After(deadline.Add(5 * time.Second)) {
					break
				}
				lines := make([]string, 20)
				for i := range lines {
					lines[i] = strconv.Itoa(n)
					n++
				}
				if err := s.Send(ctx, lineBatch(lines...)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Millisecond) // pace the writer, as an application's log rate
			}
			close(stop)
			wg.Wait()
			if lrErr != nil {
				t.Fatal(lrErr)
			}
			if err := s.Send(ctx, lineBatch("last")); err != nil {
				t.Fatal(err)
			}

			rotations := rotated(t, path)
			if rotations < 3 {
				t.Fatalf("only %d rotations", rotations)
			}
			var got []string
			for i := rotations; i >= 1; i-- {
				got = append(got, fileLines(t, path+"."+strconv.Itoa(i))...)
			}
			current := fileLines(t, path)
			if len(current) == 0 || current[len(current)-1] != "last" {
				t.Fatalf("the batch after the last rotation is not in the file at the path, which holds %d lines ending %q",
					len(current), current[max(0, len(current)-3):])
			}
			got = append(got, current[:len(current)-1]...)
			if len(got) != n {
				t.Errorf("%d lines in the files, %d written", len(got), n)
			}
			for i, l := range got {
				if l != strconv.Itoa(i) {
					t.Fatalf("line %d of the files, oldest first, is %q: lost, repeated or out of order", i, l)
				}
			}
			t.Logf("%s: %d lines, %d rotations", mode, n, rotations)
		})
	}
}

// rotated counts path.1, path.2, ...
func rotated(t *testing.T, path string) int {
	t.Helper()
	ms, err := filepath.Glob(path + ".*")
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
