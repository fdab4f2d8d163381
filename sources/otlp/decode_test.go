package otlp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	collogs "go.opentelemetry.io/proto/slim/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/slim/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/slim/otlp/logs/v1"
	respb "go.opentelemetry.io/proto/slim/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/logcapturer/logcapturer/internal/otlpproto"
	"github.com/logcapturer/logcapturer/wal"
)

// flat is one decoded entry with its whole label set.
type flat struct {
	Labels string // {a="1", b="2"}
	Time   int64
	Line   string
	Meta   string
}

func labelText(ls []wal.Label) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
	}
	b.WriteByte('}')
	return b.String()
}

// flatten decodes the blocks as the WAL would read them back.
func flatten(t testing.TB, blocks []encodedBlock, source string) []flat {
	t.Helper()
	var out []flat
	for _, eb := range blocks {
		var b wal.Block
		if err := wal.DecodeBlock(eb.data, &b); err != nil {
			t.Fatalf("decode block: %v", err)
		}
		if b.Source != source || b.Position != (wal.Position{}) {
			t.Fatalf("block source %q position %+v, want %q and none", b.Source, b.Position, source)
		}
		if len(b.Entries) != eb.entries || b.Size() != eb.bytes {
			t.Fatalf("block says %d entries %d bytes, holds %d, %d", eb.entries, eb.bytes, len(b.Entries), b.Size())
		}
		for _, e := range b.Entries {
			ls := e.Labels
			if ls == nil {
				ls = b.Labels
			}
			out = append(out, flat{Labels: labelText(ls), Time: e.Time, Line: string(e.Line), Meta: labelText(e.Metadata)})
		}
	}
	return out
}

func sv(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

func marshal(t testing.TB, req *collogs.ExportLogsServiceRequest) []byte {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const now = int64(1_700_000_000_000_000_000)

func testDecoder(labels map[string]string, resource map[string]string, severity string) *decoder {
	if resource == nil {
		resource = DefaultResourceAttributes()
	}
	return newDecoder(newMapping(labels, resource, severity), "otel", blockBytes)
}

// mappingRequest exercises every rule of the mapping; mappingWant is what
// it becomes.
func mappingRequest() *collogs.ExportLogsServiceRequest {
	trace := []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	span := []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74}
	kvlist := &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
		kv("msg", sv("hi \"there\"\n")),
		kv("n", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: -3}}),
		kv("list", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
			{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}},
			{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}},
			{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0xff, 0}}},
			{},
		}}}}),
	}}}}
	return &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &respb.Resource{Attributes: []*commonpb.KeyValue{
			kv("service.name", sv("checkout")),
			kv("host.name", sv("edge-1")),
			kv("pid", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 4242}}),
			kv("shadowed", sv("by resource")),
		}},
		ScopeLogs: []*logspb.ScopeLogs{{
			Scope: &commonpb.InstrumentationScope{Name: "app/db", Version: "1.2.0", Attributes: []*commonpb.KeyValue{kv("shadowed", sv("by scope"))}},
			LogRecords: []*logspb.LogRecord{
				{
					TimeUnixNano: 1_700_000_001_000_000_001, ObservedTimeUnixNano: 1_700_000_009_000_000_000,
					SeverityText: "WARN", SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN,
					Body:       sv("disk almost full"),
					Attributes: []*commonpb.KeyValue{kv("shadowed", sv("by record")), kv("disk", sv("/dev/sda"))},
					TraceId:    trace, SpanId: span, EventName: "disk.check",
				},
				{ObservedTimeUnixNano: 1_700_000_002_000_000_000, SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_ERROR3, Body: kvlist},
				{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{'a', 0xff, 0}}}, SeverityText: "E", SeverityNumber: 17},
				{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.Inf(-1)}}},
				{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: false}}, TraceId: make([]byte, 16)},
				{},
			},
		}},
	}}}
}

