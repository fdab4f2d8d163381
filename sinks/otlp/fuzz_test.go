package otlp_test

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/sinks/otlp"
	"github.com/logcapturer/logcapturer/wal"
	collogs "go.opentelemetry.io/proto/slim/otlp/collector/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// FuzzEncode: whatever the lines, labels and metadata (any bytes), the
// protobuf body decodes with the official types into exactly the entries,
// bodies byte for byte, and is itself byte for byte their deterministic
// marshalling of what it decoded to; the JSON body is valid OTLP/JSON with
// as many records.
func FuzzEncode(f *testing.F) {
	f.Add([]byte("line"), "job", "a", "level", "info", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", int64(1))
	f.Add([]byte("\xff\xfe"), "host", "\xff", "__tenant_id__", "t", "", "", int64(-5))
	f.Add([]byte(""), "service_name", "", "span_id", "00f067aa0ba902b7", "x\x00y", "\"\\", int64(0))
	f.Fuzz(func(t *testing.T, line []byte, l1, v1, l2, v2, m1, mv1 string, ts int64) {
		labels := ls(l1, v1, l2, v2)
		e1 := wal.Entry{Time: ts, Line: line, Metadata: ls(m1, mv1)}
		e2 := wal.Entry{Time: ts + 1, Line: append([]byte("b"), line...), Labels: ls(l2, v1, l1, v2)}
		blocks := []wal.Block{{Source: l1, Labels: labels, Entries: []wal.Entry{e1, e2}}, {Source: "s", Entries: []wal.Entry{e1}}}
		body, n := otlp.NewEncoder(otlp.Options{}).Encode(blocks)
		if n != 3 {
			t.Fatalf("%d records, want 3", n)
		}
		var req collogs.ExportLogsServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Fatalf("protobuf body does not decode: %v", err)
		}
		if canon, err := (proto.MarshalOptions{Deterministic: true}).Marshal(&req); err != nil || !bytes.Equal(body, canon) {
			t.Fatalf("protobuf body is not the official marshalling of its decoding (%v):\n got %x\nwant %x", err, body, canon)
		}
		var bodies [][]byte
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					if b := lr.GetBody().GetBytesValue(); b != nil {
						bodies = append(bodies, b)
					} else {
						bodies = append(bodies, []byte(lr.GetBody().GetStringValue()))
					}
				}
			}
		}
		if len(bodies) != 3 {
			t.Fatalf("decoded %d records, want 3", len(bodies))
		}
		for _, b := range bodies {
			if !bytes.Equal(b, line) && !bytes.Equal(b, e2.Line) {
				t.Fatalf("body %q is not one of the lines", b)
			}
		}
		jbody, _ := otlp.NewEncoder(otlp.Options{Encoding: otlp.EncodingJSON}).Encode(blocks)
		if !utf8.Valid(jbody) {
			t.Fatal("JSON body is not UTF-8")
		}
		var jreq collogs.ExportLogsServiceRequest
		if err := protojson.Unmarshal(jbody, &jreq); err != nil {
			t.Fatalf("JSON body does not decode: %v\n%s", err, jbody)
		}
		m := 0
		for _, rl := range jreq.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				m += len(sl.LogRecords)
			}
		}
		if m != 3 {
			t.Fatalf("JSON has %d records, want 3", m)
		}
	})
}
