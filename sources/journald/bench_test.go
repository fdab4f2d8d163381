package journald

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources"
)

// discard is an Emitter that takes every record at once.
type discard struct{ entries int }

func (d *discard) Emit(_ context.Context, rec sources.Record) error {
	d.entries += rec.Entries
	return nil
}

// benchStream is n typical journal entries (a dozen fields, ~120-byte
// messages) in the export format.
func benchStream(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = appendExport(b, testEntry(i, fmt.Sprintf("GET /api/v1/items/%d HTTP/1.1 200 512 bytes in 0.003 s from 10.0.0.%d user-agent curl/8.0", i, i%250),
			exportField{name: "_PID", value: "1234"}, exportField{name: "_UID", value: "0"},
			exportField{name: "_COMM", value: "nginx"}, exportField{name: "_TRANSPORT", value: "stdout"},
			exportField{name: "SYSLOG_IDENTIFIER", value: "nginx"},
			exportField{name: "_BOOT_ID", value: "0123456789abcdef0123456789abcdef"})...)
	}
	return b
}

// BenchmarkExportToBlocks is the source's path from journalctl's output to
// the Emitter: parse, format (line, labels), encode blocks, emit.
func BenchmarkExportToBlocks(b *testing.B) {
	for _, mode := range []struct {
		name string
		json bool
	}{{"message", false}, {"json", true}} {
		b.Run(mode.name, func(b *testing.B) {
			const n = 10000
			stream := benchStream(n)
			o := *NewOptions()
			o.JSON = mode.json
			d := &discard{}
			s, err := New(nil, nil, o, Params{Name: "bench", Emitter: d, Labels: map[string]string{"job": "systemd"}})
			if err != nil {
				b.Fatal(err)
			}
			r := newRunner(s)
			ctx := context.Background()
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.br.Reset(bytes.NewReader(stream))
				for {
					err := r.x.next(&r.e)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if err := r.add(ctx); err != nil {
						b.Fatal(err)
					}
				}
				if err := r.flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// TestRealThroughput measures the whole source against the real
// journalctl reading 100,000 entries written with systemd-journal-remote,
// and journalctl's own CPU time apart (a second run of it alone). Run with
// LOGCAPTURER_JOURNALD_THROUGHPUT=1; it logs the figures.
func TestRealThroughput(t *testing.T) {
	if os.Getenv("LOGCAPTURER_JOURNALD_THROUGHPUT") == "" {
		t.Skip("set LOGCAPTURER_JOURNALD_THROUGHPUT=1 to measure")
	}
	jc, remote := realTools(t)
	dir := t.TempDir()
	const n = 100000
	cmd := exec.Command(remote, "-o", filepath.Join(dir, "a.journal"), "-")
	cmd.Stdin = bytes.NewReader(benchStream(n))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// journalctl alone, output discarded.
	alone := exec.Command(jc, "--directory="+dir, "--output=export", "--no-pager")
	alone.Stdout = io.Discard
	start := time.Now()
	if err := alone.Run(); err != nil {
		t.Fatal(err)
	}
	jWall, jCPU := time.Since(start), alone.ProcessState.UserTime()+alone.ProcessState.SystemTime()

	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	d := newRecorderCounting()
	start = time.Now()
	h := startSource(t, realOptions(jc, dir), Params{Emitter: d})
	waitFor(t, 60*time.Second, "all entries", func() bool { return d.count() >= n })
	wall := time.Since(start)
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	h.src.Close()
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	t.Logf("source with journalctl: %d entries in %s = %.0f entries/s; this process's CPU %s (incl. children reaped: none until Close)", n, wall.Round(time.Millisecond), n/wall.Seconds(), cpu.Round(time.Millisecond))
	t.Logf("journalctl alone: %s wall, %s CPU = %.0f entries/s", jWall.Round(time.Millisecond), jCPU.Round(time.Millisecond), n/jWall.Seconds())
}

// countingEmitter counts entries, safe for concurrent reads.
type countingEmitter struct{ n chan int }

func newRecorderCounting() *countingEmitter {
	c := &countingEmitter{n: make(chan int, 1)}
	c.n <- 0
	return c
}

func (c *countingEmitter) Emit(_ context.Context, rec sources.Record) error {
	c.n <- <-c.n + rec.Entries
	return nil
}

func (c *countingEmitter) count() int { v := <-c.n; c.n <- v; return v }
