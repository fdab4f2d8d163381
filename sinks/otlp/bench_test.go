package otlp_test

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
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/sinks/otlp"
	"github.com/logcapturer/logcapturer/sinks/otlp/otlptest"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
	collogs "go.opentelemetry.io/proto/slim/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/slim/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/slim/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/slim/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// benchBlocks returns n blocks of per entries of lineLen bytes, labelled
// as the file source labels them.
func benchBlocks(n, per, lineLen int) []wal.Block {
	blocks := make([]wal.Block, n)
	for b := range blocks {
		es := make([]wal.Entry, per)
		for i := range es {
			line := fmt.Sprintf("2026-06-01T12:00:00.%06dZ level=info msg=\"request served\" path=/api/v1/items/%d status=200 ", i, b*per+i)
			line += strings.Repeat("x", max(lineLen-len(line), 0))
			es[i] = wal.Entry{Time: t0 + int64(b*per+i), Line: []byte(line[:lineLen])}
		}
		blocks[b] = wal.Block{Source: "app", Labels: ls("filename", "/var/log/app.log", "host", "edge-01", "job", "app", "level", "info"), Entries: es}
	}
	return blocks
}

func size(blocks []wal.Block) int {
	n := 0
	for i := range blocks {
		n += blocks[i].Size()
	}
	return n
}

// BenchmarkEncode: mapping and encoding of a 1 MiB batch of 200-byte lines
// (16 blocks of 64 KiB, as the file source cuts them), on one core, then
// gzip at the sink's level. "generated" is the same request built as the
// official generated types and marshalled with proto.Marshal (the
// alternative to hand-encoding): the copy into those types is what the
// protowire encoder saves. Bytes are line bytes.
func BenchmarkEncode(b *testing.B) {
	blocks := benchBlocks(16, 65536/200, 200)
	for _, enc := range []string{otlp.EncodingProtobuf, otlp.EncodingJSON} {
		b.Run(enc, func(b *testing.B) {
			e := otlp.NewEncoder(otlp.Options{Encoding: enc})
			b.SetBytes(int64(size(blocks)))
			b.ReportAllocs()
			for b.Loop() {
				e.Encode(blocks)
			}
		})
	}
	b.Run("protobuf+gzip", func(b *testing.B) {
		e := otlp.NewEncoder(otlp.Options{})
		zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		var buf bytes.Buffer
		b.SetBytes(int64(size(blocks)))
		b.ReportAllocs()
		var raw, out int
		for b.Loop() {
			body, _ := e.Encode(blocks)
			buf.Reset()
			zw.Reset(&buf)
			zw.Write(body)
			zw.Close()
			raw, out = len(body), buf.Len()
		}
		b.ReportMetric(float64(out)/float64(raw), "gzip-ratio")
	})
	b.Run("generated", func(b *testing.B) {
		b.SetBytes(int64(size(blocks)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(generated(blocks)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// generated builds the request of the default mapping for benchBlocks as
// the generated types (resource per block label set, body, times,
// severity, log.file.path).
func generated(blocks []wal.Block) *collogs.ExportLogsServiceRequest {
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	req := &collogs.ExportLogsServiceRequest{}
	index := map[string]*logspb.ScopeLogs{}
	for i := range blocks {
		blk := &blocks[i]
		var svc, host, file, level string
		for _, l := range blk.Labels {
			switch l.Name {
			case "job":
				svc = l.Value
			case "host":
				host = l.Value
			case "filename":
				file = l.Value
			case "level":
				level = l.Value
			}
		}
		key := svc + "\x00" + host
		sl := index[key]
		if sl == nil {
			sl = &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: "logcapturer"}}
			index[key] = sl
			req.ResourceLogs = append(req.ResourceLogs, &logspb.ResourceLogs{
				Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
					{Key: "host.name", Value: str(host)}, {Key: "service.name", Value: str(svc)}}},
				ScopeLogs: []*logspb.ScopeLogs{sl}})
		}
		for j := range blk.Entries {
			e := &blk.Entries[j]
			body := &commonpb.AnyValue{}
			if utf8.Valid(e.Line) {
				body.Value = &commonpb.AnyValue_StringValue{StringValue: string(e.Line)}
			} else {
				body.Value = &commonpb.AnyValue_BytesValue{BytesValue: e.Line}
			}
			sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{
				TimeUnixNano: uint64(e.Time), ObservedTimeUnixNano: uint64(e.Time),
				SeverityText: level, SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_INFO, Body: body,
				Attributes: []*commonpb.KeyValue{{Key: "log.file.path", Value: str(file)}}})
		}
	}
	return req
}

// BenchmarkEndToEnd sends 128 MiB of 200-byte lines (4 files) through the
// whole chain: file source, pipeline (WAL with an fsync per group commit,
// bbolt cursors), sink (2 workers, 1 MiB batches) to an in-process
// receiver that decodes every request with the official types (otlp:
// otlptest, gzip then proto.Unmarshal; loki: lokitest, snappy then Loki's
// push types) and keeps a count. "loki" is the loki sink on the same
// chain, for comparison. The chain runs in a child process (this test
// binary), so shipper-cpu-s/GiB is the shipper's own CPU (user + system)
// per GiB of lines and shipper-peak-RSS-MiB its VmHWM; the receiver in
// this process shares the machine's cores (receiver-cpu-s/GiB is this
// process's CPU per GiB: the decoding receiver's). Bytes are line bytes;
// the time includes the child's start.
func BenchmarkEndToEnd(b *testing.B) {
	const total = 128 << 20
	const lineLen = 200
	logDir := b.TempDir()
	lines := writeBenchLogs(b, logDir, 4, total/(lineLen+1), lineLen)
	for _, kind := range []string{"otlp", "otlp-json", "loki"} {
		b.Run(kind, func(b *testing.B) {
			var (
				url   string
				count func() int
				wait  func(n int) error
				check func() []string
			)
			switch kind {
			case "loki":
				r := lokitest.NewReceiver()
				defer r.Close()
				r.SetDiscard(true)
				url, count, check = r.URL(), r.Count, r.Problems
				wait = func(n int) error { return r.WaitEntries(n, 5*time.Minute) }
			default:
				r := otlptest.NewReceiver()
				defer r.Close()
				r.SetDiscard(true)
				url, count, check = r.URL(), r.Count, r.Problems
				wait = func(n int) error { return r.WaitRecords(n, 5*time.Minute) }
			}
			b.SetBytes(int64(lines * lineLen))
			var peak int64
			var cpu time.Duration
			runs := 0
			self0 := selfCPU()
			for b.Loop() {
				dataDir, err := os.MkdirTemp(b.TempDir(), "data")
				if err != nil {
					b.Fatal(err)
				}
				base := count()
				cmd := startChild(b, kind, dataDir, logDir, url, 1<<20)
				werr := wait(base + lines)
				peak = max(peak, peakRSS(cmd.Process.Pid))
				cmd.Process.Kill()
				cmd.Wait()
				if st := cmd.ProcessState; st != nil {
					cpu += st.UserTime() + st.SystemTime()
				}
				runs++
				if werr != nil {
					b.Fatal(werr)
				}
				os.RemoveAll(dataDir)
			}
			if p := check(); len(p) > 0 {
				b.Fatalf("receiver problems: %q", p)
			}
			gib := float64(lines*lineLen) / (1 << 30)
			b.ReportMetric(cpu.Seconds()/float64(runs)/gib, "shipper-cpu-s/GiB")
			b.ReportMetric((selfCPU()-self0).Seconds()/float64(runs)/gib, "receiver-cpu-s/GiB")
			if peak > 0 {
				b.ReportMetric(float64(peak)/(1<<20), "shipper-peak-RSS-MiB")
			}
		})
	}
}

// TestEndToEndChild is the child side of BenchmarkEndToEnd: it runs the
// chain until it is killed. Without OTLP_BENCH_CHILD it does nothing.
func TestEndToEndChild(t *testing.T) {
	env := os.Getenv("OTLP_BENCH_CHILD")
	if env == "" {
		t.Skip("the benchmark's child process")
	}
	args := strings.Split(env, "\n")
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(40 << 20) // the binary's default for 4 MiB segments
	}
	maxBatch, _ := strconv.Atoi(args[4])
	err := runChain(args[0], args[1], args[2], args[3], maxBatch)
	fmt.Fprintln(os.Stderr, "child:", err)
	os.Exit(1)
}

