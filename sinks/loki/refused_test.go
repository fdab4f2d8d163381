package loki

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/wal"
)

// at returns Unix ns of an RFC3339Nano time.
func at(t testing.TB, s string) int64 {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts.UnixNano()
}

// refusalBatch builds a batch of blocks of {time, line length} entries.
func refusalBatch(blocks ...[]wal.Entry) *sinks.Batch {
	b := &sinks.Batch{From: 1, To: uint64(len(blocks))}
	for _, es := range blocks {
		b.Blocks = append(b.Blocks, wal.Block{Source: "t", Labels: []wal.Label{{Name: "job", Value: "t"}}, Entries: es})
		b.Entries += len(es)
	}
	return b
}

func ent(ns int64, line string) wal.Entry { return wal.Entry{Time: ns, Line: []byte(line)} }

const lokiStream = `{job="t", service_name="t"}`

// TestPickRefused parses real and Loki-formatted 400 bodies and matches
// them to batches: exactly the refused entries, or no selection at all.
func TestPickRefused(t *testing.T) {
	old := at(t, "2026-11-22T13:32:52.25Z")
	old2 := at(t, "2026-11-22T13:32:52.75Z")
	cur := at(t, "2026-12-02T13:32:40Z")
	bound := at(t, "2026-11-25T13:32:52.4Z") // stated as ...:52Z
	bt := time.Unix(0, bound).UTC()
	tooOld := func(ns int64) string { return lokitest.TooOldMessage(lokiStream, time.Unix(0, ns).UTC(), bt) }
	tooNew := func(ns int64) string { return lokitest.TooNewMessage(lokiStream, time.Unix(0, ns).UTC()) }
	future := at(t, "2026-12-02T14:00:00.5Z")
	for _, tc := range []struct {
		name  string
		body  string
		batch *sinks.Batch
		want  []sinks.Span // nil: no selection (whole batch)
	}{
		{
			// lokitest.RealPartialTooOld, verbatim from a real Loki: the 2
			// old entries, wherever they are in the batch.
			name:  "real body",
			body:  lokitest.RealPartialTooOld + "\n", // http.Error adds the newline
			batch: refusalBatch([]wal.Entry{ent(cur, "a"), ent(old, "b"), ent(cur+1, "c")}, []wal.Entry{ent(old2, "d"), ent(cur+2, "e")}),
			want:  []sinks.Span{{Block: 0, First: 1, Count: 1}, {Block: 1, First: 0, Count: 1}},
		},
		{
			name:  "real body, count disagrees",
			body:  lokitest.RealPartialTooOld,
			batch: refusalBatch([]wal.Entry{ent(cur, "a"), ent(old, "b"), ent(cur+1, "c")}),
		},
		{
			// Entries in the bound's own second: Loki refused the oldest of
			// them, as many as the count says beyond the surely old ones.
			name: "bound second",
			body: lokitest.Grouped([]string{tooOld(old), tooOld(bound - 3e8), tooOld(bound - 2e8)}),
			batch: refusalBatch([]wal.Entry{ent(old, "a"), ent(bound-3e8, "b"), ent(bound-2e8, "c"),
				ent(bound+1e8, "d"), ent(bound+5e8, "e"), ent(cur, "f")}),
			want: []sinks.Span{{Block: 0, First: 0, Count: 3}},
		},
		{
			name:  "bound second, equal times cannot be split",
			body:  lokitest.Grouped([]string{tooOld(bound - 3e8)}),
			batch: refusalBatch([]wal.Entry{ent(bound-3e8, "a"), ent(bound-3e8, "b")}),
		},
		{
			// Too new: the count picks the newest entries of the earliest
			// second named; nothing is assumed about the grace period.
			name: "too new",
			body: lokitest.Grouped([]string{tooNew(future), tooNew(future + 2e8), tooNew(future + 3e9)}),
			batch: refusalBatch([]wal.Entry{ent(cur, "a"), ent(future-4e8, "b"), ent(future, "c")},
				[]wal.Entry{ent(future+2e8, "d"), ent(future+3e9, "e")}),
			want: []sinks.Span{{Block: 0, First: 2, Count: 1}, {Block: 1, First: 0, Count: 2}},
		},
		{
			// Loki checks time before length: the old long line is one too
			// old error, the current long ones are line too long.
			name: "mixed kinds",
			body: lokitest.Grouped([]string{tooOld(old), lokitest.LineTooLongMessage(lokiStream, 4, 5),
				lokitest.LineTooLongMessage(lokiStream, 4, 5), lokitest.LineTooLongMessage(lokiStream, 4, 9), tooNew(future)}),
			batch: refusalBatch([]wal.Entry{ent(old, "too long"), ent(cur, "12345"), ent(cur, "1234"), ent(cur, "123456789"),
				ent(cur, "abcde"), ent(future, "x")}),
			want: []sinks.Span{{Block: 0, First: 0, Count: 2}, {Block: 0, First: 3, Count: 3}},
		},
		{
			name:  "the bound in Loki's local zone, a stream with '; ' in a value",
			body:  "2 errors like: entry for stream '{job=\"a; 3 b\", service_name=\"a; 3 b\"}' has timestamp too old: 2026-11-22T13:32:52Z, oldest acceptable timestamp is: 2026-11-25T14:32:52+01:00",
			batch: refusalBatch([]wal.Entry{ent(old, "a"), ent(cur, "b"), ent(old2, "c")}),
			want:  []sinks.Span{{Block: 0, First: 0, Count: 1}, {Block: 0, First: 2, Count: 1}},
		},
		{
			name:  "a single message without a count",
			body:  tooOld(old),
			batch: refusalBatch([]wal.Entry{ent(old, "a"), ent(cur, "b")}),
			want:  []sinks.Span{{Block: 0, First: 0, Count: 1}},
		},
		{
			// A per-stream error refuses a whole stream as one error: not
			// matched, whole batch.
			name:  "per-stream error",
			body:  lokitest.Grouped([]string{tooOld(old), "stream '{job=\"t\"}' has label value too long: 'x'"}),
			batch: refusalBatch([]wal.Entry{ent(old, "a"), ent(cur, "b")}),
		},
		{
			name:  "ingester's partial answer",
			body:  lokitest.Partial(1, 2).Body,
			batch: refusalBatch([]wal.Entry{ent(old, "a"), ent(cur, "b")}),
		},
		{
			name:  "seconds disagree",
			body:  lokitest.Grouped([]string{tooOld(old - 5e9)}),
			batch: refusalBatch([]wal.Entry{ent(old, "a"), ent(cur, "b")}),
		},
		{
			name:  "garbage",
			body:  "2 errors like: entry for stream '{a=\"b\"}' has timestamp too old: yesterday, oldest acceptable timestamp is: today",
			batch: refusalBatch([]wal.Entry{ent(old, "a"), ent(cur, "b")}),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rf := parseRefusals(strings.NewReader(tc.body))
			got, ok := rf.pick(tc.batch, nil)
			if tc.want == nil {
				if ok {
					t.Fatalf("picked %+v, want no selection", got)
				}
				return
			}
			if !ok || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("picked %+v %v, want %+v (parsed %+v)", got, ok, tc.want, rf)
			}
		})
	}
}

