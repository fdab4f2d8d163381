package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/kafka"
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

// consumer reads topics from the start, in the background, until the test
// ends.
type consumer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	recs []*kgo.Record
	wake chan struct{}
	done chan struct{}
}

func newConsumer(t testing.TB, brokers []string, topics ...string) *consumer {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond), kgo.MetadataMinAge(100 * time.Millisecond)}
	if len(topics) == 1 && strings.HasPrefix(topics[0], "^") {
		opts = append(opts, kgo.ConsumeRegex())
	}
	opts = append(opts, kgo.ConsumeTopics(topics...))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	c := &consumer{cl: cl, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			var got []*kgo.Record
			fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
			if len(got) > 0 {
				c.mu.Lock()
				c.recs = append(c.recs, got...)
				c.mu.Unlock()
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *consumer) close() {
	c.cl.Close()
	<-c.done
}

func (c *consumer) records() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*kgo.Record(nil), c.recs...)
}

// wait waits until at least n records were read, or d passes.
func (c *consumer) wait(t testing.TB, n int, d time.Duration) []*kgo.Record {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if r := c.records(); len(r) >= n {
			return r
		}
		select {
		case <-c.wake:
		case <-deadline.C:
			r := c.records()
			t.Fatalf("read %d records in %s, want %d", len(r), d, n)
			return r
		}
	}
}

// waitLines waits until every line 0..n-1 was read at least once (see
// lineIndex), or d passes.
func (c *consumer) waitLines(t testing.TB, n int, d time.Duration) []*kgo.Record {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		r := c.records()
		if _, missing, _ := received(r, n); missing == 0 {
			return r
		}
		select {
		case <-c.wake:
		case <-deadline.C:
			_, missing, _ := received(r, n)
			t.Fatalf("%d of %d lines not read in %s", missing, n, d)
			return r
		}
	}
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
