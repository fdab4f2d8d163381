package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCrashKill9Interleaved: the real binary tails a Docker json-file log
// whose stdout and stderr interleave: each stderr entry (a line and two
// "  at" lines, joined by the multiline option) has a stdout line between
// its first and second line, and each write to the file ends with the
// next stderr entry's first line: the stderr entry is finished, the
// stdout one in its middle still under way. So the position is the start
// of that stdout line, and the "  at" lines after it are in an entry
// emitted already: they must not enter the WAL again, when the source
// reads on or after one of the kill -9s at random moments while records
// are written. The WAL must hold every entry exactly once. Before the
// skips (sources' streamSkip), about one "  at" pair per write went in
// twice.
func TestCrashKill9Interleaved(t *testing.T) {
	bin := binary(t)
	kills := envInt(t, "LOGCAPTURER_CRASH_KILLS", 6)
	dir := t.TempDir()
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	logDir := filepath.Join(dir, "containers", id)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 64MiB
sources:
  - name: docker
    type: docker
    paths: ["%s/containers/*/*-json.log"]
    multiline: {start: '^[Eo]', max_wait: 300ms}
sinks:
  - name: archive
    type: file
    path: %s
    batch: {max_entries: 500, max_wait: 20ms}
admin:
  listen: ""
`, filepath.Join(dir, "data"), dir, filepath.Join(dir, "out", "archive.log"))), 0o644); err != nil {
		t.Fatal(err)
	}

	f, err := os.OpenFile(filepath.Join(logDir, id+"-json.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(b []byte, log, stream string) []byte {
		return fmt.Appendf(b, `{"log":"%s\n","stream":"%s","time":"2024-05-01T10:00:00Z"}`+"\n", log, stream)
	}
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		// Each write ends with the first line of the next stderr entry,
		// which ends the last one: the file then ends with that stderr
		// entry finished and the stdout line in its middle under way.
		buf := rec(nil, "E000000", "stderr")
		for {
			select {
			case <-stop:
				done <- n
				return
			case <-tk.C:
			}
			for range 10 {
				buf = rec(buf, fmt.Sprintf("o%06d", n), "stdout")
				buf = rec(buf, fmt.Sprintf("  at %06d.1", n), "stderr")
				buf = rec(buf, fmt.Sprintf("  at %06d.2", n), "stderr")
				n++
				buf = rec(buf, fmt.Sprintf("E%06d", n), "stderr")
			}
			if _, err := f.Write(buf); err != nil {
				panic(err)
			}
			buf = buf[:0]
		}
	}()
	var stderr bytes.Buffer
	for range kills {
		crashOnce(t, bin, cfg, &stderr, 100*time.Millisecond, 900*time.Millisecond)
	}
	close(stop)
	n := <-done
	f.Close()
	want := map[string]bool{}
	for i := range n {
		want[fmt.Sprintf("E%06d\n  at %06d.1\n  at %06d.2", i, i, i)] = true
		want[fmt.Sprintf("o%06d", i)] = true
	}
	want[fmt.Sprintf("E%06d", n)] = true // the last, alone

	// The last entries end after max_wait: a clean run ingests them all.
	cmd := startChild(t, bin, cfg, &stderr)
	out := filepath.Join(dir, "out", "archive.log")
	lastE, lastO := fmt.Sprintf("E%06d", n), fmt.Sprintf("o%06d", n-1)
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := countLines(t, out) // entries of several lines count line by line
		if c[lastE] > 0 && c[lastO] > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopChild(t, cmd, &stderr)
	walDir := filepath.Join(dir, "data", "wal")
	counts, blocks := walLines(t, walDir)
	missing, extra, dups := tally(t, counts, want, "entry %q is not in the WAL", "the WAL holds %q, which is no entry written")
	t.Logf("kills=%d entries=%d in the WAL distinct=%d missing=%d extra=%d duplicates=%d blocks=%d",
		kills, len(want), len(counts), missing, extra, dups, blocks)
	if dups > 0 {
		t.Errorf("%d entries are in the WAL more than once", dups)
	}
	if t.Failed() {
		t.Logf("child stderr:\n%s", stderr.String())
	}
}