func TestReadRefusalsBounds(t *testing.T) {
	// Every entry of a 10,000-entry batch refused in its own second: a
	// body of some 1.5 MiB, read whole although only maxResponseBody of it
	// is kept as the message.
	var msgs []string
	base := at(t, "2026-01-01T00:00:00Z")
	bound := time.Unix(0, base+20_000e9).UTC()
	var es []wal.Entry
	for i := 0; i < 10_000; i++ {
		ns := base + int64(i)*1e9
		es = append(es, ent(ns, "x"))
		msgs = append(msgs, lokitest.TooOldMessage(lokiStream, time.Unix(0, ns).UTC(), bound))
	}
	b := refusalBatch(es)
	body := lokitest.Grouped(msgs)
	msg, rf, err := readRefusals(strings.NewReader(body))
	if err != nil || len(msg) != maxResponseBody || len(body) <= maxResponseBody {
		t.Fatalf("message %d bytes of %d, %v", len(msg), len(body), err)
	}
	if spans, ok := rf.pick(b, nil); !ok || len(spans) != 1 || spans[0].Count != 10_000 {
		t.Fatalf("picked %+v %v", spans, ok)
	}
	// Over maxRefusalBody: not trusted.
	_, rf, _ = readRefusals(strings.NewReader(body + strings.Repeat(" ", maxRefusalBody)))
	if rf.matched() {
		t.Fatal("an over-long body was trusted")
	}
}

// FuzzRefusals: any body parses without panic, and a selection, when one
// is made, lies within the batch, is sorted and counts what the body says.
func FuzzRefusals(f *testing.F) {
	f.Add(lokitest.RealPartialTooOld)
	f.Add("3 errors like: max entry size '4' bytes exceeded for stream '{a=\"b\"}' while adding an entry with length '5' bytes; 1 errors like: entry for stream '{a=\"b\"}' has timestamp too new: 2026-12-02T14:00:00Z")
	f.Add("entry for stream '{a=\"b\"}' has timestamp too old: 9999-01-01T00:00:00Z, oldest acceptable timestamp is: 0001-01-01T00:00:00Z")
	batch := refusalBatch([]wal.Entry{ent(at(f, "2026-11-22T13:32:52.25Z"), "a"), ent(at(f, "2026-11-22T13:32:52.75Z"), "12345")},
		[]wal.Entry{ent(at(f, "2026-12-02T14:00:00.5Z"), "b"), ent(0, ""), ent(-1, "c")})
	f.Fuzz(func(t *testing.T, body string) {
		rf := parseRefusals(strings.NewReader(body))
		spans, ok := rf.pick(batch, nil)
		if !ok {
			return
		}
		n := 0
		for i, s := range spans {
			if s.Block < 0 || s.Block >= len(batch.Blocks) || s.First < 0 || s.Count < 1 || s.First+s.Count > len(batch.Blocks[s.Block].Entries) {
				t.Fatalf("span %+v outside the batch", s)
			}
			if i > 0 && (s.Block < spans[i-1].Block || s.Block == spans[i-1].Block && s.First <= spans[i-1].First+spans[i-1].Count-1) {
				t.Fatalf("spans %+v not sorted", spans)
			}
			n += s.Count
		}
		if n != rf.total {
			t.Fatalf("picked %d entries, the body says %d", n, rf.total)
		}
	})
}
