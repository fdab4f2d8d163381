package otlp_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/otlp"
	"github.com/logcapturer/logcapturer/sinks/otlp/otlptest"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
)

func newSink(t *testing.T, reg prometheus.Registerer, opts otlp.Options) *otlp.Sink {
	t.Helper()
	s, err := otlp.New(nil, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newReceiver(t *testing.T) *otlptest.Receiver {
	t.Helper()
	r := otlptest.NewReceiver()
	t.Cleanup(func() {
		if p := r.Problems(); len(p) > 0 {
			t.Errorf("receiver could not decode requests: %q", p)
		}
		r.Close()
	})
	return r
}

func batch(blocks ...wal.Block) *sinks.Batch {
	b := &sinks.Batch{From: 1, To: uint64(len(blocks)), Blocks: blocks}
	for i := range blocks {
		b.Entries += len(blocks[i].Entries)
		b.Bytes += blocks[i].Size()
	}
	return b
}

// ls builds a sorted label set from name, value pairs.
func ls(kv ...string) []wal.Label {
	var out []wal.Label
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, wal.Label{Name: kv[i], Value: kv[i+1]})
	}
	slices.SortFunc(out, func(a, b wal.Label) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

func block(source string, labels []wal.Label, entries ...wal.Entry) wal.Block {
	return wal.Block{Source: source, Labels: labels, Entries: entries}
}

const t0 = int64(1_780_000_000_123_456_789)

func entry(i int, line string) wal.Entry { return wal.Entry{Time: t0 + int64(i), Line: []byte(line)} }

// variants are the encodings and compressions every mapping case runs with.
var variants = []struct{ encoding, compression string }{
	{otlp.EncodingProtobuf, otlp.CompressionGzip},
	{otlp.EncodingProtobuf, otlp.CompressionNone},
	{otlp.EncodingJSON, otlp.CompressionGzip},
	{otlp.EncodingJSON, otlp.CompressionNone},
}

// sendAll sends blocks in one batch with opts (in each variant) and
// returns what the receiver decoded, per variant.
func sendAll(t *testing.T, opts otlp.Options, blocks ...wal.Block) map[string]*otlptest.Receiver {
	t.Helper()
	out := map[string]*otlptest.Receiver{}
	for _, v := range variants {
		r := newReceiver(t)
		o := opts
		o.URL, o.Encoding, o.Compression = r.URL(), v.encoding, v.compression
		s := newSink(t, nil, o)
		if err := s.Send(context.Background(), batch(blocks...)); err != nil {
			t.Fatalf("%s/%s: %v", v.encoding, v.compression, err)
		}
		reqs := r.Requests()
		if len(reqs) != 1 || reqs[0].Encoding != v.encoding || reqs[0].Gzip != (v.compression == otlp.CompressionGzip) {
			t.Fatalf("%s/%s: requests %+v", v.encoding, v.compression, reqs)
		}
		out[v.encoding+"/"+v.compression] = r
	}
	return out
}

// want is what one record must be.
type want struct {
	body     string
	bin      bool
	resource map[string]string
	attrs    map[string]string
	sevText  string
	sevNum   int32
	trace    string // hex
	span     string
	dropped  uint32
	time     int64
}

func check(t *testing.T, name string, got otlptest.Record, w want) {
	t.Helper()
	body, bin := got.Body()
	if body != w.body || bin != w.bin {
		t.Errorf("%s: body %q (bytes %v), want %q (bytes %v)", name, body, bin, w.body, w.bin)
	}
	if got.Scope != otlp.ScopeName {
		t.Errorf("%s: scope %q", name, got.Scope)
	}
	if w.resource != nil && !maps.Equal(got.Resource, w.resource) {
		t.Errorf("%s: resource %v, want %v", name, got.Resource, w.resource)
	}
	if a := got.Attrs(); !maps.Equal(a, w.attrs) && (len(a) > 0 || len(w.attrs) > 0) {
		t.Errorf("%s: attributes %v, want %v", name, a, w.attrs)
	}
	if got.SeverityText != w.sevText || int32(got.SeverityNumber) != w.sevNum {
		t.Errorf("%s: severity %q/%d, want %q/%d", name, got.SeverityText, got.SeverityNumber, w.sevText, w.sevNum)
	}
	if hex.EncodeToString(got.TraceId) != w.trace || hex.EncodeToString(got.SpanId) != w.span {
		t.Errorf("%s: trace %x span %x, want %s %s", name, got.TraceId, got.SpanId, w.trace, w.span)
	}
	if got.DroppedAttributesCount != w.dropped {
		t.Errorf("%s: dropped %d, want %d", name, got.DroppedAttributesCount, w.dropped)
	}
	if w.time != 0 && (got.TimeUnixNano != uint64(w.time) || got.ObservedTimeUnixNano != uint64(w.time)) {
		t.Errorf("%s: time %d observed %d, want both %d", name, got.TimeUnixNano, got.ObservedTimeUnixNano, w.time)
	}
}

// TestResourceGrouping: one ResourceLogs per distinct resource, in the
// order first seen, each with one ScopeLogs "logcapturer"; the default
// mapping takes service.name from service_name, else job, else the source
// name, and host.name from host, else hostname; an entry's own label set
// replaces its block's.
func TestResourceGrouping(t *testing.T) {
	a1 := block("app", ls("job", "a", "host", "h1", "filename", "/var/log/a.log"), entry(0, "a1"), entry(1, "a2"))
	svc := block("app", ls("service_name", "svc", "job", "ignored", "hostname", "h2"), entry(2, "s1"))
	a2 := block("app", ls("job", "a", "host", "h1", "filename", "/var/log/a.log"), entry(3, "a3"))
	bare := block("other", nil, entry(4, "o1"))
	own := entry(5, "own")
	own.Labels = ls("service_name", "svc", "hostname", "h2", wal.TenantLabel, "t1", "__internal", "x")
	mixed := block("app", ls("job", "a", "host", "h1"), own, entry(6, "a4"))
	for name, r := range sendAll(t, otlp.Options{}, a1, svc, a2, bare, mixed) {
		req := r.Requests()[0]
		var shape []string
		for _, rl := range req.Message.ResourceLogs {
			if len(rl.ScopeLogs) != 1 || rl.ScopeLogs[0].GetScope().GetName() != "logcapturer" {
				t.Fatalf("%s: scope logs %v", name, rl.ScopeLogs)
			}
			var lines []string
			for _, lr := range rl.ScopeLogs[0].LogRecords {
				lines = append(lines, lr.GetBody().GetStringValue())
			}
			shape = append(shape, fmt.Sprint(otlptest.KeyValues(rl.GetResource().GetAttributes()), lines))
		}
		wantShape := []string{
			"map[host.name:h1 service.name:a] [a1 a2 a3 a4]",
			"map[host.name:h2 service.name:svc] [s1 own]",
			"map[service.name:other] [o1]",
		}
		if !slices.Equal(shape, wantShape) {
			t.Errorf("%s: resources\n%q\nwant\n%q", name, shape, wantShape)
		}
		for _, rec := range r.Records() {
			body, _ := rec.Body()
			var w want
			switch body {
			case "a1", "a2", "a3":
				w.attrs = map[string]string{"log.file.path": "/var/log/a.log"}
			}
			w.body = body
			check(t, name+" "+body, rec, w)
		}
	}
}

// TestSeverity: severity_text is the level label's value as it is,
// severity_number the OpenTelemetry severity table's number for it, any
// case; an unknown level keeps its text with number 0; the level comes
// from structured metadata when no label has it; severity_label "-"
// turns it off.
func TestSeverity(t *testing.T) {
	cases := []struct {
		level string
		num   int32
	}{
		{"trace", 1}, {"DEBUG", 5}, {"dbg", 5}, {"info", 9}, {"Informational", 9}, {"notice", 10},
		{"warn", 13}, {"WARNING", 13}, {"error", 17}, {"err", 17}, {"fatal", 21}, {"panic", 21},
		{"critical", 22}, {"alert", 23}, {"emerg", 24}, {"verbose", 0},
	}
	var entries []wal.Entry
	for i, c := range cases {
		e := entry(i, "line "+c.level)
		e.Labels = ls("job", "j", "level", c.level)
		entries = append(entries, e)
	}
	fromMeta := entry(100, "meta level")
	fromMeta.Metadata = ls("level", "warn", "user", "u1")
	labelWins := entry(101, "label wins")
	labelWins.Labels = ls("job", "j", "level", "error")
	labelWins.Metadata = ls("level", "debug")
	entries = append(entries, fromMeta, labelWins, entry(102, "no level"))
	for name, r := range sendAll(t, otlp.Options{}, block("app", ls("job", "j"), entries...)) {
		recs := r.Records()
		if len(recs) != len(entries) {
			t.Fatalf("%s: %d records, want %d", name, len(recs), len(entries))
		}
		for i, c := range cases {
			check(t, name, recs[i], want{body: "line " + c.level, sevText: c.level, sevNum: c.num, time: t0 + int64(i)})
		}
		check(t, name, recs[len(cases)], want{body: "meta level", sevText: "warn", sevNum: 13, attrs: map[string]string{"user": "u1"}})
		check(t, name, recs[len(cases)+1], want{body: "label wins", sevText: "error", sevNum: 17, attrs: map[string]string{"level": "debug"}})
		check(t, name, recs[len(cases)+2], want{body: "no level"})
	}
	// Off: the label is ignored, metadata stays an attribute.
	for name, r := range sendAll(t, otlp.Options{SeverityLabel: "-"}, block("app", ls("level", "info"), fromMeta)) {
		check(t, name, r.Records()[0], want{body: "meta level", attrs: map[string]string{"level": "warn", "user": "u1"}})
	}
}

// TestBodies: a UTF-8 line is string_value byte for byte (control
// characters, quotes and all); a line that is not UTF-8 is bytes_value;
// an empty line is an empty string_value; attribute values that are not
// UTF-8 are bytes_value too.
func TestBodies(t *testing.T) {
	bad := entry(1, "caf\xe9 \xff\x00end")
	bad.Metadata = ls("raw", "\xfe\xff")
	blk := block("app", ls("job", "j"), entry(0, "plain \"quoted\" \\ \t tab \x01 ctl ünï"), bad, entry(2, ""))
	for name, r := range sendAll(t, otlp.Options{}, blk) {
		recs := r.Records()
		check(t, name, recs[0], want{body: "plain \"quoted\" \\ \t tab \x01 ctl ünï"})
		check(t, name, recs[1], want{body: "caf\xe9 \xff\x00end", bin: true, attrs: map[string]string{"raw": "bytes:feff"}})
		check(t, name, recs[2], want{body: ""})
	}
}

// TestTraceIDs: trace_id (32 hex digits) and span_id (16) from labels or
// structured metadata, either case; invalid ones (wrong length, not hex,
// all zeros) are not sent as ids, and one from metadata stays an attribute.
func TestTraceIDs(t *testing.T) {
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	const sid = "00f067aa0ba902b7"
	fromLabels := entry(0, "labels")
	fromLabels.Labels = ls("job", "j", "trace_id", tid, "span_id", sid)
	fromMeta := entry(1, "meta")
	fromMeta.Metadata = ls("trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736", "span_id", sid)
	short := entry(2, "short")
	short.Metadata = ls("trace_id", tid[:31], "span_id", "zz"+sid[2:])
	zero := entry(3, "zero")
	zero.Labels = ls("job", "j", "trace_id", "00000000000000000000000000000000")
	for name, r := range sendAll(t, otlp.Options{}, block("app", ls("job", "j"), fromLabels, fromMeta, short, zero)) {
		recs := r.Records()
		check(t, name, recs[0], want{body: "labels", trace: tid, span: sid})
		check(t, name, recs[1], want{body: "meta", trace: tid, span: sid})
		check(t, name, recs[2], want{body: "short", attrs: map[string]string{"trace_id": tid[:31], "span_id": "zz" + sid[2:]}})
		check(t, name, recs[3], want{body: "zero"})
	}
	// Configured names.
	custom := entry(4, "custom")
	custom.Metadata = ls("tid", tid, "trace_id", tid)
	for name, r := range sendAll(t, otlp.Options{TraceIDLabel: "tid", SpanIDLabel: "-"},
		block("app", ls("span_id", sid), custom)) {
		check(t, name, r.Records()[0], want{body: "custom", trace: tid, attrs: map[string]string{"trace_id": tid}})
	}
}

// TestAttributes: structured metadata becomes log attributes; labels
// become attributes only when a mapping names them (first present of a
// list wins); labels starting with "__" (the tenant) never appear; a
// metadata key that a label attribute has already is dropped and counted.
func TestAttributes(t *testing.T) {
	e := entry(0, "x")
	e.Metadata = ls("user", "u1", "pod", "from-meta", "__hidden", "h")
	e2 := entry(1, "y")
	e2.Labels = ls("namespace", "prod", "container", "web", "team", "t", wal.TenantLabel, "tenant-a")
	blk := block("app", ls("namespace", "prod", "pod", "p-1", "team", "t", "job", "api", wal.TenantLabel, "tenant-a"), e, e2)
	opts := otlp.Options{
		ResourceAttributes: map[string]string{"k8s.namespace.name": "namespace", "service.name": "job"},
		Attributes:         map[string]string{"pod": "pod,container", "team.name": "team", "nothing": ""},
	}
	for name, r := range sendAll(t, opts, blk) {
		recs := r.Records()
		check(t, name, recs[0], want{body: "x", resource: map[string]string{"k8s.namespace.name": "prod", "service.name": "api"},
			attrs: map[string]string{"pod": "p-1", "team.name": "t", "user": "u1"}, dropped: 1})
		check(t, name, recs[1], want{body: "y", resource: map[string]string{"k8s.namespace.name": "prod", "service.name": "app"},
			attrs: map[string]string{"pod": "web", "team.name": "t"}})
		for _, req := range r.Requests() {
			for _, rl := range req.Message.ResourceLogs {
				for _, kv := range rl.GetResource().GetAttributes() {
					if kv.Value.GetStringValue() == "tenant-a" {
						t.Errorf("%s: the tenant label was sent as %s", name, kv.Key)
					}
				}
			}
		}
	}
}
