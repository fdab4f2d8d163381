package main

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
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
		segment  = flag.String("segment-size", "", "wal.segment_size (default: the config default)")
		sync     = flag.String("sync", "batch", "wal.sync")
		sinkType = flag.String("sink", "file", "file (fsyncs every batch), loki (a receiver in another process decodes and counts) or kafka (kfake in another process)")
		receiver = flag.String("receiver", "", "internal: run as the -sink receiver process")
		mode     = flag.String("mode", "throughput", "throughput (-size of lines through -sink, -runs times), idle (-files quiet files tailed for -window) or restart (a -size backlog in the WAL, then the first delivery after a start)")
		cold     = flag.Bool("cold", false, "restart: drop the page cache before the restart, as a reboot does (needs root)")
		files    = flag.Int("files", 100, "idle: files tailed")
		window   = flag.Duration("window", 30*time.Second, "idle: how long CPU and RSS are measured")
		binFlag  = flag.String("bin", "", "a logcapturer binary to measure (default: go build ./cmd/logcapturer), e.g. one built at an older commit for a before/after table")
		pipeline = flag.String("pipeline", "", "a YAML file holding a pipeline_stages list, put on the source")
		promtail = flag.Bool("promtail", false, "with -sink loki: write the same setup as a Promtail config (static_configs, the -pipeline stages, one client) and run it with --config-format promtail, to compare with the native config")
		workers  = flag.Int("workers", 2, "the loki or kafka sink's workers (a converted Promtail client has 1)")
		format   = flag.String("format", "logfmt", "input lines: logfmt or json (with ts, level, file, seq, msg, trace fields)")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of 3 s of the shipper's first run to this file, and its heap profile to FILE.heap (from /debug/pprof)")
	)
	flag.Parse()
	if *receiver != "" && *sinkType == "kafka" {
		serveKafka(*receiver)
		return
	}
	if *receiver != "" {
		serveLoki(*receiver)
		return
	}
	if *sinkType != "file" && *sinkType != "loki" && *sinkType != "kafka" {
		fail(fmt.Errorf("-sink %q: use file, loki or kafka", *sinkType))
	}
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
	bin := *binFlag
	if bin == "" {
		bin = filepath.Join(dir, "logcapturer")
		// As the Dockerfile builds the shipped binary: static, stripped.
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/logcapturer")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fail(fmt.Errorf("go build (run from the repository root): %w", err))
		}
	}
	switch *mode {
	case "throughput":
	case "idle":
		if err := runIdle(bin, dir, *files, *window); err != nil {
			fail(err)
		}
		return
	case "restart":
		if err := runRestart(bin, dir, size, *lineLen, *cold); err != nil {
			fail(err)
		}
		return
	default:
		fail(fmt.Errorf("-mode %q: use throughput, idle or restart", *mode))
	}
	if *promtail && *sinkType != "loki" {
		fail(fmt.Errorf("-promtail needs -sink loki"))
	}
	if *format != "logfmt" && *format != "json" && *format != "varied" {
		fail(fmt.Errorf("-format %q: use logfmt, json or varied", *format))
	}
	stagesConf := ""
	if *pipeline != "" {
		b, err := os.ReadFile(*pipeline)
		if err != nil {
			fail(fmt.Errorf("-pipeline: %w", err))
		}
		stagesConf = "    pipeline_stages:\n"
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			stagesConf += "      " + l + "\n"
		}
	}
	logs := filepath.Join(dir, "logs")
	lines, err := writeInput(logs, size, *lineLen, *format)
	if err != nil {
		fail(err)
	}
	size = lines * int64(*lineLen) // whole lines only
	fmt.Printf("input: %d MiB in %d %s lines of %d bytes, 4 files, sink=%s sync=%s segment_size=%s pipeline=%s promtail=%t workers=%d\n",
		size>>20, lines, *format, *lineLen, *sinkType, *sync, cmp.Or(*segment, "default"), cmp.Or(*pipeline, "none"), *promtail, *workers)

	var cols [8][]float64
	fmt.Printf("%-8s %8s %10s %7s %11s %13s %14s %9s %12s\n", "run", "MiB/s", "lines/s", "CPU s", "CPU s/GiB", "peak RSS MiB", "receiver CPU s", "of it sys", "page faults")
	row := func(name string, v [8]float64) {
		fmt.Printf("%-8s %8.1f %10.0f %7.2f %11.2f %13.1f %14.2f %9.2f %12.0f\n", name, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
	}
	for i := 1; i <= *runs; i++ {
		prof := ""
		if i == 1 {
			prof = *profile
		}
		r, err := runOnce(bin, dir, logs, size, lines, *segment, *sync, *sinkType, stagesConf, prof, *promtail, *workers)
		if err != nil {
			fail(err)
		}
		gib := float64(size) / (1 << 30)
		v := [8]float64{float64(size) / (1 << 20) / r.wall.Seconds(), float64(lines) / r.wall.Seconds(), r.cpu.Seconds(),
			r.cpu.Seconds() / gib, float64(r.maxRSS) / (1 << 20), r.receiverCPU.Seconds(), r.sys.Seconds(), float64(r.faults)}
		row(fmt.Sprintf("%d", i), v)
		for c := range cols {
			cols[c] = append(cols[c], v[c])
		}
	}
	var med [8]float64
	for c := range cols {
		med[c] = median(cols[c])
	}
	row("median", med)
}

