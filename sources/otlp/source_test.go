package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// emitter keeps every entry of the records it is given (as the WAL reads
// them back). hold keeps the completions for the test to fire; otherwise
// each completes at once, durable. full makes WALFull true.
type emitter struct {
	mu      sync.Mutex
	entries []flat
	pending []func(error)
	hold    bool
	full    bool
}

func (e *emitter) Emit(_ context.Context, rec sources.Record) error {
	var b wal.Block
	if err := wal.DecodeBlock(rec.Data, &b); err != nil {
		return err
	}
	e.mu.Lock()
	for _, en := range b.Entries {
		ls := en.Labels
		if ls == nil {
			ls = b.Labels
		}
		e.entries = append(e.entries, flat{Labels: labelText(ls), Time: en.Time, Line: string(en.Line), Meta: labelText(en.Metadata)})
	}
	hold := e.hold
	if hold {
		e.pending = append(e.pending, rec.Done)
	}
	e.mu.Unlock()
	if !hold {
		rec.Done(nil)
	}
	return nil
}

func (e *emitter) WALFull() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.full
}

func (e *emitter) got() []flat {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]flat(nil), e.entries...)
}

func (e *emitter) release(err error) int {
	e.mu.Lock()
	p := e.pending
	e.pending = nil
	e.mu.Unlock()
	for _, done := range p {
		done(err)
	}
	return len(p)
}

// startSource starts an otlp source on 127.0.0.1:0 named "otel" with the
// label app=shop; it is closed when the test ends.
func startSource(t *testing.T, c *Config, em sources.Emitter) string {
	t.Helper()
	if c == nil {
		c = NewConfig()
	}
	c.ListenAddress = "127.0.0.1:0"
	src, err := c.Open(sources.Deps{Name: "otel", Labels: map[string]string{"app": "shop"}, Emitter: em})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return "http://" + src.(*Source).Addr().String() + LogsPath
}

// syncProcessor exports every record at once and keeps the exporter's
// errors: the test sees what the official exporter made of each answer.
type syncProcessor struct {
	exp  sdklog.Exporter
	mu   sync.Mutex
	errs []error
}

func (p *syncProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *syncProcessor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	err := p.exp.Export(ctx, []sdklog.Record{*r})
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
	return err
}
func (p *syncProcessor) Shutdown(ctx context.Context) error   { return p.exp.Shutdown(ctx) }
func (p *syncProcessor) ForceFlush(ctx context.Context) error { return nil }

func (p *syncProcessor) lastErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs[len(p.errs)-1]
}

// exporterLogger returns a logger of the official SDK exporting to url
// through otlploghttp, with the resource service.name=checkout,
// host.name=edge-1, and the processor that sees the errors.
func exporterLogger(t *testing.T, url string, opts ...otlploghttp.Option) (otellog.Logger, *syncProcessor) {
	t.Helper()
	opts = append([]otlploghttp.Option{otlploghttp.WithEndpointURL(url), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false})}, opts...)
	exp, err := otlploghttp.New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	p := &syncProcessor{exp: exp}
	res := resource.NewSchemaless(attribute.String("service.name", "checkout"), attribute.String("host.name", "edge-1"))
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(p))
	t.Cleanup(func() { lp.Shutdown(context.Background()) })
	return lp.Logger("app/db", otellog.WithInstrumentationVersion("1.2.0")), p
}

// TestExporter: records exported by the official Go OTLP log exporter
// (protobuf, gzip) become the entries the mapping says, and the exporter
// takes the answer as a success.
func TestExporter(t *testing.T) {
	for _, gz := range []bool{false, true} {
		em := &emitter{}
		url := startSource(t, nil, em)
		var opts []otlploghttp.Option
		if gz {
			opts = append(opts, otlploghttp.WithCompression(otlploghttp.GzipCompression))
		}
		logger, p := exporterLogger(t, url, opts...)
		ts := time.Unix(1_700_000_001, 1)
		var r otellog.Record
		r.SetTimestamp(ts)
		r.SetObservedTimestamp(ts.Add(time.Second))
		r.SetSeverity(otellog.SeverityWarn)
		r.SetSeverityText("WARN")
		r.SetBody(attribute.StringValue("disk almost full"))
		r.AddAttributes(attribute.String("disk", "/dev/sda"), attribute.Int64("free_mb", 12))
		ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c},
			SpanID:  trace.SpanID{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74}, TraceFlags: trace.FlagsSampled,
		}))
		logger.Emit(ctx, r)
		var r2 otellog.Record
		r2.SetObservedTimestamp(ts.Add(2 * time.Second))
		r2.SetBody(attribute.MapValue(attribute.String("msg", "structured"), attribute.Int("n", 3)))
		r2.SetEventName("db.query")
		logger.Emit(context.Background(), r2)
		if err := p.lastErr(); err != nil {
			t.Fatalf("gzip %v: exporter: %v", gz, err)
		}
		checkFlat(t, em.got(), []flat{
			{`{app="shop", level="WARN", service_name="checkout"}`, ts.UnixNano(), "disk almost full",
				`{disk="/dev/sda", free_mb="12", host.name="edge-1", otel.scope.name="app/db", otel.scope.version="1.2.0", span_id="eee19b7ec3c1b174", trace_id="5b8efff798038103d269b633813fc60c"}`},
			{`{app="shop", service_name="checkout"}`, ts.Add(2 * time.Second).UnixNano(), `{"msg":"structured","n":3}`,
				`{event.name="db.query", host.name="edge-1", otel.scope.name="app/db", otel.scope.version="1.2.0"}`},
		})
	}
}

