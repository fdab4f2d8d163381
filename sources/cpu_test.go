package sources

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user+system) the process used so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUManyFiles measures the CPU a source uses to tail 1,000 files
// appended to at 1,000 lines/s in total (one line per file per second,
// spread evenly). The writer's own CPU is measured alone first and taken
// off. It reports a figure, it asserts nothing: run it with
// LOGCAPTURER_CPU_TEST=1 go test ./sources -run TestCPUManyFiles -v.
func TestCPUManyFiles(t *testing.T) {
	if os.Getenv("LOGCAPTURER_CPU_TEST") == "" {
		t.Skip("set LOGCAPTURER_CPU_TEST=1 to measure")
	}
	const files, rate, measure = 1000, 1000, 10 * time.Second
	dir := t.TempDir()
	fhs := make([]*os.File, files)
	for i := range fhs {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("f%04d.log", i)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fhs[i] = f
	}
	n := 0
	write := func(d time.Duration) time.Duration {
		const tick = 10 * time.Millisecond
		perTick := rate * int(tick) / int(time.Second)
		start := cpuTime(t)
		next := time.Now()
		for end := time.Now().Add(d); time.Now().Before(end); {
			next = next.Add(tick)
			time.Sleep(time.Until(next))
			for range perTick {
				fmt.Fprintf(fhs[n%files], "%s line %d of the cpu test, some payload to look like a log line\n",
					time.Now().Format(time.RFC3339Nano), n)
				n++
			}
		}
		return cpuTime(t) - start
	}
	writerOnly := write(measure)

	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, Emitter: &doneEmitter{size: -1},
		PollInterval: DefaultPollInterval})
	h.start(t)
	h.waitStarted(t)
	write(2 * time.Second) // warm up: every file opened
	both := write(measure)
	source := both - writerOnly
	t.Logf("%d files, %d lines/s: writer alone %v, writer+source %v per %v: source %.2f%% of a core (files open %v)",
		files, rate, writerOnly, both, measure, 100*source.Seconds()/measure.Seconds(), h.filesOpen())
}
