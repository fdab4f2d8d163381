package sinks

import (
	"encoding/json"
	"testing"

	"github.com/logcapturer/logcapturer/wal"
)

// TestAppendJSONEntryAllocates: with room in dst, encoding an entry as JSON
// allocates nothing (the kafka and http sinks encode every entry with it;
// a copy of each line made one byte of garbage per byte sent).
func TestAppendJSONEntryAllocates(t *testing.T) {
	e := &wal.Entry{Time: 1_700_000_000_123_456_789, Line: []byte("level=info msg=\"a \\ quoted\" caf\xc3\xa9 \xff tab\tend"),
		Metadata: []wal.Label{{Name: "trace_id", Value: "abc"}}}
	labels := AppendJSONLabels(nil, []wal.Label{{Name: "job", Value: "app"}})
	dst := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AppendJSONEntry(dst[:0], labels, e)
	})
	if allocs != 0 {
		t.Errorf("AppendJSONEntry allocates %.0f times per entry, want 0", allocs)
	}
	var got struct {
		TS       string            `json:"ts"`
		Labels   map[string]string `json:"labels"`
		Line     string            `json:"line"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(dst, &got); err != nil {
		t.Fatalf("%s: %v", dst, err)
	}
	if want := "level=info msg=\"a \\ quoted\" café \ufffd tab\tend"; got.Line != want || got.TS != "2023-11-14T22:13:20.123456789Z" ||
		got.Labels["job"] != "app" || got.Metadata["trace_id"] != "abc" {
		t.Errorf("decoded %+v, want line %q", got, want)
	}
}

// BenchmarkAppendJSONEntry: a 200-byte logfmt line with two labels, as
// the kafka and http sinks encode each entry.
func BenchmarkAppendJSONEntry(b *testing.B) {
	e := &wal.Entry{Time: 1_764_936_000_123_456_789, Line: []byte(`ts=2026-12-05T12:00:00.123Z level=info msg="request served" ` +
		`path=/api/v1/items/12345 status=200 dur=1.234ms bytes=5321 user=alice trace=4bf92f3577b34da6a3ce929d0e0e4736 region=eu-west`)}
	labels := AppendJSONLabels(nil, []wal.Label{{Name: "job", Value: "app"}, {Name: "host", Value: "edge-01"}})
	dst := make([]byte, 0, 1024)
	b.SetBytes(int64(len(e.Line)))
	for b.Loop() {
		dst = AppendJSONEntry(dst[:0], labels, e)
	}
}