type answer struct {
	code        int
	contentType string
	retryAfter  string
	body        []byte
}

func post(t *testing.T, url string, body []byte, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), retryAfter: resp.Header.Get("Retry-After"), body: b}
}

// rpcStatus decodes a protobuf google.rpc.Status: code and message.
func rpcStatus(t *testing.T, b []byte) (int, string) {
	t.Helper()
	var code int
	var msg string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("status: %x", b)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			code, n = int(v), m
		case num == 2 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			msg, n = string(v), m
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			t.Fatalf("status: %x", b)
		}
		b = b[n:]
	}
	return code, msg
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestRawRequests: what OTLP/HTTP says of each answer, in the request's
// encoding, and that nothing refused reaches the emitter.
func TestRawRequests(t *testing.T) {
	em := &emitter{}
	c := NewConfig()
	c.BearerToken = "s3cret"
	c.MaxRequestBytes = 64 << 10
	url := startSource(t, c, em)
	pb := marshal(t, mappingRequest())
	js := otlpJSON(t, false)
	auth := []string{"Authorization", "Bearer s3cret"}
	with := func(h ...string) []string { return append(append([]string(nil), auth...), h...) }

	start := time.Now().UnixNano()
	a := post(t, url, pb, with("Content-Type", contentProtobuf)...)
	if a.code != 200 || a.contentType != contentProtobuf || len(a.body) != 0 {
		t.Fatalf("protobuf: %d %q %x, want 200, an empty ExportLogsServiceResponse", a.code, a.contentType, a.body)
	}
	a = post(t, url, js, with("Content-Type", "application/json; charset=utf-8")...)
	if a.code != 200 || a.contentType != contentJSON || string(a.body) != "{}" {
		t.Fatalf("json: %d %q %s", a.code, a.contentType, a.body)
	}
	a = post(t, url, gzipped(pb), with("Content-Type", contentProtobuf, "Content-Encoding", "gzip")...)
	if a.code != 200 {
		t.Fatalf("gzip: %d %s", a.code, a.body)
	}
	end := time.Now().UnixNano()
	// Entries without a time of their own take the time the request was
	// received, each 1 ns after the one before: between start and end,
	// shown as the test's "now" plus their rank in their request.
	got := em.got()
	var last int64
	k := int64(0)
	for i := range got {
		if got[i].Time >= start && got[i].Time <= end+16 {
			if got[i].Time <= last {
				t.Errorf("entry %d at %d, not after the one before (%d)", i, got[i].Time, last)
			}
			last = got[i].Time
			got[i].Time = now + k%4
			k++
		}
	}
	checkFlat(t, got, append(append(append([]flat(nil), mappingWant...), mappingWant...), mappingWant...))

	refused := []struct {
		name   string
		body   []byte
		hdr    []string
		code   int
		rpc    int
		json   bool
		reason string
	}{
		{"no token", pb, []string{"Content-Type", contentProtobuf}, 401, 16, false, "unauthorized"},
		{"bad protobuf", pb[:len(pb)-3], with("Content-Type", contentProtobuf), 400, 3, false, "unexpected EOF"},
		{"bad trace id", pbShortTrace(t), with("Content-Type", contentProtobuf), 400, 3, false, "resource_logs[0]: scope_logs[0]: log_records[0]: trace_id: 3 bytes, want 16"},
		{"bad json", []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":true}]}]}]}`), with("Content-Type", contentJSON), 400, 3, true, "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: want an integer"},
		{"content type", pb, with("Content-Type", "text/plain"), 415, 3, false, "want application/x-protobuf or application/json"},
		{"too large", bytes.Repeat([]byte{0}, 65<<10), with("Content-Type", contentProtobuf), 413, 3, false, "max_request_bytes"},
	}
	for _, r := range refused {
		a := post(t, url, r.body, r.hdr...)
		if a.code != r.code {
			t.Errorf("%s: %d %s, want %d", r.name, a.code, a.body, r.code)
			continue
		}
		var code int
		var msg string
		if r.json {
			if a.contentType != contentJSON {
				t.Errorf("%s: Content-Type %q", r.name, a.contentType)
			}
			code, msg = jsonStatus(t, a.body)
		} else {
			if a.contentType != contentProtobuf {
				t.Errorf("%s: Content-Type %q", r.name, a.contentType)
			}
			code, msg = rpcStatus(t, a.body)
		}
		if code != r.rpc || !strings.Contains(msg, r.reason) {
			t.Errorf("%s: Status{%d, %q}, want code %d and %q", r.name, code, msg, r.rpc, r.reason)
		}
	}
	if n := len(em.got()); n != 3*len(mappingWant) {
		t.Fatalf("refused requests reached the emitter: %d entries", n)
	}

	// The official exporter reads the Status: its error names the reason.
	logger, p := exporterLogger(t, url)
	var r otellog.Record
	r.SetBody(attribute.StringValue("x"))
	logger.Emit(context.Background(), r)
	if err := p.lastErr(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("exporter without the token: %v, want a 401", err)
	}
}

func pbShortTrace(t *testing.T) []byte {
	req := mappingRequest()
	req.ResourceLogs[0].ScopeLogs[0].LogRecords[0].TraceId = []byte{1, 2, 3}
	return marshal(t, req)
}

func jsonStatus(t *testing.T, b []byte) (int, string) {
	t.Helper()
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("status %s: %v", b, err)
	}
	return st.Code, st.Message
}

