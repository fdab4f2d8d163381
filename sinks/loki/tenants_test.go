package loki_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/wal"
)

// staged returns a batch as processing stages make it, through the WAL
// codec (so entries share label slices as the decoder hands them out):
// block labels {filename, job}; entries that add a level label, change
// job, move to tenant team-a or team-b (__tenant_id__, never sent), carry
// structured metadata (one clashing with filename, which the sink's
// structured_metadata option moves out of the labels).
func staged(t testing.TB) []wal.Block {
	t.Helper()
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano()
	block := lbl("filename", "/var/log/a.log", "job", "app")
	withLevel := lbl("filename", "/var/log/a.log", "job", "app", "level", "error")
	teamA := lbl(wal.TenantLabel, "team-a", "filename", "/var/log/a.log", "job", "app")
	teamB := lbl(wal.TenantLabel, "team-b", "filename", "/var/log/a.log", "job", "other")
	in := wal.Block{Source: "app", Labels: block, Entries: []wal.Entry{
		{Time: base, Line: []byte("plain")},
		{Time: base + 1, Line: []byte("level"), Labels: withLevel},
		{Time: base + 2, Line: []byte("a1"), Labels: teamA, Metadata: lbl("trace_id", "t1")},
		{Time: base + 3, Line: []byte("b1"), Labels: teamB},
		{Time: base + 4, Line: []byte("a2"), Labels: teamA, Metadata: lbl("filename", "override", "trace_id", "t2")},
		{Time: base + 5, Line: []byte("level again"), Labels: withLevel, Metadata: lbl("__hidden", "x", "empty", "")},
		{Time: base + 6, Line: []byte("b2"), Labels: teamB},
	}}
	var out wal.Block
	if err := wal.DecodeBlock(wal.EncodeBlock(nil, &in), &out); err != nil {
		t.Fatal(err)
	}
	return []wal.Block{out}
}

// wantStaged is what Loki must receive for staged(t) from a sink with
// tenant_id "dflt" and structured_metadata [filename], in arrival order.
func wantStaged(blocks []wal.Block) []lokitest.Entry {
	base := blocks[0].Entries[0].Time
	sel := lokitest.Labels(kv("job", "app"))
	lvl := lokitest.Labels(kv("job", "app"), kv("level", "error"))
	oth := lokitest.Labels(kv("job", "other"))
	fn := kv("filename", "/var/log/a.log")
	e := func(tenant, sel string, dt int64, line string, md ...lokitest.Label) lokitest.Entry {
		return lokitest.Entry{Tenant: tenant, Labels: sel, Time: base + dt, Line: line, Metadata: md}
	}
	return []lokitest.Entry{
		e("dflt", sel, 0, "plain", fn),
		e("dflt", lvl, 1, "level", fn), e("dflt", lvl, 5, "level again", fn),
		e("team-a", sel, 2, "a1", fn, kv("trace_id", "t1")), e("team-a", sel, 4, "a2", kv("filename", "override"), kv("trace_id", "t2")),
		e("team-b", oth, 3, "b1", fn), e("team-b", oth, 6, "b2", fn),
	}
}

func TestSendEntryLabelsMetadataTenants(t *testing.T) {
	for _, enc := range []string{loki.EncodingProtobuf, loki.EncodingJSON} {
		t.Run(enc, func(t *testing.T) {
			r := newReceiver(t)
			s := newSink(t, nil, loki.Options{URL: r.URL(), Encoding: enc, TenantID: "dflt", StructuredMetadata: []string{"filename"}})
			blocks := staged(t)
			for range 2 { // the second time on the encoder's reused buffers
				if err := s.Send(context.Background(), batch(blocks...)); err != nil {
					t.Fatal(err)
				}
			}
			want := wantStaged(blocks)
			want = append(want, want...)
			if got := r.Entries(); !reflect.DeepEqual(got, want) {
				t.Fatalf("received\n%#v\nwant\n%#v", got, want)
			}
			if n := len(r.Requests()); n != 6 {
				t.Fatalf("%d requests, want one per tenant per send (6)", n)
			}
			if p := r.Problems(); len(p) > 0 {
				t.Fatal(p)
			}
		})
	}
}

// tenantBatch holds entries of tenants a and b (a's first) and one of the
// sink's default tenant, with a's and b's entries in one old second.
func tenantBatch(old time.Time) *sinks.Batch {
	now := time.Now().Truncate(time.Second).Add(-time.Minute).UnixNano()
	a := lbl(wal.TenantLabel, "a", "job", "x")
	b := lbl(wal.TenantLabel, "b", "job", "x")
	return batch(
		wal.Block{Source: "s", Labels: lbl("job", "x"), Entries: []wal.Entry{
			{Time: old.UnixNano(), Line: []byte("a-old"), Labels: a},
			{Time: now, Line: []byte("a-new"), Labels: a},
			{Time: now, Line: []byte("dflt")},
		}},
		wal.Block{Source: "s", Labels: lbl("job", "x"), Entries: []wal.Entry{
			{Time: old.UnixNano() + 1, Line: []byte("b-old"), Labels: b},
			{Time: now + 1, Line: []byte("b-new"), Labels: b},
		}},
	)
}

