package kafka_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

const e2eLines = 100_000

// clock hands out distinct, increasing instants in a zone 3 hours off UTC
// and remembers them, so a test can tell a timestamp the source stamped.
type clock struct {
	mu   sync.Mutex
	next time.Time
	ns   map[int64]bool
	ms   map[int64]bool
}

func newClock() *clock {
	return &clock{next: time.Date(2026, 6, 1, 12, 0, 0, 123456789, time.FixedZone("UTC+3", 3*3600)),
		ns: map[int64]bool{}, ms: map[int64]bool{}}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next = c.next.Add(time.Microsecond + 7)
	c.ns[c.next.UnixNano()] = true
	c.ms[c.next.UnixMilli()] = true
	return c.next
}

// issued reports whether t is an instant the clock handed out or, since
// the source times a read's lines 1 ns apart from it (sources.EntryClock),
// one of the 16,384 (a block's most entries) after one; at ms precision,
// in an issued millisecond or the next.
func (c *clock) issued(t time.Time, ms bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ms {
		return c.ms[t.UnixMilli()] || c.ms[t.UnixMilli()-1]
	}
	for k := range int64(16384) {
		if c.ns[t.UnixNano()-k] {
			return true
		}
	}
	return false
}

// TestEndToEnd ships 100,000 lines from 4 files through the WAL to kfake
// and reads them back with a franz-go consumer: every line once, in order
// per file (the key is the file, so a file is one partition), labels and
// timestamps as the source stamped them, the topic and key templates
// applied; in both formats.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	c := newCluster(t)
	brokers := c.ListenAddrs()
	for _, format := range []string{kafka.FormatJSON, kafka.FormatRaw} {
		t.Run(format, func(t *testing.T) {
			logDir := t.TempDir()
			paths := writeLogs(t, logDir, 4, e2eLines, 60)
			clk := newClock()
			cfg := kafka.NewConfig()
			cfg.Brokers, cfg.Format = brokers, format
			cfg.Topic, cfg.Key = "e2e-{{ .job }}-"+format, "{{ .filename }}"
			// One worker: batches are produced one after another, so a file keeps its
			// order (with more workers, batches may interleave).
			startChain(t, t.TempDir(), logDir, cfg, chainOptions{workers: 1, now: clk.Now, labels: map[string]string{"job": "app"}})
			recs := newConsumer(t, brokers, "e2e-app-"+format).wait(t, e2eLines, 60*time.Second)
			if len(recs) != e2eLines {
				t.Fatalf("read %d records, want exactly %d", len(recs), e2eLines)
			}
			seen := make([]bool, e2eLines)
			last := map[string]int{}
			for _, r := range recs {
				i := lineIndex(r.Value)
				if i < 0 || i >= e2eLines {
					t.Fatalf("unexpected record %q", r.Value)
				}
				if seen[i] {
					t.Fatalf("line %d read twice", i)
				}
				seen[i] = true
				file := paths[i%4]
				if string(r.Key) != file {
					t.Fatalf("line %d: key %q, want %q", i, r.Key, file)
				}
				if prev, ok := last[file]; ok && i < prev {
					t.Fatalf("line %d of %s after line %d", i, file, prev)
				}
				last[file] = i
				labels, ts := recordLabels(t, r, format)
				if len(labels) != 2 || labels["job"] != "app" || labels["filename"] != file {
					t.Fatalf("line %d: labels %v", i, labels)
				}
				if !clk.issued(ts, format == kafka.FormatRaw) || !clk.issued(r.Timestamp, true) {
					t.Fatalf("line %d: time %v (record %v) is not one the source stamped", i, ts, r.Timestamp)
				}
			}
		})
	}
}

// recordLabels returns a record's labels and entry time: from the JSON
// value, or from the headers and the record timestamp (ms) for raw.
func recordLabels(t testing.TB, r *kgo.Record, format string) (map[string]string, time.Time) {
	t.Helper()
	if format == kafka.FormatJSON {
		var v struct {
			TS     time.Time         `json:"ts"`
			Labels map[string]string `json:"labels"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		return v.Labels, v.TS
	}
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m, r.Timestamp
}