// TestDurableBeforeOK: the answer waits for every record's completion:
// no 200 while one is pending; a failed completion is a 503 the exporter
// retries.
func TestDurableBeforeOK(t *testing.T) {
	em := &emitter{hold: true}
	url := startSource(t, nil, em)
	pb := marshal(t, mappingRequest())
	ch := make(chan answer, 1)
	go func() { ch <- post(t, url, pb, "Content-Type", contentProtobuf) }()
	waitFor(t, "the records emitted", func() bool { return len(em.got()) == len(mappingWant) })
	select {
	case a := <-ch:
		t.Fatalf("answered %d before the records were durable", a.code)
	case <-time.After(100 * time.Millisecond):
	}
	em.release(nil)
	if a := <-ch; a.code != 200 {
		t.Fatalf("after the completions: %d %s", a.code, a.body)
	}

	go func() { ch <- post(t, url, pb, "Content-Type", contentProtobuf) }()
	waitFor(t, "the records emitted", func() bool { return len(em.got()) == 2*len(mappingWant) })
	em.release(wal.ErrClosed)
	a := <-ch
	code, msg := rpcStatus(t, a.body)
	if a.code != 503 || a.retryAfter == "" || code != 14 || !strings.Contains(msg, "not durable") {
		t.Fatalf("failed completion: %d Retry-After %q Status{%d %q}, want 503 UNAVAILABLE", a.code, a.retryAfter, code, msg)
	}
}

// TestWALFull: a full WAL under full_policy block is 429 with Retry-After,
// before the body is read.
func TestWALFull(t *testing.T) {
	em := &emitter{full: true}
	url := startSource(t, nil, em)
	a := post(t, url, marshal(t, mappingRequest()), "Content-Type", contentProtobuf)
	code, _ := rpcStatus(t, a.body)
	if a.code != 429 || a.retryAfter == "" || code != 8 {
		t.Fatalf("%d Retry-After %q rpc %d, want 429 with Retry-After, RESOURCE_EXHAUSTED", a.code, a.retryAfter, code)
	}
	if len(em.got()) != 0 {
		t.Fatal("entries emitted into a full WAL")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

const checkHead = "sources:\n  - name: otel\n    type: otlp\n"

// TestCheck: problems at their lines, and a mapping that names nothing
// is a warning.
func TestCheck(t *testing.T) {
	parse := func(src string) (*config.Config, error) {
		return config.ParseWith("o.yaml", []byte(checkHead+src+"sinks: [{name: out, type: stdout}]\n"), &config.ParseOptions{SkipDirCheck: true,
			SinkTypes: []config.SinkType{{Name: "stdout"}}, SourceTypes: []config.SourceType{SourceType()}})
	}
	c, err := parse("")
	if err != nil {
		t.Fatal(err)
	}
	o := c.Sources[0].Options.(*Config)
	if o.ListenAddress != DefaultListenAddress || o.severity() != "level" || o.resource()["service.name"] != "service_name" {
		t.Fatalf("defaults: %+v", o)
	}
	c, err = parse("    resource_attributes: {service.name: \"\", host.name: host}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || c.Warnings[0].Line != 4 || !strings.Contains(c.Warnings[0].Msg, "names no label") {
		t.Fatalf("warnings %v", c.Warnings)
	}
	c, err = parse("    resource_attributes: {}\n")
	if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Msg, "maps no attribute") {
		t.Fatalf("empty mapping: %v %v", err, c.Warnings)
	}
	_, err = parse("    resource_attributes: {service.name: service-name, host.name: level}\n")
	for _, want := range []string{"o.yaml:4: sources[0].resource_attributes.host.name: label \"level\"", "sources[0].resource_attributes.service.name: must be a label name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want %q", err, want)
		}
	}
	_, err = parse("    severity_label: 1x\n")
	if want := "o.yaml:4: sources[0].severity_label: must be a label name"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err %v, want %q", err, want)
	}
}
