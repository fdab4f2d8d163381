package kafkatest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer reads topics from their start until closed.
type Consumer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	recs []*kgo.Record
	wake chan struct{}
	done chan struct{}
	once sync.Once
}

// NewConsumer starts reading topics (one topic starting with "^" is a
// regular expression) on brokers; t.Cleanup closes it.
func NewConsumer(t testing.TB, brokers []string, topics ...string) *Consumer {
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
	c := &Consumer{cl: cl, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	t.Cleanup(c.Close)
	return c
}

func (c *Consumer) run() {
	defer close(c.done)
	for {
		fs := c.cl.PollFetches(context.Background())
		if fs.IsClientClosed() {
			return
		}
		var got []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
		if len(got) == 0 {
			continue
		}
		c.mu.Lock()
		c.recs = append(c.recs, got...)
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// Close stops reading. Safe to call twice.
func (c *Consumer) Close() {
	c.once.Do(func() {
		c.cl.Close()
		<-c.done
	})
}

// Records returns what was read so far, in the order read (per partition,
// the offset order).
func (c *Consumer) Records() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*kgo.Record(nil), c.recs...)
}

// Wait waits until done holds for the records read, or fails the test after
// d with what done last said.
func (c *Consumer) Wait(t testing.TB, d time.Duration, done func([]*kgo.Record) (bool, string)) []*kgo.Record {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		r := c.Records()
		ok, why := done(r)
		if ok {
			return r
		}
		select {
		case <-c.wake:
		case <-deadline.C:
			t.Fatalf("waited %s for records: %s", d, why)
			return r
		}
	}
}