var mappingWant = []flat{
	{`{app="shop", level="WARN", service_name="checkout"}`, 1_700_000_001_000_000_001, "disk almost full",
		`{disk="/dev/sda", event.name="disk.check", host.name="edge-1", otel.scope.name="app/db", otel.scope.version="1.2.0", pid="4242", shadowed="by record", span_id="eee19b7ec3c1b174", trace_id="5b8efff798038103d269b633813fc60c"}`},
	{`{app="shop", level="error", service_name="checkout"}`, 1_700_000_002_000_000_000, `{"msg":"hi \"there\"\n","n":-3,"list":[true,1.5,"/wA=",null]}`,
		`{host.name="edge-1", otel.scope.name="app/db", otel.scope.version="1.2.0", pid="4242", severity_number="19", shadowed="by scope"}`},
	{`{app="shop", level="E", service_name="checkout"}`, now, "a\xff\x00",
		`{host.name="edge-1", otel.scope.name="app/db", otel.scope.version="1.2.0", pid="4242", severity_number="17", shadowed="by scope"}`},
	// Records without a time: the receive time, each 1 ns after the one
	// before (sources.EntryClock).
	{`{app="shop", service_name="checkout"}`, now + 1, "-Infinity",
		`{host.name="edge-1", otel.scope.name="app/db", otel.scope.version="1.2.0", pid="4242", shadowed="by scope"}`},
	{`{app="shop", service_name="checkout"}`, now + 2, "false",
		`{host.name="edge-1", otel.scope.name="app/db", otel.scope.version="1.2.0", pid="4242", shadowed="by scope"}`},
	{`{app="shop", service_name="checkout"}`, now + 3, "",
		`{host.name="edge-1", otel.scope.name="app/db", otel.scope.version="1.2.0", pid="4242", shadowed="by scope"}`},
}

func TestDecodeMapping(t *testing.T) {
	d := testDecoder(map[string]string{"app": "shop"}, nil, DefaultSeverityLabel)
	blocks, err := d.decode(marshal(t, mappingRequest()), now)
	if err != nil {
		t.Fatal(err)
	}
	checkFlat(t, flatten(t, blocks, "otel"), mappingWant)
}

func checkFlat(t *testing.T, got, want []flat) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// TestDecodeFieldOrder: a ResourceLogs whose resource comes after its
// scope logs, and a ScopeLogs whose scope comes after its records (valid
// protobuf: fields in any order), map as if in order.
func TestDecodeFieldOrder(t *testing.T) {
	req := mappingRequest()
	rl := req.ResourceLogs[0]
	sl := rl.ScopeLogs[0]
	slRecords := marshalMsg(t, &logspb.ScopeLogs{LogRecords: sl.LogRecords})
	slScope := marshalMsg(t, &logspb.ScopeLogs{Scope: sl.Scope})
	scopeLogs := append(slRecords, slScope...) // concatenated messages merge
	var rlb []byte
	rlb = appendField(rlb, otlpproto.RLScopeLogs, scopeLogs)
	rlb = append(rlb, marshalMsg(t, &logspb.ResourceLogs{Resource: rl.Resource})...)
	body := appendField(nil, otlpproto.RequestResourceLogs, rlb)

	d := testDecoder(map[string]string{"app": "shop"}, nil, DefaultSeverityLabel)
	blocks, err := d.decode(body, now)
	if err != nil {
		t.Fatal(err)
	}
	checkFlat(t, flatten(t, blocks, "otel"), mappingWant)
}

