package otlp_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/logcapturer/logcapturer/sinks/otlp"
	"github.com/logcapturer/logcapturer/sinks/sinkbench"
	"github.com/logcapturer/logcapturer/wal"
)

func BenchmarkZZGzip(b *testing.B) {
	labels := []wal.Label{{Name: "filename", Value: "/var/log/app.log"}, {Name: "host", Value: "edge-01"}, {Name: "job", Value: "app"}}
	var blocks []wal.Block
	n := 0
	for bi := 0; bi < 16; bi++ {
		blk := wal.Block{Source: "app", Labels: labels}
		for i := 0; i < 327; i++ {
			blk.Entries = append(blk.Entries, wal.Entry{Time: t0 + int64(n)*1000, Line: sinkbench.Line(n, 200)})
			n++
		}
		blocks = append(blocks, blk)
	}
	body, _ := otlp.NewEncoder(otlp.Options{}).Encode(blocks)
	body = bytes.Clone(body)
	for _, lvl := range []int{1, 2, 3, 5, gzip.HuffmanOnly, gzip.StatelessCompression} {
		b.Run(fmt.Sprint(lvl), func(b *testing.B) {
			zw, _ := gzip.NewWriterLevel(nil, lvl)
			var buf bytes.Buffer
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				buf.Reset()
				zw.Reset(&buf)
				zw.Write(body)
				zw.Close()
			}
			b.ReportMetric(float64(buf.Len())/float64(len(body)), "ratio")
		})
	}
}
