package main

import (
	"bytes"
	encbin "encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJournaldCrashKill9 runs the real binary with a journald source
// reading, through the real journalctl, a journal directory the test
// appends to with systemd-journal-remote; it kill -9s the binary at random
// moments and restarts it. Every entry must reach the sink and be in the
// WAL exactly once: the cursor is stored in the blocks, and a restart
// resumes after the last durable one. No journalctl outlives its parent.
func TestJournaldCrashKill9(t *testing.T) {
	bin := binary(t)
	remote := journalRemote(t)
	kills := envInt(t, "LOGCAPTURER_CRASH_KILLS", 8)
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	if err := os.MkdirAll(jdir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "archive.log")
	cfg := fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 64MiB
sources:
  - name: journal
    type: journald
    path: %s
    since: beginning
sinks:
  - name: archive
    type: file
    path: %s
    batch: {max_entries: 500, max_wait: 20ms}
admin:
  listen: ""
`, filepath.Join(dir, "data"), jdir, out)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(jdir, "system.journal")
	written := 0
	write := func(n int) {
		appendJournal(t, remote, file, written, written+n)
		written += n
	}
	var stderr bytes.Buffer
	for i := 0; i < kills; i++ {
		cmd := startChild(t, bin, cfgPath, &stderr)
		write(300 + rand.IntN(300))
		time.Sleep(time.Duration(100+rand.IntN(700)) * time.Millisecond) // the random moment of the crash
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		write(100) // while it is down
	}
	waitNoJournalctl(t, jdir)

	cmd := startChild(t, bin, cfgPath, &stderr)
	deadline := time.Now().Add(60 * time.Second)
	var counts map[string]int
	for {
		counts = countLines(t, out)
		if len(counts) >= written || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopChild(t, cmd, &stderr)
	waitNoJournalctl(t, jdir)
	counts = countLines(t, out)
	missing := 0
	for i := 0; i < written; i++ {
		if counts[journalLine(i)] == 0 {
			if missing < 5 {
				t.Errorf("entry %q never reached the sink", journalLine(i))
			}
			missing++
		}
	}
	walCounts, blocks := walLines(t, filepath.Join(dir, "data", "wal"))
	walDups := 0
	for _, n := range walCounts {
		walDups += max(0, n-1)
	}
	if walDups > 0 || len(walCounts) != written {
		t.Errorf("wal: %d distinct entries, %d written, %d entries more than once", len(walCounts), written, walDups)
	}
	t.Logf("kills=%d entries=%d missing=%d wal blocks=%d wal duplicates=%d", kills, written, missing, blocks, walDups)
	if t.Failed() {
		t.Logf("child stderr:\n%s", stderr.String())
	}
}

func journalLine(i int) string { return fmt.Sprintf("journal entry %06d", i) }

// journalRemote returns systemd-journal-remote (Debian package
// systemd-journal-remote), or skips.
func journalRemote(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Skip("journalctl not installed (Debian package systemd)")
	}
	for _, p := range []string{"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("systemd-journal-remote not installed (Debian package systemd-journal-remote)")
	return ""
}

// appendJournal appends entries from..to-1 to the journal file path in the
// export format, through systemd-journal-remote.
func appendJournal(t *testing.T, remote, path string, from, to int) {
	t.Helper()
	var in []byte
	field := func(name, value string) {
		in = append(in, name...)
		in = append(in, '=')
		in = append(in, value...)
		in = append(in, '\n')
	}
	for i := from; i < to; i++ {
		field("__REALTIME_TIMESTAMP", fmt.Sprint(1700000000000000+int64(i)*1000))
		field("_BOOT_ID", "0123456789abcdef0123456789abcdef")
		field("_SYSTEMD_UNIT", "app.service")
		// MESSAGE in the binary form, as journald writes non-text values.
		msg := journalLine(i)
		in = append(in, "MESSAGE\n"...)
		in = encbin.LittleEndian.AppendUint64(in, uint64(len(msg)))
		in = append(in, msg...)
		in = append(in, "\n\n"...)
	}
	cmd := exec.Command(remote, "-o", path, "-")
	cmd.Stdin = bytes.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v: %s", err, out)
	}
}

// waitNoJournalctl waits until no journalctl reading jdir runs: a killed
// logcapturer's child dies with it.
func waitNoJournalctl(t *testing.T, jdir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := ""
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && strings.Contains(string(b), "journalctl") && strings.Contains(string(b), "--directory="+jdir) {
				left = e.Name()
			}
		}
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("journalctl (pid %s) outlived its logcapturer", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
