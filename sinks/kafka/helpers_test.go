package kafka_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/logcapturer/logcapturer/sinks/kafka/kafkatest"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newCluster starts a one-broker kfake cluster that creates topics on
// first use (3 partitions each) and closes it at the end of the test.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newSink opens a kafka sink on brokers with cfg's defaults changed by mod.
func newSink(t testing.TB, brokers []string, mod func(*kafka.Config)) *kafka.Sink {
	t.Helper()
	cfg := kafka.NewConfig()
	cfg.Brokers = brokers
	cfg.Topic = "logs"
	cfg.Timeout = 10 * time.Second
	if mod != nil {
		mod(cfg)
	}
	s, err := kafka.New(nil, nil, "kafka", *cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// block builds a block of n entries "line <first+i>" with labels.
func block(first, n int, t0 time.Time, labels ...string) wal.Block {
	b := wal.Block{Source: "app"}
	for i := 0; i+1 < len(labels); i += 2 {
		b.Labels = append(b.Labels, wal.Label{Name: labels[i], Value: labels[i+1]})
	}
	for i := 0; i < n; i++ {
		b.Entries = append(b.Entries, wal.Entry{Time: t0.Add(time.Duration(first+i) * time.Microsecond).UnixNano(),
			Line: []byte(fmt.Sprintf("line %d", first+i))})
	}
	return b
}

func batch(from uint64, blocks ...wal.Block) *sinks.Batch {
	b := &sinks.Batch{From: from, To: from + uint64(len(blocks)) - 1, Blocks: blocks}
	for i := range blocks {
		b.Entries += len(blocks[i].Entries)
		b.Bytes += blocks[i].Size()
	}
	return b
}

type consumer struct{ *kafkatest.Consumer }

func newConsumer(t testing.TB, brokers []string, topics ...string) consumer {
	return consumer{kafkatest.NewConsumer(t, brokers, topics...)}
}

func (c consumer) close() { c.Close() }

// wait waits until at least n records were read, or d passes.
func (c consumer) wait(t testing.TB, n int, d time.Duration) []*kgo.Record {
	t.Helper()
	return c.Wait(t, d, func(r []*kgo.Record) (bool, string) {
		return len(r) >= n, fmt.Sprintf("read %d records, want %d", len(r), n)
	})
}

// waitLines waits until every line 0..n-1 was read at least once (see
// lineIndex), or d passes.
func (c consumer) waitLines(t testing.TB, n int, d time.Duration) []*kgo.Record {
	t.Helper()
	return c.Wait(t, d, func(r []*kgo.Record) (bool, string) {
		_, missing, _ := received(r, n)
		return missing == 0, fmt.Sprintf("%d of %d lines not read", missing, n)
	})
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func fmtSscanf(line string, i *int) (int, error) { return fmt.Sscanf(line, "line %d", i) }
