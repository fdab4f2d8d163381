package journald

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources"
)

// Tests against the real journalctl, reading journal files the test writes
// with systemd-journal-remote from export-format input (Debian packages
// systemd and systemd-journal-remote).

// realTools returns journalctl and systemd-journal-remote, or skips.
func realTools(t *testing.T) (journalctl, remote string) {
	t.Helper()
	j, err := exec.LookPath("journalctl")
	if err != nil {
		t.Skip("journalctl not installed (Debian package systemd)")
	}
	for _, p := range []string{"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			return j, p
		}
	}
	if p, err := exec.LookPath("systemd-journal-remote"); err == nil {
		return j, p
	}
	t.Skip("systemd-journal-remote not installed (Debian package systemd-journal-remote)")
	return "", ""
}

// writeJournal appends entries from..to-1 to the journal file path (made
// if missing) with systemd-journal-remote. Entry i's MESSAGE is "line i",
// except every 7th, which is binary.
func writeJournal(t *testing.T, remote, path string, from, to int) {
	t.Helper()
	var in []byte
	for i := from; i < to; i++ {
		in = appendExport(in,
			exportField{name: "__REALTIME_TIMESTAMP", value: strconv.FormatInt(1700000000000000+int64(i)*1000, 10)},
			exportField{name: "_BOOT_ID", value: "0123456789abcdef0123456789abcdef"},
			exportField{name: "_SYSTEMD_UNIT", value: "app.service"},
			exportField{name: "PRIORITY", value: "4"},
			exportField{name: "MESSAGE", value: realMessage(i)})
	}
	cmd := exec.Command(remote, "-o", path, "-")
	cmd.Stdin = bytes.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v: %s", err, out)
	}
}

func realMessage(i int) string {
	if i%7 == 3 {
		return fmt.Sprintf("bin %d\xff\x00\nend", i)
	}
	return fmt.Sprintf("line %d", i)
}

func realMessages(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, realMessage(i))
	}
	return out
}

func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %d lines %q\nwant %d %q", len(got), got, len(want), want)
	}
}

func realOptions(journalctl, dir string) Options {
	o := testOptions(journalctl)
	o.Path = dir
	return o
}

// Reads a journal directory, follows appends, and, started again with the
// cursor of its last block, goes on exactly after it: nothing twice,
// nothing lost.
func TestRealResumeAfterCursor(t *testing.T) {
	jc, remote := realTools(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "a.journal")
	writeJournal(t, remote, file, 0, 20)
	h := startSource(t, realOptions(jc, dir), fast())
	sameLines(t, h.rec.waitLines(t, 20, 10*time.Second), realMessages(0, 20))
	writeJournal(t, remote, file, 20, 30) // followed
	sameLines(t, h.rec.waitLines(t, 30, 10*time.Second), realMessages(0, 30))
	rec, _ := h.rec.lastRecord()
	if !strings.HasPrefix(rec.Position.Cursor, "s=") {
		t.Fatalf("cursor %q", rec.Position.Cursor)
	}
	h.src.Close()

	writeJournal(t, remote, file, 30, 40) // while stopped
	p := fast()
	p.Cursor = rec.Position.Cursor
	h2 := startSource(t, realOptions(jc, dir), p)
	sameLines(t, h2.rec.waitLines(t, 10, 10*time.Second), realMessages(30, 40))
	time.Sleep(200 * time.Millisecond)
	sameLines(t, h2.rec.lines(), realMessages(30, 40))
}

// journalctl killed: started again after the last cursor handed over,
// nothing lost or doubled.
func TestRealChildKilled(t *testing.T) {
	jc, remote := realTools(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "a.journal")
	writeJournal(t, remote, file, 0, 10)
	h := startSource(t, realOptions(jc, dir), fast())
	h.rec.waitLines(t, 10, 10*time.Second)
	pid := childPid(t, "journalctl")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "journalctl started again", func() bool { return h.restarts() == 1 && childPidOrZero("journalctl") != 0 })
	writeJournal(t, remote, file, 10, 20)
	sameLines(t, h.rec.waitLines(t, 20, 10*time.Second), realMessages(0, 20))
	if !strings.Contains(h.logs.String(), "signal: killed") {
		t.Errorf("the restart's log line does not say why:\n%s", h.logs.String())
	}
}

// A journal file damaged in its middle and a file of garbage: journalctl
// reads what it can and ignores the rest; the source stays up and reads
// a good file written later.
func TestRealCorruptJournal(t *testing.T) {
	jc, remote := realTools(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "a.journal")
	writeJournal(t, remote, file, 0, 200)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte("line 100"))
	if at < 0 {
		t.Fatal("entry 100 not found in the file")
	}
	for i := at - 200; i < at+2000; i++ {
		data[i] = 0xab
	}
	os.WriteFile(file, data, 0o640)
	os.WriteFile(filepath.Join(dir, "b.journal"), bytes.Repeat([]byte("garbage "), 1000), 0o640)
	h := startSource(t, realOptions(jc, dir), fast())
	got := h.rec.waitLines(t, 50, 10*time.Second)
	sameLines(t, got[:50], realMessages(0, 50))
	writeJournal(t, remote, filepath.Join(dir, "c.journal"), 1000, 1010)
	waitFor(t, 10*time.Second, "the good file's entries", func() bool {
		return strings.Contains(strings.Join(h.rec.lines(), "|"), "line 1009")
	})
	if h.restarts() != 0 {
		t.Errorf("%v restarts", h.restarts())
	}
	if fs := h.src.Files(); fs[0].State != sources.FileOpen {
		t.Errorf("status %+v", fs[0])
	}
}

// The active file archived (renamed as journald does) and a new one
// started: every entry once.
func TestRealRotatedJournal(t *testing.T) {
	jc, remote := realTools(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "system.journal")
	writeJournal(t, remote, file, 0, 10)
	h := startSource(t, realOptions(jc, dir), fast())
	h.rec.waitLines(t, 10, 10*time.Second)
	if err := os.Rename(file, filepath.Join(dir, "system@0123456789abcdef0123456789abcdef-0000000000000001-0005f5e100000000.journal")); err != nil {
		t.Fatal(err)
	}
	writeJournal(t, remote, file, 10, 25)
	sameLines(t, h.rec.waitLines(t, 25, 10*time.Second), realMessages(0, 25))
	time.Sleep(300 * time.Millisecond)
	sameLines(t, h.rec.lines(), realMessages(0, 25))
}

// childPid returns the pid of our child process named comm.
func childPid(t *testing.T, comm string) int {
	t.Helper()
	var pid int
	waitFor(t, 10*time.Second, comm+" running", func() bool {
		pid = childPidOrZero(comm)
		return pid != 0
	})
	return pid
}

func childPidOrZero(comm string) int {
	ents, _ := os.ReadDir("/proc")
	me := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if s[open+1:close] == comm && len(f) > 1 && f[1] == strconv.Itoa(me) {
			return pid
		}
	}
	return 0
}
