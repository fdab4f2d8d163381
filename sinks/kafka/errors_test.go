package kafka_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// answerProduce answers a produce request with code for every partition of
// the topics ids (nil: all), as a broker refusing the write does: the
// response mirrors the request's topics and partitions, with ErrorCode set
// (ProduceResponse in kmsg, generated from Kafka's ProduceResponse.json).
// ok is false when no topic of the request matches.
func answerProduce(req *kmsg.ProduceRequest, ids map[[16]byte]bool, code int16) (resp *kmsg.ProduceResponse, ok bool) {
	resp = req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		if ids != nil && !ids[rt.TopicID] {
			continue
		}
		ok = true
	}
	if !ok {
		return nil, false
	}
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			if ids == nil || ids[rt.TopicID] {
				sp.ErrorCode = code
			} else {
				// Not refused, not written either: the client sends it
				// again.
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, true
}

// topicID creates topic (3 partitions) and returns its id.
func topicID(t testing.TB, brokers []string, topic string) [16]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 3, 1
	create.Topics = append(create.Topics, ct)
	if _, err := create.RequestWith(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	resp, err := meta.RequestWith(context.Background(), cl)
	if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata of %s: %v %+v", topic, err, resp)
	}
	return resp.Topics[0].TopicID
}

// received counts, per line index, the records read.
func received(recs []*kgo.Record, n int) (seen []int, missing, dups int) {
	seen = make([]int, n)
	for _, r := range recs {
		if i := lineIndex(r.Value); i >= 0 && i < n {
			seen[i]++
		}
	}
	for _, c := range seen {
		if c == 0 {
			missing++
		}
		if c > 1 {
			dups += c - 1
		}
	}
	return seen, missing, dups
}

// TestRetryableProduceErrors: the broker answers NOT_LEADER_FOR_PARTITION
// and REQUEST_TIMED_OUT to every produce for 3 s, longer than the sink's
// timeout, so the producer retries and the pipeline files the timed-out
// batches for retry: every line arrives and nothing is dead-lettered.
func TestRetryableProduceErrors(t *testing.T) {
	// The topic exists: one created by the first produce keeps records
	// waiting for metadata, and those fail at the send's deadline.
	c := newCluster(t, kfake.SeedTopics(3, "retry"))
	brokers := c.ListenAddrs()
	var refused atomic.Int64
	until := time.Now().Add(3 * time.Second)
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if time.Now().After(until) {
			return nil, nil, false
		}
		code := kerr.NotLeaderForPartition.Code
		if refused.Add(1)%2 == 0 {
			code = kerr.RequestTimedOut.Code
		}
		resp, _ := answerProduce(kreq.(*kmsg.ProduceRequest), nil, code)
		return resp, nil, true
	})
	const n = 20_000
	logDir := t.TempDir()
	writeLogs(t, logDir, 2, n, 40)
	cfg := kafka.NewConfig()
	cfg.Brokers, cfg.Topic, cfg.Timeout = brokers, "retry", 500*time.Millisecond
	reg := prometheus.NewRegistry()
	ch := startChain(t, t.TempDir(), logDir, cfg, chainOptions{reg: reg, maxBytes: 128 << 10})
	recs := newConsumer(t, brokers, "retry").waitLines(t, n, 60*time.Second)
	_, missing, dups := received(recs, n)
	t.Logf("%d produce requests refused; %d records for %d lines, %d duplicates",
		refused.Load(), len(recs), n, dups)
	if missing > 0 {
		t.Fatalf("%d lines missing", missing)
	}
	if refused.Load() == 0 || metricValue(t, reg, "logcapturer_kafka_failures_total") == 0 {
		t.Fatal("no produce was refused or timed out: the test proves nothing")
	}
	if dl := ch.p.DeadLetters("kafka"); len(dl) > 0 {
		t.Fatalf("retryable errors dead-lettered: %+v", dl)
	}
}

