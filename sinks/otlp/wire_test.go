package otlp_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/logcapturer/logcapturer/sinks/otlp"
	"github.com/logcapturer/logcapturer/wal"
	collogs "go.opentelemetry.io/proto/slim/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"
)

// TestProtobufIsCanonical: the hand-encoded body is byte for byte what
// the official types marshal (deterministically) from its own decoding:
// every field in field-number order, every length right, nothing the
// decoder skips. One Encoder encodes batches of different shapes in turn
// (label-only attributes, structured metadata with a shadowed key, entries
// with their own labels, non-UTF-8 values, ids, several resources), as
// the sink reuses its encoders: each body is also what a new Encoder
// makes, so nothing kept from an earlier batch leaks into a later one.
func TestProtobufIsCanonical(t *testing.T) {
	opts := otlp.Options{Attributes: map[string]string{"file": "filename", "env": "env"}}
	base := ls("filename", "/var/log/app.log", "host", "edge-01", "job", "app", "level", "warn", "env", "prod")
	other := ls("host", "edge-02", "service_name", "svc\xff", "level", "bogus", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")
	meta := wal.Entry{Time: t0, Line: []byte("with metadata"), Metadata: ls("user", "u1", "env", "shadowed", "span_id", "00f067aa0ba902b7", "level", "error", "bin", "\xfe")}
	own := wal.Entry{Time: t0 + 1, Line: []byte("own labels \xff"), Labels: other}
	batches := [][]wal.Block{
		{block("app", base, entry(0, "a"), entry(1, "b"))},
		{block("app", base, meta, entry(2, "c"), own), block("db", other, entry(3, "d")), block("", nil, wal.Entry{Time: -1, Line: nil})},
		{block("app", base, entry(4, "e"))},
		{block("db", other, own, meta), block("app", base, meta)},
	}
	enc := otlp.NewEncoder(opts)
	for round := 0; round < 2; round++ {
		for i, blocks := range batches {
			t.Run(fmt.Sprintf("round%d/batch%d", round, i), func(t *testing.T) {
				body, n := enc.Encode(blocks)
				want := 0
				for _, b := range blocks {
					want += len(b.Entries)
				}
				if n != want {
					t.Fatalf("%d records, want %d", n, want)
				}
				var req collogs.ExportLogsServiceRequest
				if err := proto.Unmarshal(body, &req); err != nil {
					t.Fatalf("decode: %v", err)
				}
				got := 0
				for _, rl := range req.ResourceLogs {
					for _, sl := range rl.ScopeLogs {
						got += len(sl.LogRecords)
					}
				}
				if got != want {
					t.Fatalf("decoded %d records, want %d", got, want)
				}
				canon, err := proto.MarshalOptions{Deterministic: true}.Marshal(&req)
				if err != nil {
					t.Fatal(err)
				}
				if fresh, _ := otlp.NewEncoder(opts).Encode(blocks); !bytes.Equal(body, fresh) {
					t.Fatalf("a reused encoder's body differs from a new one's:\n got %x\nwant %x", body, fresh)
				}
				if !bytes.Equal(body, canon) {
					t.Fatalf("body is not the official marshalling of its decoding:\n got %x\nwant %x", body, canon)
				}
			})
		}
	}
}