func marshalMsg(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func appendField(dst []byte, num int, v []byte) []byte {
	dst = append(dst, byte(num<<3|2))
	for n := uint64(len(v)); ; n >>= 7 {
		if n < 0x80 {
			dst = append(dst, byte(n))
			break
		}
		dst = append(dst, byte(n)|0x80)
	}
	return append(dst, v...)
}

// TestDecodeOptions: a resource mapping of several attributes, a static
// label a resource attribute overrides, severity kept as metadata.
func TestDecodeOptions(t *testing.T) {
	d := testDecoder(map[string]string{"service_name": "static", "env": "prod"},
		map[string]string{"service.name": "service_name", "host.name": "host", "absent": "nothing"}, Off)
	blocks, err := d.decode(marshal(t, mappingRequest()), now)
	if err != nil {
		t.Fatal(err)
	}
	got := flatten(t, blocks, "otel")
	if got[0].Labels != `{env="prod", host="edge-1", service_name="checkout"}` {
		t.Errorf("labels %s", got[0].Labels)
	}
	if !strings.Contains(got[0].Meta, `level="WARN"`) || strings.Contains(got[0].Meta, "host.name") {
		t.Errorf("metadata %s: want level, no host.name", got[0].Meta)
	}
}

// TestDecodeBlocks: a large request is cut into blocks of about
// blockBytes of lines, every record kept in order, labels per entry where
// the resource changes.
func TestDecodeBlocks(t *testing.T) {
	line := strings.Repeat("x", 200)
	req := &collogs.ExportLogsServiceRequest{}
	for r := 0; r < 3; r++ {
		sl := &logspb.ScopeLogs{}
		for i := 0; i < 1000; i++ {
			sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{TimeUnixNano: uint64(now + int64(r*1000+i)), Body: sv(line)})
		}
		req.ResourceLogs = append(req.ResourceLogs, &logspb.ResourceLogs{
			Resource:  &respb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", sv(fmt.Sprint("svc", r)))}},
			ScopeLogs: []*logspb.ScopeLogs{sl},
		})
	}
	d := testDecoder(nil, nil, DefaultSeverityLabel)
	blocks, err := d.decode(marshal(t, req), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 9 || len(blocks) > 10 {
		t.Errorf("%d blocks for 600 KB of lines, want about 600/64", len(blocks))
	}
	for _, b := range blocks[:len(blocks)-1] {
		if b.bytes < blockBytes || b.bytes > blockBytes+len(line) {
			t.Errorf("block of %d line bytes", b.bytes)
		}
	}
	got := flatten(t, blocks, "otel")
	if len(got) != 3000 {
		t.Fatalf("%d entries", len(got))
	}
	for i, e := range got {
		if e.Time != now+int64(i) || e.Labels != fmt.Sprintf(`{service_name="svc%d"}`, i/1000) {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	// The decoder is reused: a second request gives the same.
	blocks, err = d.decode(marshal(t, req), now)
	if err != nil || len(flatten(t, blocks, "otel")) != 3000 {
		t.Fatalf("second decode: %v", err)
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := marshal(t, mappingRequest())
	deep := sv("leaf")
	for i := 0; i < maxDepth+1; i++ {
		deep = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{deep}}}}
	}
	one := func(r *logspb.LogRecord) []byte {
		return marshal(t, &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{r}}}}}})
	}
	cases := map[string]struct {
		body []byte
		want string
	}{
		"truncated":       {good[:len(good)-3], "unexpected EOF"},
		"bad tag":         {[]byte{0x0f}, "malformed"},
		"bad length":      {[]byte{0x0a, 0x7f, 1}, "malformed"},
		"short trace id":  {one(&logspb.LogRecord{TraceId: []byte{1, 2, 3}}), "log_records[0]: trace_id: 3 bytes, want 16"},
		"long span id":    {one(&logspb.LogRecord{SpanId: make([]byte, 9)}), ""},
		"nested too deep": {one(&logspb.LogRecord{Body: deep}), "nested deeper than 64"},
	}
	// An all-zero span id of the wrong length is no id: only a non-zero
	// one must have the right length.
	cases["long span id"] = struct {
		body []byte
		want string
	}{one(&logspb.LogRecord{SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}}), "span_id: 9 bytes, want 8"}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := testDecoder(nil, nil, DefaultSeverityLabel)
			blocks, err := d.decode(c.body, now)
			if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want errMalformed with %q", err, c.want)
			}
			if blocks != nil {
				t.Fatalf("blocks returned with the error")
			}
		})
	}
}

// TestDecodeEmpty: an empty request and a request of empty messages make
// no block and no error.
func TestDecodeEmpty(t *testing.T) {
	d := testDecoder(nil, nil, DefaultSeverityLabel)
	for _, body := range [][]byte{nil, marshal(t, &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{}}}}})} {
		blocks, err := d.decode(body, now)
		if err != nil || len(blocks) != 0 {
			t.Fatalf("decode %x: %d blocks, %v", body, len(blocks), err)
		}
	}
}

// TestDecodeUnknownFields: fields this receiver does not know (newer
// OTLP, schema_url, flags, dropped counts) are skipped.
func TestDecodeUnknownFields(t *testing.T) {
	req := &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		SchemaUrl: "https://opentelemetry.io/schemas/1.0",
		Resource:  &respb.Resource{DroppedAttributesCount: 3},
		ScopeLogs: []*logspb.ScopeLogs{{SchemaUrl: "x", LogRecords: []*logspb.LogRecord{{Flags: 1, DroppedAttributesCount: 2, Body: sv("ok")}}}},
	}}}
	body := append(marshal(t, req), 0xf8, 0x07, 0x01) // field 127, varint
	d := testDecoder(nil, nil, DefaultSeverityLabel)
	blocks, err := d.decode(body, now)
	if err != nil {
		t.Fatal(err)
	}
	checkFlat(t, flatten(t, blocks, "otel"), []flat{{"{}", now, "ok", "{}"}})
}

func TestAppendFloatNaN(t *testing.T) {
	if !bytes.Equal(appendFloat(nil, math.NaN()), []byte(`"NaN"`)) {
		t.Fatal("NaN")
	}
}