type result struct {
	wall, cpu   time.Duration
	sys         time.Duration // the kernel's part of cpu
	faults      int64         // the shipper's minor and major page faults
	maxRSS      int64
	receiverCPU time.Duration
}

func runOnce(bin, dir, logs string, size, lines int64, segment, sync, sinkType, stagesConf, profile string, promtail bool, workers int) (result, error) {
	data := filepath.Join(dir, "data")
	out := filepath.Join(dir, "out")
	for _, d := range []string{data, out} {
		if err := os.RemoveAll(d); err != nil {
			return result{}, err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return result{}, err
	}
	sinkConf := fmt.Sprintf("{name: archive, type: file, path: %s/archive.log, format: raw}", out)
	done := func() bool {
		st, err := os.Stat(filepath.Join(out, "archive.log"))
		return err == nil && st.Size() >= size
	}
	var recv *exec.Cmd
	var promtailURL string
	if sinkType == "loki" || sinkType == "kafka" {
		countFile := filepath.Join(out, "count")
		var url string
		var err error
		if recv, url, err = startReceiver(sinkType, countFile); err != nil {
			return result{}, err
		}
		defer func() {
			if recv.ProcessState == nil {
				recv.Process.Kill()
				recv.Wait()
			}
		}()
		sinkConf = fmt.Sprintf("{name: loki, type: loki, url: %q, workers: %d, batch: {max_bytes: 1MiB}}", url, workers)
		if sinkType == "kafka" {
			sinkConf = fmt.Sprintf("{name: kafka, type: kafka, brokers: [%q], topic: bench, workers: %d, batch: {max_bytes: 256KiB}}", url, workers)
		}
		promtailURL = url
		done = func() bool {
			b, err := os.ReadFile(countFile)
			n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return err == nil && n >= lines
		}
	}
	segConf := ""
	if segment != "" {
		segConf = "segment_size: " + segment + ", "
	}
	adminConf := `{listen: ""}`
	var adminAddr string
	if profile != "" {
		port, err := freePort()
		if err != nil {
			return result{}, err
		}
		adminAddr = "127.0.0.1:" + port
		adminConf = fmt.Sprintf("{listen: %q, pprof: true}", adminAddr)
	}
	cfg := filepath.Join(dir, "bench.yaml")
	conf := fmt.Sprintf(`data_dir: %s
wal: {%smax_bytes: 4GiB, sync: %s}
sources:
  - name: bench
    type: file
    paths: ["%s/*.log"]
    start_at: beginning
%ssinks:
  - %s
admin: %s
`, data, segConf, sync, logs, stagesConf, sinkConf, adminConf)
	args := []string{}
	if promtail {
		// The same input, stages and Loki through a Promtail config, as
		// an operator replacing Promtail runs it.
		cfg = filepath.Join(dir, "promtail.yaml")
		conf = fmt.Sprintf(`server: {disable: true}
positions: {filename: %s/positions.yaml}
clients:
  - url: %s
    batchsize: 1048576
scrape_configs:
  - job_name: bench
    static_configs:
      - labels: {__path__: "%s/*.log"}
%s`, dir, promtailURL, logs, stagesConf)
		args = []string{"--config-format", "promtail", "--data-dir", data}
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return result{}, err
	}
	// Drop the input from the page cache's dirty list so the run does not
	// pay for its writeback.
	syscall.Sync()
	start := time.Now()
	cmd, err := startShipper(bin, cfg, args...)
	if err != nil {
		return result{}, err
	}
	profDone := make(chan error, 1)
	if profile != "" {
		go func() { profDone <- fetchProfile(adminAddr, profile) }()
	} else {
		profDone <- nil
	}
	if err := waitFor(fmt.Sprintf("the %s sink receiving all %d lines", sinkType, lines), 10*time.Minute, done); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return result{}, err
	}
	wall := time.Since(start)
	if err := <-profDone; err != nil {
		return result{}, err
	}
	if err := stopShipper(cmd); err != nil {
		return result{}, err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := result{wall: wall, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), sys: time.Duration(ru.Stime.Nano()),
		faults: ru.Minflt + ru.Majflt, maxRSS: ru.Maxrss * 1024}
	if recv != nil {
		recv.Process.Signal(syscall.SIGTERM)
		recv.Wait()
		rru := recv.ProcessState.SysUsage().(*syscall.Rusage)
		r.receiverCPU = time.Duration(rru.Utime.Nano() + rru.Stime.Nano())
	}
	return r, nil
}

