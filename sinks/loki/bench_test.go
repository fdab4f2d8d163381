package loki_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"

	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/wal"
)

// BenchmarkEncode: grouping, protobuf and snappy of a 1 MiB batch of
// 200-byte lines (16 blocks of 64 KiB, as the file source cuts them), on
// one core. Bytes are line bytes.
func BenchmarkEncode(b *testing.B) {
	for _, enc := range []string{loki.EncodingProtobuf, loki.EncodingJSON} {
		b.Run(enc, func(b *testing.B) {
			blocks := benchBlocks(16, 65536/200, 200)
			enc := loki.NewEncoder(loki.Options{Encoding: enc, Labels: map[string]string{"host": "edge-01"}})
			b.SetBytes(int64(size(blocks)))
			b.ReportAllocs()
			var out int
			for b.Loop() {
				out = len(enc.Encode(blocks)[0].Body)
			}
			b.ReportMetric(float64(out)/float64(size(blocks)), "ratio")
		})
	}
	// staged: the same batch as processing stages leave it, through the
	// WAL codec: every entry has a level label (3 values), a trace_id in
	// its structured metadata, and one in 8 is another tenant's.
	b.Run("staged", func(b *testing.B) {
		blocks := benchBlocks(16, 65536/200, 200)
		levels := []string{"info", "info", "warn", "info", "error"}
		for bi := range blocks {
			blk := &blocks[bi]
			for i := range blk.Entries {
				e := &blk.Entries[i]
				e.Labels = append(slices.Clone(blk.Labels), wal.Label{Name: "level", Value: levels[i%len(levels)]})
				if i%8 == 0 {
					e.Labels = append([]wal.Label{{Name: wal.TenantLabel, Value: "other"}}, e.Labels...)
				}
				e.Metadata = []wal.Label{{Name: "trace_id", Value: fmt.Sprintf("%032x", i*7919)}}
			}
			var dec wal.Block
			if err := wal.DecodeBlock(wal.EncodeBlock(nil, blk), &dec); err != nil {
				b.Fatal(err)
			}
			blocks[bi] = dec
		}
		enc := loki.NewEncoder(loki.Options{Labels: map[string]string{"host": "edge-01"}})
		b.SetBytes(int64(size(blocks)))
		b.ReportAllocs()
		for b.Loop() {
			if n := len(enc.Encode(blocks)); n != 2 {
				b.Fatalf("%d pushes", n)
			}
		}
	})
}

func size(blocks []wal.Block) int {
	n := 0
	for i := range blocks {
		n += blocks[i].Size()
	}
	return n
}

// BenchmarkEndToEnd pushes 128 MiB of 200-byte lines (4 files) through the
// whole chain: file source, pipeline (WAL with an fsync per group commit,
// bbolt cursors), loki sink (2 workers, 1 MiB batches, protobuf+snappy)
// to the in-process receiver, which decodes and checks every push with
// Loki's types but keeps only a count. The chain runs in a child process
// (this test binary), so shipper-peak-RSS-MiB is the shipper's own VmHWM;
// the receiver in this process shares the machine's 2 cores. Bytes are
// line bytes; the time includes the child's start.
func BenchmarkEndToEnd(b *testing.B) {
	const total = 128 << 20
	const lineLen = 200
	logDir := b.TempDir()
	lines := writeBenchLogs(b, logDir, 4, total/(lineLen+1), lineLen)
	r := lokitest.NewReceiver()
	defer r.Close()
	r.SetDiscard(true)
	b.SetBytes(int64(lines * lineLen))
	var peak int64
	for b.Loop() {
		dataDir, err := os.MkdirTemp(b.TempDir(), "data")
		if err != nil {
			b.Fatal(err)
		}
		base := r.Count()
		cmd := startChild(b, dataDir, logDir, r.URL(), 1<<20)
		werr := r.WaitEntries(base+lines, 5*time.Minute)
		peak = max(peak, peakRSS(cmd.Process.Pid))
		cmd.Process.Kill()
		cmd.Wait()
		if werr != nil {
			b.Fatal(werr)
		}
		os.RemoveAll(dataDir)
	}
	if p := r.Problems(); len(p) > 0 {
		b.Fatalf("receiver problems: %q", p)
	}
	if r.Count() < lines {
		b.Fatalf("received %d of %d", r.Count(), lines)
	}
	if peak > 0 {
		b.ReportMetric(float64(peak)/(1<<20), "shipper-peak-RSS-MiB")
	}
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
