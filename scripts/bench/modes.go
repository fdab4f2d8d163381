package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on Linux everywhere this runs).
const clockTicks = 100

// procCPU is the user+system CPU time of pid so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// procRSS is VmRSS of pid.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

func waitFor(what string, timeout time.Duration, cond func() bool) error {
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, timeout)
		}
	}
	return nil
}

func writeConfig(path, data, logs, sink string) error {
	return writeConfigAdmin(path, data, logs, sink, "")
}

// writeConfigAdmin is writeConfig with the admin API on listen ("": off).
func writeConfigAdmin(path, data, logs, sink, listen string) error {
	return os.WriteFile(path, []byte(fmt.Sprintf(`data_dir: %s
wal: {max_bytes: 4GiB}
sources:
  - {name: bench, type: file, paths: ["%s/*.log"], start_at: beginning}
sinks:
  - %s
admin: {listen: %q}
`, data, logs, sink, listen)), 0o644)
}

// ingested returns logcapturer_ingest_entries_total from the admin API at
// addr, or -1.
func ingested(addr string) int64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "logcapturer_ingest_entries_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return -1
			}
			return int64(f)
		}
	}
	return -1
}

func startShipper(bin, cfg string, extra ...string) (*exec.Cmd, error) {
	cmd := exec.Command(bin, append([]string{"run", "--config", cfg, "--log-level", "warn"}, extra...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd, cmd.Start()
}

func stopShipper(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("logcapturer exited: %w", err)
	}
	return nil
}

// runIdle tails files quiet files with the default config and a file sink:
// once their lines are delivered it measures, over window, the shipper's
// CPU (percent of one core) and RSS.
func runIdle(bin, dir string, files int, window time.Duration) error {
	logs, out := filepath.Join(dir, "logs"), filepath.Join(dir, "out")
	for _, d := range []string{logs, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	const linesPerFile = 10
	for i := range files {
		var b strings.Builder
		for j := range linesPerFile {
			fmt.Fprintf(&b, "2026-11-24T06:00:00.000Z level=info file=%d seq=%d msg=quiet\n", i, j)
		}
		if err := os.WriteFile(filepath.Join(logs, fmt.Sprintf("app-%03d.log", i)), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	cfg := filepath.Join(dir, "idle.yaml")
	archive := filepath.Join(out, "archive.log")
	if err := writeConfig(cfg, filepath.Join(dir, "data"), logs, fmt.Sprintf("{name: archive, type: file, path: %s, format: raw}", archive)); err != nil {
		return err
	}
	cmd, err := startShipper(bin, cfg)
	if err != nil {
		return err
	}
	defer cmd.Process.Kill()
	if err := waitFor("every line delivered", time.Minute, func() bool {
		b, _ := os.ReadFile(archive)
		return strings.Count(string(b), "\n") >= files*linesPerFile
	}); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let the first commits, retention and GCs pass
	pid := cmd.Process.Pid
	cpu0, err := procCPU(pid)
	if err != nil {
		return err
	}
	start := time.Now()
	var peak int64
	for time.Since(start) < window {
		time.Sleep(100 * time.Millisecond)
		rss, err := procRSS(pid)
		if err != nil {
			return err
		}
		peak = max(peak, rss)
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return err
	}
	rss, _ := procRSS(pid)
	if err := stopShipper(cmd); err != nil {
		return err
	}
	fmt.Printf("idle: %d files, %s window: CPU %.2f%% of a core (%.2f s), RSS %.1f MiB (peak %.1f MiB)\n",
		files, window, 100*(cpu1-cpu0).Seconds()/time.Since(start).Seconds(), (cpu1 - cpu0).Seconds(),
		float64(rss)/(1<<20), float64(peak)/(1<<20))
	return nil
}

// runRestart fills the WAL with size bytes of lines while the Loki sink is
// down (nothing listens at its URL), stops the shipper, starts a receiver
// and the shipper again, and measures the time from that start to the
// first entry delivered, the time to deliver the whole backlog, and the
// peak RSS while catching up.
//
// With cold, the page cache is dropped before the restart (as after a
// reboot; needs root): the WAL is read from the disk.
func runRestart(bin, dir string, size int64, lineLen int, cold bool) error {
	logs := filepath.Join(dir, "logs")
	lines, err := writeInput(logs, size, lineLen, "logfmt")
	if err != nil {
		return err
	}
	size = lines * int64(lineLen)
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "restart.yaml")
	port, err := freePort()
	if err != nil {
		return err
	}
	// Nothing listens on port: every push fails, the WAL keeps it all.
	down := fmt.Sprintf("{name: loki, type: loki, url: %q}", "http://127.0.0.1:"+port+"/loki/api/v1/push")
	aport, err := freePort()
	if err != nil {
		return err
	}
	admin := "127.0.0.1:" + aport
	if err := writeConfigAdmin(cfg, data, logs, down, admin); err != nil {
		return err
	}
	cmd, err := startShipper(bin, cfg)
	if err != nil {
		return err
	}
	walBytes := func() int64 {
		var n int64
		ents, _ := os.ReadDir(filepath.Join(data, "wal"))
		for _, e := range ents {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return n
	}
	// Every line appended (the WAL holds it compressed: its size says
	// nothing).
	if err := waitFor("the backlog in the WAL", 10*time.Minute, func() bool { return ingested(admin) >= lines }); err != nil {
		cmd.Process.Kill()
		return err
	}
	if err := stopShipper(cmd); err != nil {
		return err
	}
	fmt.Printf("restart: backlog of %d MiB (%d lines) in a %d MiB WAL\n", size>>20, lines, walBytes()>>20)

	countFile := filepath.Join(dir, "count")
	recv, url, err := startReceiver("loki", countFile)
	if err != nil {
		return err
	}
	defer func() {
		recv.Process.Signal(syscall.SIGTERM)
		recv.Wait()
	}()
	if err := writeConfig(cfg, data, logs, fmt.Sprintf("{name: loki, type: loki, url: %q}", url)); err != nil {
		return err
	}
	count := func() int64 {
		b, _ := os.ReadFile(countFile)
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	if cold {
		syscall.Sync()
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200); err != nil {
			return fmt.Errorf("-cold: drop the page cache: %w", err)
		}
	}
	start := time.Now()
	if cmd, err = startShipper(bin, cfg); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	if err := waitFor("the first delivery", time.Minute, func() bool { return count() > 0 }); err != nil {
		return err
	}
	first := time.Since(start)
	if err := waitFor("the whole backlog", 10*time.Minute, func() bool { return count() >= lines }); err != nil {
		return err
	}
	all := time.Since(start)
	if err := stopShipper(cmd); err != nil {
		return err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Printf("restart (cold cache: %v): first delivery %s after start, backlog delivered in %s (%.1f MiB/s), CPU %.2f s, peak RSS %.1f MiB\n",
		cold, first.Round(time.Millisecond), all.Round(time.Millisecond), float64(size)/(1<<20)/all.Seconds(),
		time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds(), float64(ru.Maxrss)/1024)
	return nil
}
