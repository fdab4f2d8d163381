package kafka_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/logcapturer/logcapturer/sinks/kafka/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkEndToEnd ships 256 MiB of 200-byte lines (4 files) through the
// whole chain: file source, pipeline (WAL with an fsync per group commit,
// bbolt cursors), kafka sink (default options: json, zstd, acks all,
// idempotent, max_buffered_bytes 16MiB; 2 workers, 256 KiB batches, which
// keep less in flight under the binary's default 40 MiB memory limit and
// so spend less on GC than 1 MiB ones) to kfake
// in this process. The chain runs in a child process (this test binary),
// so shipper-peak-RSS-MiB is the shipper's own VmHWM and shipper-cpu-s and
// kfake-cpu-s split the machine's CPU between the two. Bytes are line
// bytes; the time includes the child's start. BENCH_KAFKA_FORMAT,
// BENCH_KAFKA_COMPRESSION, BENCH_KAFKA_WORKERS and BENCH_KAFKA_BATCH (bytes)
// change the format, codec, workers and batch size.
func BenchmarkEndToEnd(b *testing.B) {
	const total = 256 << 20
	const lineLen = 200
	logDir := b.TempDir()
	lines := writeBenchLogs(b, logDir, 4, total/(lineLen+1), lineLen)
	c := newCluster(b)
	brokers := c.ListenAddrs()
	b.SetBytes(int64(lines * lineLen))
	var peak int64
	var shipperCPU, kfakeCPU time.Duration
	topic := 0
	for b.Loop() {
		topic++
		dataDir, err := os.MkdirTemp(b.TempDir(), "data")
		if err != nil {
			b.Fatal(err)
		}
		// The topic exists, as in production: a topic created by the
		// first produce costs the producer a metadata refresh (5s).
		topicID(b, brokers, "bench-"+strconv.Itoa(topic))
		cpu0 := selfCPU()
		cmd := startBenchChild(b, dataDir, logDir, brokers[0], "bench-"+strconv.Itoa(topic))
		werr := waitOffsets(brokers, "bench-"+strconv.Itoa(topic), int64(lines), 5*time.Minute)
		peak = max(peak, peakRSS(cmd.Process.Pid))
		kfakeCPU += selfCPU() - cpu0
		cmd.Process.Kill()
		cmd.Wait()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			shipperCPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		if werr != nil {
			b.Fatal(werr)
		}
		os.RemoveAll(dataDir)
	}
	if peak > 0 {
		b.ReportMetric(float64(peak)/(1<<20), "shipper-peak-RSS-MiB")
	}
	b.ReportMetric(shipperCPU.Seconds()/float64(b.N), "shipper-cpu-s")
	b.ReportMetric(kfakeCPU.Seconds()/float64(b.N), "kfake-cpu-s")
}

// waitOffsets waits until the partitions of topic hold n records in all
// (the sum of their end offsets), asking the broker every 50ms.
func waitOffsets(brokers []string, topic string, n int64, d time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	deadline := time.Now().Add(d)
	var got int64
	for time.Now().Before(deadline) {
		got, _ = kafkatest.Records(context.Background(), cl, topic, 3)
		if got >= n {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("topic %s holds %d records after %s, want %d", topic, got, d, n)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startBenchChild runs the chain in a child process (this test binary, as
// TestBenchChild) until it is killed.
func startBenchChild(b *testing.B, dataDir, logDir, broker, topic string) *exec.Cmd {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChild$")
	cmd.Env = append(os.Environ(), "KAFKA_BENCH_CHILD="+strings.Join([]string{dataDir, logDir, broker, topic}, "\n"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return cmd
}

// TestBenchChild is the child side of BenchmarkEndToEnd; it does nothing
// in a normal test run.
func TestBenchChild(t *testing.T) {
	env := os.Getenv("KAFKA_BENCH_CHILD")
	if env == "" {
		t.Skip("the benchmark's child process")
	}
	args := strings.Split(env, "\n")
	if os.Getenv("GOMEMLIMIT") == "" {
		// What the binary applies by default: memory_limit = 2 *
		// wal.segment_size (4 MiB) + 32 MiB.
		debug.SetMemoryLimit(40 << 20)
	}
	cfg := kafka.NewConfig()
	cfg.Brokers, cfg.Topic = []string{args[2]}, args[3]
	if f := os.Getenv("BENCH_KAFKA_FORMAT"); f != "" {
		cfg.Format = f
	}
	if c := os.Getenv("BENCH_KAFKA_COMPRESSION"); c != "" {
		cfg.Compression = c
	}
	workers, maxBytes := 2, 256<<10
	if w, err := strconv.Atoi(os.Getenv("BENCH_KAFKA_WORKERS")); err == nil {
		workers = w
	}
	if m, err := strconv.Atoi(os.Getenv("BENCH_KAFKA_BATCH")); err == nil {
		maxBytes = m
	}
	_, err := openChain(args[0], args[1], cfg, chainOptions{workers: workers, maxBytes: maxBytes, maxWait: 10 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	select {} // until killed
}

// writeBenchLogs writes n lines of lineLen bytes (plus newline) over files
// and returns n.
func writeBenchLogs(b *testing.B, dir string, files, n, lineLen int) int {
	for f := 0; f < files; f++ {
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("app-%d.log", f)))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		var line []byte
		for i := f; i < n; i += files {
			// A log line of exactly lineLen bytes, numbered at the end.
			line = fmt.Appendf(line[:0], `2026-12-03T10:00:00.000Z level=info msg="request served" method=GET path=/api/v1/items/%d status=200 `, i%977)
			for len(line) < lineLen-12 {
				line = append(line, 'x')
			}
			line = fmt.Appendf(line[:lineLen-12], " %011d\n", i)
			w.Write(line)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		fh.Close()
	}
	return n
}

// peakRSS returns a process's VmHWM in bytes (Linux), or 0 when unknown.
func peakRSS(pid int) int64 {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range bytes.Split(st, []byte("\n")) {
		if f := bytes.Fields(l); len(f) == 3 && string(f[0]) == "VmHWM:" {
			kb, _ := strconv.ParseInt(string(f[1]), 10, 64)
			return kb << 10
		}
	}
	return 0
}
