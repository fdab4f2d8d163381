package loki_test

import (
	"testing"

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
				body, _ := enc.Encode(blocks)
				out = len(body)
			}
			b.ReportMetric(float64(out)/float64(size(blocks)), "ratio")
		})
	}
}

func size(blocks []wal.Block) int {
	n := 0
	for i := range blocks {
		n += blocks[i].Size()
	}
	return n
}
