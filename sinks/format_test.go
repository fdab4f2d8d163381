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