func tenantLines(es []lokitest.Entry) (out []string) {
	for _, e := range es {
		out = append(out, e.Tenant+":"+e.Line)
	}
	return out
}

func TestSendTenantsMixedOutcomes(t *testing.T) {
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bad := lokitest.Reply{Status: http.StatusBadRequest, Body: "error at least one label pair is invalid"}

	t.Run("one tenant refused: only its entries", func(t *testing.T) {
		r := newReceiver(t)
		s := newSink(t, nil, loki.Options{URL: r.URL(), TenantID: "d"})
		r.SetTenantReply("b", bad)
		err := s.Send(context.Background(), tenantBatch(old))
		var p *sinks.Permanent
		if !errors.As(err, &p) || !reflect.DeepEqual(p.Refused, []sinks.Span{{Block: 1, First: 0, Count: 2}}) || p.Rejected != 2 {
			t.Fatalf("Send: %v (%+v), want permanent refusing block 1's two entries", err, p)
		}
		if got := tenantLines(r.Entries()); !reflect.DeepEqual(got, []string{"d:dflt", "a:a-old", "a:a-new"}) {
			t.Fatalf("stored %v", got)
		}
	})
	t.Run("a tenant's per-entry 400 is matched within its own entries", func(t *testing.T) {
		r := newReceiver(t)
		s := newSink(t, nil, loki.Options{URL: r.URL(), TenantID: "d"})
		// b's old entry is refused; a's, in the same second, is not b's
		// and must not count against the message.
		r.SetTenantReply("b", lokitest.Reply{Status: http.StatusBadRequest, Store: true,
			Body: lokitest.Grouped([]string{lokitest.TooOldMessage(`{job="x"}`, old, old.Add(time.Hour))})})
		err := s.Send(context.Background(), tenantBatch(old))
		var p *sinks.Permanent
		if !errors.As(err, &p) || !reflect.DeepEqual(p.Refused, []sinks.Span{{Block: 1, First: 0, Count: 1}}) || p.Rejected != 1 {
			t.Fatalf("Send: %v (%+v), want permanent refusing b-old only", err, p)
		}
	})
	t.Run("retryable and refused: retry, then file only the refused tenant", func(t *testing.T) {
		r := newReceiver(t)
		s := newSink(t, nil, loki.Options{URL: r.URL(), TenantID: "d"})
		r.SetTenantReply("a", bad)
		r.SetTenantReply("b", lokitest.Unavailable())
		b := tenantBatch(old)
		err := s.Send(context.Background(), b)
		if c, _ := sinks.Classify(err); c != sinks.ClassRetryable {
			t.Fatalf("Send: %v, want retryable", err)
		}
		r.SetTenantReply("b", lokitest.Reply{}) // b is back
		err = s.Send(context.Background(), b)
		var p *sinks.Permanent
		if !errors.As(err, &p) || !reflect.DeepEqual(p.Refused, []sinks.Span{{Block: 0, First: 0, Count: 2}}) {
			t.Fatalf("Send after b recovered: %v (%+v), want permanent refusing a's two entries", err, p)
		}
	})
	t.Run("every tenant refused: the whole batch", func(t *testing.T) {
		r := newReceiver(t)
		s := newSink(t, nil, loki.Options{URL: r.URL(), TenantID: "d"})
		r.SetDefault(bad)
		err := s.Send(context.Background(), tenantBatch(old))
		var p *sinks.Permanent
		if !errors.As(err, &p) || p.Refused != nil || p.Rejected != 0 {
			t.Fatalf("Send: %v (%+v), want permanent for the whole batch", err, p)
		}
	})
	t.Run("an invalid tenant id is refused without a request", func(t *testing.T) {
		r := newReceiver(t)
		s := newSink(t, nil, loki.Options{URL: r.URL()})
		b := tenantBatch(old)
		b.Blocks[1].Entries[0].Labels = lbl(wal.TenantLabel, "no/slash", "job", "x")
		b.Blocks[1].Entries[1].Labels = lbl(wal.TenantLabel, "no/slash", "job", "x")
		err := s.Send(context.Background(), b)
		var p *sinks.Permanent
		if !errors.As(err, &p) || p.Reason != loki.ReasonBadTenant || !reflect.DeepEqual(p.Refused, []sinks.Span{{Block: 1, First: 0, Count: 2}}) {
			t.Fatalf("Send: %v (%+v), want bad_tenant refusing block 1", err, p)
		}
		for _, req := range r.Requests() {
			if req.Header.Get("X-Scope-OrgID") == "no/slash" {
				t.Fatal("the invalid tenant was sent")
			}
		}
	})
}