// words end the varied format's lines.
var words = []string{"request ", "served ", "user ", "session ", "cache ", "miss ", "hit ", "upstream ", "timeout ",
	"retrying ", "connection ", "reset ", "query ", "slow ", "ok ", "done ", "started ", "token ", "refreshed "}

// writeInput writes size bytes of lineLen-byte lines round-robin into 4
// files and returns the number of lines: logfmt-like text padded with one
// repeated string (logfmt), JSON objects with ts, level, file, seq, trace
// and msg (json), or logfmt request logs whose fields vary as a web
// server's do (varied: random times, paths, statuses, durations, client
// addresses and trace ids; S2 compresses it about 3 times, where the
// padded formats compress tens of times).
func writeInput(dir string, size int64, lineLen int, format string) (int64, error) {
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
	rnd := rand.New(rand.NewPCG(1, 2))
	paths := []string{"/api/v1/users", "/api/v1/orders", "/healthz", "/metrics", "/api/v2/items/search", "/login", "/static/app.js"}
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	levels := []string{"info", "info", "info", "info", "warn", "error", "debug"}
	statuses := []int{200, 200, 200, 200, 201, 204, 304, 400, 404, 500}
	var line []byte
	var lines int64
	for written := int64(0); written+int64(lineLen) <= size; written += int64(lineLen) {
		i := lines % nfiles
		b := &bufs[i]
		switch format {
		case "varied":
			line = fmt.Appendf(line[:0], "ts=2026-11-24T06:%02d:%02d.%06dZ level=%s file=%d method=%s path=%s status=%d duration=%dms bytes=%d remote=10.%d.%d.%d trace_id=%016x msg=",
				rnd.IntN(60), rnd.IntN(60), rnd.IntN(1000000), levels[rnd.IntN(len(levels))], i, methods[rnd.IntN(len(methods))],
				paths[rnd.IntN(len(paths))], statuses[rnd.IntN(len(statuses))], rnd.IntN(3000), rnd.IntN(100000),
				rnd.IntN(256), rnd.IntN(256), rnd.IntN(256), rnd.Uint64())
			for len(line) < lineLen-1 {
				line = append(line, words[rnd.IntN(len(words))]...)
			}
			line = append(line[:lineLen-1], '\n')
			b.Write(line)
		case "json":
			head := fmt.Sprintf(`{"ts":"2026-11-24T06:00:00.%03dZ","level":"info","file":%d,"seq":%d,"trace":"%016x","msg":"`,
				lines%1000, i, lines, lines)
			b.WriteString(head)
			b.WriteString(pad[:lineLen-len(head)-3])
			b.WriteString("\"}\n")
		default:
			head := fmt.Sprintf("2026-11-24T06:00:00.000Z level=info file=%d seq=%012d msg=", i, lines)
			b.WriteString(head)
			b.WriteString(pad[:lineLen-len(head)-1])
			b.WriteByte('\n')
		}
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

// fetchProfile waits for the admin address and saves a CPU profile of the
// next 3 s (the run must last longer than that: use -size 500MiB or more),
// then the heap profile as path.heap.
func fetchProfile(addr, path string) error {
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/debug/pprof/profile?seconds=3"); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cpu profile: %d %v", resp.StatusCode, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	// And the heap at that moment, next to it.
	resp, err = http.Get("http://" + addr + "/debug/pprof/heap")
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer resp.Body.Close()
	if b, err = io.ReadAll(resp.Body); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return os.WriteFile(path+".heap", b, 0o644)
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
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
