package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/logcapturer/logcapturer/wal"
)

// TestSendFormats produces two blocks with each format and reads them back:
// topic and key templates applied per block, labels and timestamps as
// written.
func TestSendFormats(t *testing.T) {
	c := newCluster(t)
	brokers := c.ListenAddrs()
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 123456789, time.UTC)
	for _, format := range []string{kafka.FormatJSON, kafka.FormatRaw} {
		t.Run(format, func(t *testing.T) {
			s := newSink(t, brokers, func(c *kafka.Config) {
				c.Format = format
				c.Topic = format + "-{{ .job }}"
				c.Key = "{{ .host }}/{{ .nope }}"
			})
			b := batch(7, block(0, 3, t0, "host", "h1", "job", "web"), block(3, 2, t0, "host", "h2", "job", "db"))
			if err := s.Send(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			recs := newConsumer(t, brokers, format+"-web", format+"-db").wait(t, 5, 10*time.Second)
			for _, r := range recs {
				var line, host, job string
				var ts time.Time
				if format == kafka.FormatJSON {
					var v struct {
						TS     time.Time         `json:"ts"`
						Labels map[string]string `json:"labels"`
						Line   string            `json:"line"`
					}
					if err := json.Unmarshal(r.Value, &v); err != nil {
						t.Fatalf("value %q: %v", r.Value, err)
					}
					line, host, job, ts = v.Line, v.Labels["host"], v.Labels["job"], v.TS
				} else {
					line = string(r.Value)
					host, _ = header(r, "host")
					job, _ = header(r, "job")
					ts = r.Timestamp
				}
				var i int
				if _, err := fmtSscanf(line, &i); err != nil {
					t.Fatalf("line %q", line)
				}
				want := t0.Add(time.Duration(i) * time.Microsecond)
				if format == kafka.FormatRaw {
					want = want.Truncate(time.Millisecond) // Kafka's record timestamp is in ms
				}
				if !ts.Equal(want) {
					t.Errorf("line %d: ts %v, want %v", i, ts, want)
				}
				if !r.Timestamp.Equal(t0.Add(time.Duration(i) * time.Microsecond).Truncate(time.Millisecond)) {
					t.Errorf("line %d: record timestamp %v", i, r.Timestamp)
				}
				wantHost, wantJob := "h1", "web"
				if i >= 3 {
					wantHost, wantJob = "h2", "db"
				}
				if host != wantHost || job != wantJob || r.Topic != format+"-"+wantJob || string(r.Key) != wantHost+"/" {
					t.Errorf("line %d: topic %s key %q host %q job %q", i, r.Topic, r.Key, host, job)
				}
			}
		})
	}
}

// TestUnreachableSendAndClose: with no broker listening, New succeeds
// (nothing is dialled), Send gives up after its timeout as retryable, the
// next Send waits for the first one's records and gives up too without
// producing, and Close returns at once although records are buffered
// (goleak checks that the client's goroutines are gone).
func TestUnreachableSendAndClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := newSink(t, []string{addr}, func(c *kafka.Config) { c.Timeout = 300 * time.Millisecond })
	// The second send waits for the first one's records if they are still
	// buffered, or times out itself if the client already failed them
	// (records waiting for metadata fail at their send's deadline).
	for i, want := range [][]string{{"timeout"}, {"unacknowledged", "timeout"}} {
		err := s.Send(context.Background(), batch(uint64(1+i), block(10*i, 10, time.Now(), "job", "a")))
		var r *sinks.Retryable
		if !errors.As(err, &r) || !slices.Contains(want, r.Reason) {
			t.Fatalf("send %d: %v, want a retryable %v", i, err, want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := s.Send(ctx, batch(3, block(20, 1, time.Now()))); err == nil {
		t.Fatal("send with a done context succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a done send and Close took %s", d)
	}
}

// TestRefusedEntries: a batch whose middle block renders an invalid topic
// is a partial success: the other blocks are written, and the error names
// exactly the refused entries (sinks.Permanent.Refused), reason
// invalid_topic.
func TestRefusedEntries(t *testing.T) {
	c := newCluster(t)
	s := newSink(t, c.ListenAddrs(), func(c *kafka.Config) { c.Topic = "t{{ .bad }}" })
	t0 := time.Now()
	err := s.Send(context.Background(), batch(1, block(0, 3, t0), block(3, 4, t0, "bad", "/x"), block(7, 2, t0)))
	var p *sinks.Permanent
	if !errors.As(err, &p) || p.Reason != "invalid_topic" || p.Rejected != 4 ||
		len(p.Refused) != 1 || p.Refused[0] != (sinks.Span{Block: 1, First: 0, Count: 4}) {
		t.Fatalf("got %v (%+v), want invalid_topic refusing block 1's 4 entries", err, p)
	}
	recs := newConsumer(t, c.ListenAddrs(), "t").wait(t, 5, 10*time.Second)
	for _, r := range recs {
		if i := lineIndex(r.Value); i >= 3 && i < 7 {
			t.Fatalf("refused line %d was written", i)
		}
	}
}

// TestJSONEntryLabelsAndMetadata: the json value holds each entry's whole
// label set (its own when it has one) and its structured metadata.
func TestJSONEntryLabelsAndMetadata(t *testing.T) {
	c := newCluster(t)
	brokers := c.ListenAddrs()
	s := newSink(t, brokers, func(c *kafka.Config) { c.Format = kafka.FormatJSON; c.Topic = "staged" })
	blk := block(0, 2, time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), "job", "web")
	blk.Entries[1].Labels = []wal.Label{{Name: "job", Value: "web"}, {Name: "level", Value: "error"}}
	blk.Entries[1].Metadata = []wal.Label{{Name: "trace_id", Value: "abc"}}
	if err := s.Send(context.Background(), batch(1, blk)); err != nil {
		t.Fatal(err)
	}
	recs := newConsumer(t, brokers, "staged").wait(t, 2, 10*time.Second)
	type value struct {
		Labels   map[string]string `json:"labels"`
		Line     string            `json:"line"`
		Metadata map[string]string `json:"metadata"`
	}
	want := map[string]value{
		"line 0": {Labels: map[string]string{"job": "web"}, Line: "line 0"},
		"line 1": {Labels: map[string]string{"job": "web", "level": "error"}, Line: "line 1", Metadata: map[string]string{"trace_id": "abc"}},
	}
	for _, r := range recs {
		var v value
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		if !reflect.DeepEqual(v, want[v.Line]) {
			t.Fatalf("record %s: %+v, want %+v", r.Value, v, want[v.Line])
		}
	}
}
