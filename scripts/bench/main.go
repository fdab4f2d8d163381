package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		sizeFlag = flag.String("size", "1GiB", "bytes of log lines to push (KiB, MiB, GiB suffixes)")
		runs     = flag.Int("runs", 3, "runs; the median is reported")
		dirFlag  = flag.String("dir", "", "work directory (default: a temp dir, removed after)")
		lineLen  = flag.Int("line", 200, "bytes per line, newline included")
		segment  = flag.String("segment-size", "4MiB", "wal.segment_size")
		sync     = flag.String("sync", "batch", "wal.sync")
	)
	flag.Parse()
	size, err := parseSize(*sizeFlag)
	if err != nil {
		fail(err)
	}
	dir := *dirFlag
	if dir == "" {
		if dir, err = os.MkdirTemp("", "logcapturer-bench-"); err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
	}
	bin := filepath.Join(dir, "logcapturer")
	build := exec.Command("go", "build", "-o", bin, "./cmd/logcapturer")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fail(fmt.Errorf("go build (run from the repository root): %w", err))
	}
	logs := filepath.Join(dir, "logs")
	lines, err := writeInput(logs, size, *lineLen)
	if err != nil {
		fail(err)
	}
	size = lines * int64(*lineLen) // whole lines only
	fmt.Printf("input: %d MiB in %d lines of %d bytes, 4 files, sync=%s segment_size=%s\n",
		size>>20, lines, *lineLen, *sync, *segment)

	var mibs, lps, cpus, rsss []float64
	for i := 1; i <= *runs; i++ {
		r, err := runOnce(bin, dir, logs, size, *segment, *sync)
		if err != nil {
			fail(err)
		}
		mib := float64(size) / (1 << 20) / r.wall.Seconds()
		fmt.Printf("run %d: %.1f MiB/s  %.0f lines/s  wall %.2fs  cpu %.2fs  peak RSS %.1f MiB\n",
			i, mib, float64(lines)/r.wall.Seconds(), r.wall.Seconds(), r.cpu.Seconds(), float64(r.maxRSS)/(1<<20))
		mibs = append(mibs, mib)
		lps = append(lps, float64(lines)/r.wall.Seconds())
		cpus = append(cpus, r.cpu.Seconds())
		rsss = append(rsss, float64(r.maxRSS)/(1<<20))
	}
	fmt.Printf("median of %d: %.1f MiB/s  %.0f lines/s  cpu %.2fs  peak RSS %.1f MiB\n",
		*runs, median(mibs), median(lps), median(cpus), median(rsss))
}

type result struct {
	wall, cpu time.Duration
	maxRSS    int64
}

func runOnce(bin, dir, logs string, size int64, segment, sync string) (result, error) {
	data := filepath.Join(dir, "data")
	out := filepath.Join(dir, "out")
	for _, d := range []string{data, out} {
		if err := os.RemoveAll(d); err != nil {
			return result{}, err
		}
	}
	cfg := filepath.Join(dir, "bench.yaml")
	conf := fmt.Sprintf(`data_dir: %s
wal: {segment_size: %s, max_bytes: 4GiB, sync: %s}
sources:
  - {name: bench, type: file, paths: ["%s/*.log"], start_at: beginning}
sinks:
  - {name: archive, type: file, path: %s/archive.log, format: raw}
admin: {listen: ""}
`, data, segment, sync, logs, out)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return result{}, err
	}
	// Drop the input from the page cache's dirty list so the run does not
	// pay for its writeback.
	syscall.Sync()
	cmd := exec.Command(bin, "run", "--config", cfg, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	sink := filepath.Join(out, "archive.log")
	deadline := start.Add(10 * time.Minute)
	for {
		st, err := os.Stat(sink)
		if err == nil && st.Size() >= size {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			return result{}, fmt.Errorf("sink did not receive %d bytes in 10 minutes", size)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wall := time.Since(start)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return result{}, err
	}
	if err := cmd.Wait(); err != nil {
		return result{}, fmt.Errorf("logcapturer exited: %w", err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return result{wall: wall, cpu: cpu, maxRSS: ru.Maxrss * 1024}, nil
}

// writeInput writes size bytes of lineLen-byte lines round-robin into 4
// files and returns the number of lines.
func writeInput(dir string, size int64, lineLen int) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	const nfiles = 4
	var files [nfiles]*os.File
	var bufs [nfiles]bytes.Buffer
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("app-%d.log", i)))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		files[i] = f
	}
	pad := strings.Repeat("abcdefghijklmnopqrstuvwxyz0123456789", lineLen/36+1)
	var lines int64
	for written := int64(0); written+int64(lineLen) <= size; written += int64(lineLen) {
		i := lines % nfiles
		b := &bufs[i]
		head := fmt.Sprintf("2026-11-24T06:00:00.000Z level=info file=%d seq=%012d msg=", i, lines)
		b.WriteString(head)
		b.WriteString(pad[:lineLen-len(head)-1])
		b.WriteByte('\n')
		lines++
		if b.Len() >= 1<<20 {
			if _, err := files[i].Write(b.Bytes()); err != nil {
				return 0, err
			}
			b.Reset()
		}
	}
	for i := range files {
		if _, err := files[i].Write(bufs[i].Bytes()); err != nil {
			return 0, err
		}
	}
	return lines, nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("-size %q: want a positive number with an optional KiB, MiB or GiB suffix", s)
	}
	return n * mult, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