// TestMessageTooLarge: the broker refuses every write to one topic with
// MESSAGE_TOO_LARGE. Those entries go to the dead-letter queue with the
// Kafka error name as reason; lines after them, in the same file and
// written later, still arrive.
func TestMessageTooLarge(t *testing.T) {
	c := newCluster(t)
	brokers := c.ListenAddrs()
	big := topicID(t, brokers, "big")
	var refused atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp, ok := answerProduce(kreq.(*kmsg.ProduceRequest), map[[16]byte]bool{big: true}, kerr.MessageTooLarge.Code)
		if ok {
			refused.Add(1)
		}
		return resp, nil, ok
	})
	logDir := t.TempDir()
	const n = 10_000
	writeLogs(t, logDir, 1, n, 40)
	bigPath := filepath.Join(logDir, "big.log")
	if err := os.WriteFile(bigPath, []byte(strings.Repeat("too large for the broker\n", 50)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := kafka.NewConfig()
	cfg.Brokers = brokers
	cfg.Topic = `{{ if eq .filename "` + bigPath + `" }}big{{ else }}small{{ end }}`
	ch := startChain(t, t.TempDir(), logDir, cfg, chainOptions{maxBytes: 64 << 10})
	cons := newConsumer(t, brokers, "small")
	cons.waitLines(t, n, 30*time.Second)
	// Later lines of the same file, after the refusal.
	f, err := os.OpenFile(filepath.Join(logDir, "app-0.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := n; i < n+100; i++ {
		fmt.Fprintf(f, "line %d later\n", i)
	}
	f.Close()
	recs := cons.waitLines(t, n+100, 30*time.Second)
	if _, missing, _ := received(recs, n+100); missing > 0 {
		t.Fatalf("%d lines missing", missing)
	}
	var dead int
	waitFor(t, 10*time.Second, "the refused entries in the dead-letter queue", func() bool {
		dead = 0
		for _, d := range ch.p.DeadLetters("kafka") {
			if d.Reason != "MESSAGE_TOO_LARGE" {
				t.Fatalf("dead letter %+v, want reason MESSAGE_TOO_LARGE", d)
			}
			dead += d.Entries
		}
		return dead == 50
	})
	// Exactly the refused entries, not the rest of their batches.
	for _, d := range ch.p.DeadLetters("kafka") {
		if err := ch.p.DeadLetterEntries("kafka", d, func(e pipeline.DeadLetterEntry) error {
			if string(e.Line) != "too large for the broker" {
				t.Errorf("dead letter holds %q", e.Line)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d produce requests refused; %d entries dead-lettered", refused.Load(), dead)
}

// TestInvalidTopic: a topic template that renders an invalid name for one
// file's blocks sends them to the dead-letter queue (invalid_topic); the
// other file's lines arrive.
func TestInvalidTopic(t *testing.T) {
	c := newCluster(t)
	brokers := c.ListenAddrs()
	logDir := t.TempDir()
	const n = 5_000
	writeLogs(t, logDir, 1, n, 40)
	badPath := filepath.Join(logDir, "bad.log")
	os.WriteFile(badPath, []byte(strings.Repeat("nowhere to go\n", 30)), 0o644)
	cfg := kafka.NewConfig()
	cfg.Brokers = brokers
	cfg.Topic = `{{ if eq .filename "` + badPath + `" }}no such/topic{{ else }}good{{ end }}`
	ch := startChain(t, t.TempDir(), logDir, cfg, chainOptions{maxBytes: 64 << 10})
	recs := newConsumer(t, brokers, "good").waitLines(t, n, 30*time.Second)
	if _, missing, _ := received(recs, n); missing > 0 {
		t.Fatalf("%d lines missing", missing)
	}
	waitFor(t, 10*time.Second, "the bad file's entries in the dead-letter queue", func() bool {
		dead := 0
		for _, d := range ch.p.DeadLetters("kafka") {
			if d.Reason != "invalid_topic" {
				t.Fatalf("dead letter %+v, want reason invalid_topic", d)
			}
			dead += d.Entries
		}
		return dead == 30
	})
}

// TestUnauthorized: while the broker answers TOPIC_AUTHORIZATION_FAILED,
// the sink is reported unauthorized and nothing is dead-lettered; once it
// accepts, everything arrives.
func TestUnauthorized(t *testing.T) {
	c := newCluster(t)
	brokers := c.ListenAddrs()
	var refusing atomic.Bool
	refusing.Store(true)
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refusing.Load() {
			return nil, nil, false
		}
		resp, _ := answerProduce(kreq.(*kmsg.ProduceRequest), nil, kerr.TopicAuthorizationFailed.Code)
		return resp, nil, true
	})
	logDir := t.TempDir()
	const n = 5_000
	writeLogs(t, logDir, 1, n, 40)
	cfg := kafka.NewConfig()
	cfg.Brokers, cfg.Topic = brokers, "authz"
	ch := startChain(t, t.TempDir(), logDir, cfg, chainOptions{})
	waitFor(t, 20*time.Second, "sink_unauthorized", func() bool {
		_, conds := ch.p.Readiness()
		for _, c := range conds {
			if c.Component == "sink/kafka" && c.Reason == pipeline.ReasonSinkUnauthorized {
				return strings.Contains(c.Detail, "TOPIC_AUTHORIZATION_FAILED")
			}
		}
		return false
	})
	refusing.Store(false)
	recs := newConsumer(t, brokers, "authz").waitLines(t, n, 60*time.Second)
	if _, missing, _ := received(recs, n); missing > 0 {
		t.Fatalf("%d lines missing", missing)
	}
	if dl := ch.p.DeadLetters("kafka"); len(dl) > 0 {
		t.Fatalf("refused credentials dead-lettered: %+v", dl)
	}
}
