package kafka_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/logcapturer/logcapturer/wal"
)

// BenchmarkSend: one worker sending 1 MiB batches (16 blocks of 64 KiB of
// 200-byte lines) to kfake in this process, defaults otherwise. Bytes are
// line bytes.
func BenchmarkSend(b *testing.B) {
	c := newCluster(b)
	s := newSink(b, c.ListenAddrs(), func(c *kafka.Config) { c.Topic = "send" })
	var blocks []wal.Block
	t0 := time.Now()
	for i := 0; i < 16; i++ {
		blk := block(i*327, 327, t0, "job", "bench", "host", "edge-01")
		for j := range blk.Entries {
			blk.Entries[j].Line = append(blk.Entries[j].Line, bytes.Repeat([]byte("x"), 200-len(blk.Entries[j].Line))...)
		}
		blocks = append(blocks, blk)
	}
	bt := batch(1, blocks...)
	b.SetBytes(int64(bt.Bytes))
	for b.Loop() {
		if err := s.Send(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
}