func startChild(b *testing.B, kind, dataDir, logDir, url string, maxBatch int) *exec.Cmd {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEndToEndChild$")
	cmd.Env = append(os.Environ(), "OTLP_BENCH_CHILD="+strings.Join([]string{kind, dataDir, logDir, url, strconv.Itoa(maxBatch)}, "\n"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return cmd
}

// runChain runs source + pipeline + sink until the process is killed.
func runChain(kind, dataDir, logDir, url string, maxBatch int) error {
	var (
		s   sinks.Sink
		err error
	)
	switch kind {
	case "loki":
		s, err = loki.New(nil, nil, loki.Options{URL: url, Labels: map[string]string{"host": "edge-01"}, Timeout: 10 * time.Second})
	case "otlp-json":
		s, err = otlp.New(nil, nil, otlp.Options{URL: url, Encoding: otlp.EncodingJSON, Timeout: 10 * time.Second})
	default:
		s, err = otlp.New(nil, nil, otlp.Options{URL: url, Timeout: 10 * time.Second})
	}
	if err != nil {
		return err
	}
	defer s.Close()
	p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: dataDir, CommitInterval: 20 * time.Millisecond,
		Sinks: []pipeline.SinkOptions{{Sink: s, MaxBytes: maxBatch, MaxWait: 10 * time.Millisecond, Workers: 2,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}}})
	if err != nil {
		return err
	}
	defer p.Close()
	src, err := sources.NewFile(nil, nil, sources.FileOptions{Name: "app", Paths: []string{filepath.Join(logDir, "*.log")},
		Labels: map[string]string{"job": "bench", "host": "edge-01"}, Positions: p.Positions("app"), Emitter: p})
	if err != nil {
		return err
	}
	defer src.Close()
	ctx := context.Background()
	p.Start(ctx)
	if err := src.Start(ctx); err != nil {
		return err
	}
	select {}
}

// writeBenchLogs writes n lines of lineLen bytes (plus newline) over files
// and returns n.
func writeBenchLogs(b *testing.B, dir string, files, n, lineLen int) int {
	blocks := benchBlocks(1, 4096, lineLen)
	for f := 0; f < files; f++ {
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("app-%d.log", f)))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		for i := f; i < n; i += files {
			line := blocks[0].Entries[i%4096].Line
			w.Write(line[:lineLen-12])
			fmt.Fprintf(w, " %011d\n", i)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		fh.Close()
	}
	return n
}

// selfCPU is this process's CPU time so far (user + system): the
// receiver's, and the benchmark's own waiting.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
