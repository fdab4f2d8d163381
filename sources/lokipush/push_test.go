package lokipush

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/wal"
)

func l(kv ...string) []wal.Label {
	var out []wal.Label
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, wal.Label{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// TestPromtailProtobufPush reproduces the Promtail client: a protobuf
// PushRequest built with Loki's own types, snappy, X-Scope-OrgID. Every
// entry reaches the sink with its stream labels, the configured labels
// (over pushed ones), the tenant as __tenant_id__, its structured
// metadata and its own timestamp; labels starting with __ are dropped.
func TestPromtailProtobufPush(t *testing.T) {
	c := NewConfig()
	c.UseIncomingTimestamp = true
	e := newEnv(t, c, map[string]string{"env": "edge", "job": "configured"}, pipeline.Options{}, nil)
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	req := &push.PushRequest{Streams: []push.Stream{
		{Labels: `{job="app", __hidden="x", pod="p-1"}`, Entries: []push.Entry{
			{Timestamp: t0, Line: "first", StructuredMetadata: push.LabelsAdapter{{Name: "trace_id", Value: "abc"}, {Name: "a", Value: "1"}}},
			{Timestamp: t0.Add(time.Millisecond), Line: "second\x00bytes"},
		}},
		{Labels: `{app="other", quote="a\"b\\c"}`, Entries: []push.Entry{{Timestamp: t0.Add(time.Second), Line: "third"}}},
	}}
	if a := pushProto(t, e.url, req, "X-Scope-OrgID", "team-a"); a.code != http.StatusNoContent {
		t.Fatalf("push: %d %q", a.code, a.body)
	}
	// 204 means durable: the entries are in the WAL now, so the sink gets them.
	waitFor(t, "3 entries at the sink", func() bool { return len(e.sink.all()) == 3 })
	want := []got{
		{Labels: l("__tenant_id__", "team-a", "env", "edge", "job", "configured", "pod", "p-1"), Time: t0.UnixNano(), Line: "first",
			Metadata: l("a", "1", "trace_id", "abc")},
		{Labels: l("__tenant_id__", "team-a", "env", "edge", "job", "configured", "pod", "p-1"), Time: t0.UnixNano() + 1e6, Line: "second\x00bytes"},
		{Labels: l("__tenant_id__", "team-a", "app", "other", "env", "edge", "job", "configured", "quote", `a"b\c`), Time: t0.UnixNano() + 1e9, Line: "third"},
	}
	gotAll := e.sink.all()
	for i := range want {
		g := gotAll[i]
		if !slices.Equal(g.Labels, want[i].Labels) || g.Time != want[i].Time || g.Line != want[i].Line || !slices.Equal(g.Metadata, want[i].Metadata) {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
	st := e.src.Push()
	if st.LastPush == nil || len(st.Clients) != 1 || st.Clients[0].Entries != 3 {
		t.Fatalf("status %+v", st)
	}
	resp, err := http.Get("http://" + e.src.Addr().String() + ReadyPath)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/ready: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestReceiveTime: without use_incoming_timestamp every entry of a push
// has the time it was received, as Promtail's push target does, each 1 ns
// after the one before: two equal lines of a stream with one time would
// be stored once by Loki (Promtail stamps each entry as it takes it).
func TestReceiveTime(t *testing.T) {
	e := newEnv(t, nil, nil, pipeline.Options{}, nil)
	before := time.Now().UnixNano()
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	req := &push.PushRequest{Streams: []push.Stream{{Labels: `{job="a"}`, Entries: []push.Entry{
		{Timestamp: old, Line: "x"}, {Timestamp: old, Line: "same"}, {Timestamp: old, Line: "same"}}}}}
	if a := pushProto(t, e.url, req); a.code != 204 {
		t.Fatalf("push: %+v", a)
	}
	after := time.Now().UnixNano()
	waitFor(t, "entries", func() bool { return len(e.sink.all()) == 3 })
	var last int64
	for _, g := range e.sink.all() {
		if g.Time < before || g.Time > after+3 {
			t.Fatalf("entry time %d not the receive time (%d..%d)", g.Time, before, after)
		}
		if g.Time <= last {
			t.Errorf("entry %q at %d, not after the one before (%d)", g.Line, g.Time, last)
		}
		last = g.Time
	}
}

// TestJSONPush: Loki's JSON push, plain and gzip, with structured
// metadata as the third element of a value.
func TestJSONPush(t *testing.T) {
	c := NewConfig()
	c.UseIncomingTimestamp = true
	e := newEnv(t, c, nil, pipeline.Options{}, nil)
	body := `{"streams":[{"stream":{"job":"j","host":"h"},"values":[["1700000000000000001","plain"],["1700000000000000002","with meta",{"user":"u1"}]]}]}`
	if a := postRaw(t, e.url, []byte(body), "Content-Type", "application/json"); a.code != 204 {
		t.Fatalf("json: %+v", a)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"streams":[{"stream":{"job":"z"},"values":[["1700000000000000003","zipped"]]}]}`))
	zw.Close()
	if a := postRaw(t, e.url, gz.Bytes(), "Content-Type", "application/json; charset=utf-8", "Content-Encoding", "gzip"); a.code != 204 {
		t.Fatalf("gzip json: %+v", a)
	}
	waitFor(t, "3 entries", func() bool { return len(e.sink.all()) == 3 })
	g := e.sink.all()
	if g[0].Line != "plain" || g[0].Time != 1700000000000000001 || !slices.Equal(g[0].Labels, l("host", "h", "job", "j")) {
		t.Errorf("entry 0: %+v", g[0])
	}
	if g[1].Line != "with meta" || !slices.Equal(g[1].Metadata, l("user", "u1")) {
		t.Errorf("entry 1: %+v", g[1])
	}
	if g[2].Line != "zipped" || !slices.Equal(g[2].Labels, l("job", "z")) {
		t.Errorf("entry 2: %+v", g[2])
	}
}

// TestBadRequests: bad labels are 400 naming the label (the push's other
// streams are kept, as Loki and Promtail do); a body that is not a push
// is 400 with the reason and nothing is kept; a bad tenant is 400.
func TestBadRequests(t *testing.T) {
	e := newEnv(t, nil, nil, pipeline.Options{}, nil)
	good := push.Stream{Labels: `{job="ok"}`, Entries: []push.Entry{{Timestamp: time.Now(), Line: "kept"}}}
	for name, tc := range map[string]struct {
		labels string
		want   string
	}{
		"name":      {`{foo-bar="x"}`, `"foo-bar"`},
		"digit":     {`{1abc="x"}`, `"1abc"`},
		"duplicate": {`{a="x", a="y"}`, `duplicate label name "a"`},
		"syntax":    {`job="x"`, `must start with '{'`},
		"no labels": {`{}`, `has no labels`},
	} {
		req := &push.PushRequest{Streams: []push.Stream{good, {Labels: tc.labels, Entries: []push.Entry{{Timestamp: time.Now(), Line: "refused"}}}}}
		a := pushProto(t, e.url, req)
		if a.code != 400 || !strings.Contains(a.body, tc.want) {
			t.Errorf("%s: %d %q, want 400 containing %s", name, a.code, a.body, tc.want)
		}
	}
	if a := postRaw(t, e.url, []byte(`{"streams":[{"stream":{"bad.name":"v"},"values":[["1","x"]]}]}`), "Content-Type", "application/json"); a.code != 400 || !strings.Contains(a.body, `"bad.name"`) {
		t.Errorf("json bad label: %+v", a)
	}
	for name, body := range map[string][]byte{
		"not snappy":   []byte("\xff\xff\xff\xff\xffnot snappy"),
		"not protobuf": snappyOf([]byte{0x0a, 0xff, 0x01}),
		"not json":     []byte(`{"streams":[`),
	} {
		ct := "application/x-protobuf"
		if name == "not json" {
			ct = "application/json"
		}
		if a := postRaw(t, e.url, body, "Content-Type", ct); a.code != 400 || a.body == "" {
			t.Errorf("%s: %+v", name, a)
		}
	}
	req := &push.PushRequest{Streams: []push.Stream{good}}
	if a := pushProto(t, e.url, req, "X-Scope-OrgID", "a|b"); a.code != 400 || !strings.Contains(a.body, "several tenants") {
		t.Errorf("two tenants: %+v", a)
	}
	waitFor(t, "the good streams", func() bool { return len(e.sink.all()) == 5 })
	for _, g := range e.sink.all() {
		if g.Line != "kept" {
			t.Fatalf("a refused entry reached the sink: %+v", g)
		}
	}
}

// TestRequestTooLarge: a body over max_request_bytes is 413, as sent or
// once decompressed.
func TestRequestTooLarge(t *testing.T) {
	c := NewConfig()
	c.MaxRequestBytes = 4 << 10
	e := newEnv(t, c, nil, pipeline.Options{}, nil)
	big := &push.PushRequest{Streams: []push.Stream{{Labels: `{job="a"}`, Entries: []push.Entry{{Timestamp: time.Now(), Line: strings.Repeat("a", 64<<10)}}}}}
	if a := pushProto(t, e.url, big); a.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("decompressed too large: %+v", a)
	}
	if a := postRaw(t, e.url, bytes.Repeat([]byte("x"), 8<<10)); a.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("sent too large: %+v", a)
	}
}

// TestFullWALIs429: under full_policy block with the sink down, the WAL
// reaches wal.max_bytes; then a push is answered 429 with Retry-After,
// at once, and nothing more is appended.
func TestFullWALIs429(t *testing.T) {
	sink := &captureSink{block: true}
	e := newEnv(t, nil, nil, pipeline.Options{SegmentSize: 32 << 10, MaxBytes: 96 << 10, FullPolicy: pipeline.FullBlock}, sink)
	line := strings.Repeat("x", 8<<10)
	var codes []int
	for i := 0; i < 64; i++ {
		req := &push.PushRequest{Streams: []push.Stream{{Labels: `{job="a"}`, Entries: []push.Entry{{Timestamp: time.Now(), Line: fmt.Sprint(i, line)}}}}}
		start := time.Now()
		a := pushProto(t, e.url, req)
		codes = append(codes, a.code)
		if a.code == http.StatusTooManyRequests {
			if a.retryAfter == "" || !strings.Contains(a.body, "wal is full") {
				t.Fatalf("429 without Retry-After or reason: %+v", a)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("the 429 took %s", d)
			}
			if !e.p.WALFull() {
				t.Fatal("429 while the wal is not full")
			}
			return
		}
		if a.code != 204 {
			t.Fatalf("push %d: %+v", i, a)
		}
	}
	t.Fatalf("never 429: %v", codes)
}

// TestIgnoreTenantHeader: with ignore_tenant_header (what convert writes
// for a Promtail push target) the pushed X-Scope-OrgID is not the
// entries' tenant, not even a malformed one: Promtail's handleLoki only
// parses the request with it, and the client's tenant_id applies.
func TestIgnoreTenantHeader(t *testing.T) {
	c := NewConfig()
	c.IgnoreTenantHeader = true
	e := newEnv(t, c, nil, pipeline.Options{}, nil)
	req := &push.PushRequest{Streams: []push.Stream{{Labels: `{job="a"}`, Entries: []push.Entry{{Timestamp: time.Now(), Line: "x"}}}}}
	for _, tenant := range []string{"edge-team", "a|b"} {
		if a := pushProto(t, e.url, req, "X-Scope-OrgID", tenant); a.code != http.StatusNoContent {
			t.Fatalf("push with tenant %q: %d %q", tenant, a.code, a.body)
		}
	}
	waitFor(t, "entries", func() bool { return len(e.sink.all()) == 2 })
	for _, g := range e.sink.all() {
		if want := l("job", "a"); !slices.Equal(g.Labels, want) {
			t.Errorf("labels %v, want %v", g.Labels, want)
		}
	}
}
