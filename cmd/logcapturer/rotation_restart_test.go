package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
)

// appendRotLines appends lines from..to-1 (rotLine) to path.
func appendRotLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf []byte
	for i := from; i < to; i++ {
		buf = append(append(buf, rotLine(i)...), '\n')
		if len(buf) > 1<<20 {
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
			buf = buf[:0]
		}
	}
	if _, err := f.Write(buf); err != nil {
		t.Fatal(err)
	}
}

// caughtUp reports whether the running program at admin has read every
// file it tails to its end and every sink has delivered everything.
func caughtUp(admin string) bool {
	resp, err := http.Get("http://" + admin + "/api/v1/status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st pipeline.Status
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return false
	}
	if st.WAL.DurableIndex != st.WAL.LastIndex || len(st.Sources) == 0 {
		return false
	}
	for _, s := range st.Sources {
		if len(s.Files) == 0 {
			return false
		}
		for _, f := range s.Files {
			if f.LagBytes != 0 {
				return false
			}
		}
	}
	for _, s := range st.Sinks {
		if s.Cursor != st.WAL.LastIndex || s.LagEntries != 0 {
			return false
		}
		// And the cursor is committed to state.db: a kill -9 now re-sends
		// nothing.
		if metricSum(admin, `logcapturer_sink_cursor{sink="`+s.Name+`"}`) != float64(st.WAL.LastIndex) {
			return false
		}
	}
	return true
}

// TestRotatedFileAcrossRestarts is the operator's rename rotation with the
// rotated name inside the glob (app.log*), on a WAL small enough that
// retention deletes the rotated file's blocks: 100,000 lines in app.log,
// renamed to app.log.1, 100,000 more in a new app.log, then three ordinary
// restarts (SIGTERM, start) with a few more lines each time (once also to
// the renamed file). Every line arrives exactly once. It failed when positions were pruned by path: the
// rotated file's position was deleted once its last block left the WAL,
// and the next start read app.log.1 again from its beginning (with
// start_at: end, skipped its unread lines instead).
//
// Each start_at is run with ordinary restarts (SIGTERM) and with kill -9
// once everything is delivered and committed, so no restart may re-send.
func TestRotatedFileAcrossRestarts(t *testing.T) {
	for _, startAt := range []string{"beginning", "end"} {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			t.Run(startAt+"/"+sig.String(), func(t *testing.T) { testRotatedFileAcrossRestarts(t, startAt, sig) })
		}
	}
}

func testRotatedFileAcrossRestarts(t *testing.T, startAt string, sig syscall.Signal) {
	bin := binary(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	app, out := filepath.Join(logs, "app.log"), filepath.Join(dir, "out", "archive.log")
	addr := freePort(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 1MiB
  max_bytes: 64MiB
sources:
  - name: app
    type: file
    paths: ["%s/app.log*"]
    start_at: %s
    poll_interval: 100ms
sinks:
  - name: archive
    type: file
    path: %s
admin:
  listen: %q
`, filepath.Join(dir, "data"), logs, startAt, out, addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	var stderr bytes.Buffer
	written := 0
	// With start_at: end, the first start must see app.log before lines
	// are written, or it skips them.
	if err := os.WriteFile(app, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := startChild(t, bin, cfgPath, &stderr)
	stop := func() {
		t.Helper()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil && sig != syscall.SIGKILL {
			t.Fatalf("shutdown: %v\n%s", err, stderr.String())
		}
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	wait := func(what string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		// Every line at the sink first, then the status: read in the
		// other order, a status from before the last blocks were read
		// could pass with their cursor not yet committed.
		for len(countLines(t, out)) < written || !caughtUp(addr) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not caught up after 60s (%d of %d lines)\n%s", what, len(countLines(t, out)), written, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(t, func() bool { return caughtUp(addr) })
	appendRotLines(t, app, 0, 100_000)
	written = 100_000
	wait("first file")
	if err := os.Rename(app, app+".1"); err != nil {
		t.Fatal(err)
	}
	appendRotLines(t, app, written, written+100_000)
	written += 100_000
	wait("after the rotation")
	stop()
	for restart := range 3 {
		if restart == 1 {
			// Lines written late to the renamed file while stopped (an
			// application that had not reopened yet), after a start that
			// committed and pruned: read once, not skipped.
			appendRotLines(t, app+".1", written, written+100)
			written += 100
		}
		appendRotLines(t, app, written, written+1000)
		written += 1000
		cmd = startChild(t, bin, cfgPath, &stderr)
		wait(fmt.Sprintf("restart %d", restart+1))
		stop()
	}

	counts := countLines(t, out)
	missing, dups, firstDup, lastDup := 0, 0, -1, -1
	for i := range written {
		switch n := counts[rotLine(i)]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
			if firstDup < 0 {
				firstDup = i
			}
			lastDup = i
		}
		delete(counts, rotLine(i))
	}
	if dups > 0 {
		t.Logf("duplicated lines %d..%d", firstDup, lastDup)
	}
	t.Logf("written=%d missing=%d duplicates=%d unexpected=%d", written, missing, dups, len(counts))
	if missing > 0 || dups > 0 || len(counts) > 0 {
		t.Errorf("%d lines missing, %d duplicates, %d unexpected lines\n%s", missing, dups, len(counts), stderr.String())
	}
}
