package loki_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/sinks/sinktest"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newSink(t *testing.T, reg prometheus.Registerer, opts loki.Options) *loki.Sink {
	t.Helper()
	s, err := loki.New(nil, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newReceiver(t *testing.T) *lokitest.Receiver {
	t.Helper()
	r := lokitest.NewReceiver()
	t.Cleanup(func() {
		if p := r.Problems(); len(p) > 0 {
			t.Errorf("receiver saw protocol problems: %q", p)
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

// failures returns logcapturer_sink_loki_failures_total{reason} summed
// over sinks.
func failures(t *testing.T, g prometheus.Gatherer, reason string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "logcapturer_sink_loki_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" && lp.GetValue() == reason {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

func TestSendDeliversWithHeaders(t *testing.T) {
	for _, enc := range []string{loki.EncodingProtobuf, loki.EncodingJSON} {
		t.Run(enc, func(t *testing.T) {
			r := newReceiver(t)
			pw := filepath.Join(t.TempDir(), "pw")
			if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			opts := trickyOpts
			opts.URL, opts.Encoding, opts.TenantID = r.URL(), enc, "edge-01"
			opts.BasicAuth = loki.BasicAuth{Username: "u", PasswordFile: pw}
			opts.Headers = map[string]string{"x-extra": "v"}
			s := newSink(t, nil, opts)
			blocks := tricky()
			if err := s.Send(context.Background(), batch(blocks...)); err != nil {
				t.Fatal(err)
			}
			want := wantTricky(blocks)
			if enc == loki.EncodingJSON {
				want[len(want)-1].Line = "\uFFFD\uFFFD raw \"bytes\"\n"
			}
			for i := range want {
				want[i].Tenant = "edge-01"
			}
			if got := r.Entries(); !reflect.DeepEqual(got, want) {
				t.Fatalf("received\n%#v\nwant\n%#v", got, want)
			}
			req := r.Requests()[0]
			if req.Encoding != enc {
				t.Fatalf("receiver decoded %q", req.Encoding)
			}
			h := req.Header
			wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:s3cret"))
			if h.Get("X-Scope-OrgID") != "edge-01" || h.Get("Authorization") != wantAuth || h.Get("X-Extra") != "v" {
				t.Fatalf("headers %v", h)
			}
		})
	}
}

func TestBearerTokenFileIsReread(t *testing.T) {
	r := newReceiver(t)
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, nil, loki.Options{URL: r.URL(), BearerTokenFile: tok})
	send := func() {
		t.Helper()
		if err := s.Send(context.Background(), batch(tricky()...)); err != nil {
			t.Fatal(err)
		}
	}
	send()
	if err := os.WriteFile(tok, []byte("two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	send()
	reqs := r.Requests()
	if a, b := reqs[0].Header.Get("Authorization"), reqs[1].Header.Get("Authorization"); a != "Bearer one" || b != "Bearer two" {
		t.Fatalf("authorization %q then %q", a, b)
	}
	os.Remove(tok)
	err := s.Send(context.Background(), batch(tricky()...))
	if c, _ := sinks.Classify(err); c != sinks.ClassRetryable || err == nil {
		t.Fatalf("missing token file: %v, want retryable", err)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	r := lokitest.NewTLSReceiver()
	defer r.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, r.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, nil, loki.Options{URL: r.URL(), TLS: sinks.TLSConfig{CAFile: ca}})
	if err := s.Send(context.Background(), batch(tricky()...)); err != nil {
		t.Fatal(err)
	}
	untrusted := newSink(t, nil, loki.Options{URL: r.URL(), Name: "untrusted"})
	err := untrusted.Send(context.Background(), batch(tricky()...))
	if c, _ := sinks.Classify(err); err == nil || c != sinks.ClassRetryable {
		t.Fatalf("unknown CA: %v, want a retryable error", err)
	}
}

// TestStatusMapping drives every answer class through a real HTTP round
// trip and checks the class, the reason, Retry-After and partial counts.
func TestStatusMapping(t *testing.T) {
	stream := `{job="app"}`
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name      string
		reply     lokitest.Reply
		class     string // "ok", "retry", "permanent", "unauthorized"
		reason    string
		after     time.Duration // minimum After
		afterMax  time.Duration
		ignored   int
		total     int
		wantInMsg string
	}{
		{name: "204", reply: lokitest.Reply{}, class: "ok"},
		{name: "200", reply: lokitest.Reply{Status: 200, Body: "ok"}, class: "ok"},
		{name: "429 seconds", reply: lokitest.RateLimited(7 * time.Second), class: "retry", reason: "rate_limited", after: 7 * time.Second, afterMax: 7 * time.Second, wantInMsg: "Ingestion rate limit exceeded"},
		{name: "429 http date", reply: lokitest.Reply{Status: 429, RetryAfter: date}, class: "retry", reason: "rate_limited", after: 80 * time.Second, afterMax: 91 * time.Second},
		{name: "429 bad retry-after", reply: lokitest.Reply{Status: 429, RetryAfter: "soon"}, class: "retry", reason: "rate_limited"},
		{name: "500", reply: lokitest.Unavailable(), class: "retry", reason: "server_error", wantInMsg: "live replicas"},
		{name: "503 retry-after", reply: lokitest.Reply{Status: 503, RetryAfter: "2"}, class: "retry", reason: "server_error", after: 2 * time.Second, afterMax: 2 * time.Second},
		{name: "408", reply: lokitest.Reply{Status: 408}, class: "retry", reason: "timeout"},
		{name: "dropped connection", reply: lokitest.Reply{Drop: true}, class: "retry", reason: "connection"},
		{name: "too new", reply: lokitest.TooNew(stream, at), class: "permanent", reason: "too_new", wantInMsg: "timestamp too new"},
		{name: "too old", reply: lokitest.TooOld(stream, at), class: "permanent", reason: "too_old", wantInMsg: "timestamp too old"},
		{name: "partial too far behind", reply: lokitest.TooFarBehind(stream, at, 1, 10), class: "permanent", reason: "partial", ignored: 1, total: 10, wantInMsg: "entry too far behind"},
		{name: "partial many", reply: lokitest.Partial(250, 1000), class: "permanent", reason: "partial", ignored: 250, total: 1000},
		{name: "no labels", reply: lokitest.Reply{Status: 400, Body: "error at least one label pair is required per stream"}, class: "permanent", reason: "bad_labels"},
		{name: "line too long", reply: lokitest.Reply{Status: 400, Body: "Max entry size '262144' bytes exceeded for stream '{job=\"app\"}' while adding an entry with length '300000' bytes"}, class: "permanent", reason: "line_too_long"},
		{name: "413", reply: lokitest.Reply{Status: 413}, class: "permanent", reason: "too_large"},
		{name: "401", reply: lokitest.Reply{Status: 401, Body: "no org id"}, class: "unauthorized", reason: "unauthorized"},
		{name: "403", reply: lokitest.Reply{Status: 403, Body: "forbidden"}, class: "unauthorized", reason: "unauthorized"},
		{name: "404", reply: lokitest.Reply{Status: 404, Body: "404 page not found"}, class: "permanent", reason: "not_found"},
		{name: "other 400", reply: lokitest.Reply{Status: 400, Body: "something else"}, class: "permanent", reason: "rejected", wantInMsg: "something else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t)
			reg := prometheus.NewPedanticRegistry()
			s := newSink(t, reg, loki.Options{URL: r.URL()})
			r.Reply(tc.reply)
			err := s.Send(context.Background(), batch(tricky()...))
			class, after := sinks.Classify(err)
			switch tc.class {
			case "ok":
				if err != nil {
					t.Fatalf("err %v, want nil", err)
				}
				return
			case "retry":
				var re *sinks.Retryable
				if !errors.As(err, &re) || class != sinks.ClassRetryable {
					t.Fatalf("err %v, want *sinks.Retryable", err)
				}
				if re.Reason != tc.reason {
					t.Fatalf("reason %q, want %q", re.Reason, tc.reason)
				}
				if after < tc.after || after > tc.afterMax {
					t.Fatalf("after %s, want in [%s, %s]", after, tc.after, tc.afterMax)
				}
			case "unauthorized":
				var ue *sinks.Unauthorized
				if !errors.As(err, &ue) || class != sinks.ClassUnauthorized || sinks.Reason(err) != "unauthorized" {
					t.Fatalf("err %v, want *sinks.Unauthorized", err)
				}
			case "permanent":
				var pe *sinks.Permanent
				if !errors.As(err, &pe) || class != sinks.ClassPermanent {
					t.Fatalf("err %v, want *sinks.Permanent", err)
				}
				if pe.Reason != tc.reason {
					t.Fatalf("reason %q, want %q", pe.Reason, tc.reason)
				}
			}
			var push *loki.PushError
			if tc.reason != "connection" {
				if !errors.As(err, &push) {
					t.Fatalf("err %v carries no *loki.PushError", err)
				}
				if push.Reason != tc.reason || push.Ignored != tc.ignored || push.Total != tc.total {
					t.Fatalf("push error %+v, want reason %s ignored %d total %d", push, tc.reason, tc.ignored, tc.total)
				}
				if !strings.Contains(push.Message, tc.wantInMsg) {
					t.Fatalf("message %q lacks %q", push.Message, tc.wantInMsg)
				}
			}
			if got := failures(t, reg, tc.reason); got != 1 {
				t.Fatalf("logcapturer_sink_loki_failures_total{reason=%q} = %v, want 1", tc.reason, got)
			}
		})
	}
}

func TestTimeoutAndContext(t *testing.T) {
	r := newReceiver(t)
	r.SetDefault(lokitest.Reply{Delay: time.Minute})
	reg := prometheus.NewRegistry()
	s := newSink(t, reg, loki.Options{URL: r.URL(), Timeout: 100 * time.Millisecond})
	start := time.Now()
	err := s.Send(context.Background(), batch(tricky()...))
	if c, _ := sinks.Classify(err); c != sinks.ClassRetryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow receiver: %v, want a retryable deadline error", err)
	}
	if failures(t, reg, "timeout") != 1 {
		t.Fatal("timeout not counted")
	}

	s2 := newSink(t, nil, loki.Options{URL: r.URL(), Name: "ctx", Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = s2.Send(ctx, batch(tricky()...))
	if c, _ := sinks.Classify(err); c != sinks.ClassRetryable || ctx.Err() == nil {
		t.Fatalf("cancelled ctx: %v, want retryable after ctx is done", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("sends took %s", d)
	}
	// Connection refused.
	s3 := newSink(t, nil, loki.Options{URL: "http://127.0.0.1:1/loki/api/v1/push", Name: "refused"})
	err = s3.Send(context.Background(), batch(tricky()...))
	if c, _ := sinks.Classify(err); c != sinks.ClassRetryable || err == nil {
		t.Fatalf("refused: %v", err)
	}
}

// TestTimestampsIgnoreLocalZone: with the local zone 3 hours off UTC, the
// nanoseconds Loki receives are the source's.
func TestTimestampsIgnoreLocalZone(t *testing.T) {
	saved := time.Local
	time.Local = time.FixedZone("UTC+3", 3*60*60)
	t.Cleanup(func() { time.Local = saved })
	// A source parsed "2026-05-06 07:08:09.123456789" in the local zone.
	local := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.Local)
	ns := local.UnixNano()
	if want := time.Date(2026, 5, 6, 4, 8, 9, 123456789, time.UTC).UnixNano(); ns != want {
		t.Fatalf("test setup: %d != %d", ns, want)
	}
	for _, enc := range []string{loki.EncodingProtobuf, loki.EncodingJSON} {
		r := newReceiver(t)
		s := newSink(t, nil, loki.Options{URL: r.URL(), Encoding: enc, Name: enc})
		blk := wal.Block{Source: "app", Labels: lbl("job", "tz"),
			Entries: []wal.Entry{{Time: ns, Line: []byte("x")}, {Time: ns + 1, Line: []byte("y")}}}
		if err := s.Send(context.Background(), batch(blk)); err != nil {
			t.Fatal(err)
		}
		got := r.Entries()
		if len(got) != 2 || got[0].Time != ns || got[1].Time != ns+1 {
			t.Fatalf("%s: received %+v, want times %d, %d", enc, got, ns, ns+1)
		}
	}
}

func TestSendAfterCloseIsRetryable(t *testing.T) {
	r := newReceiver(t)
	s, err := loki.New(nil, nil, loki.Options{URL: r.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c, _ := sinks.Classify(s.Send(context.Background(), batch(tricky()...))); c != sinks.ClassRetryable {
		t.Fatal("send after close not retryable")
	}
}

func TestMetricsLintAndUnregister(t *testing.T) {
	r := newReceiver(t)
	reg := prometheus.NewPedanticRegistry()
	a := newSink(t, reg, loki.Options{URL: r.URL(), Name: "a"})
	b := newSink(t, reg, loki.Options{URL: r.URL(), Name: "b"})
	if _, err := loki.New(nil, reg, loki.Options{URL: r.URL(), Name: "a"}); err == nil {
		t.Fatal("a second sink named a registered its metrics")
	}
	// Before any push, the durations of a good push (204) and of no answer
	// ("error") exist at zero, as the failure reasons do.
	if n, err := testutil.GatherAndCount(reg, "logcapturer_sink_request_duration_seconds"); err != nil || n != 4 {
		t.Fatalf("duration series before any push: %d %v, want 4 (a/204, a/error, b/204, b/error)", n, err)
	}
	r.Reply(lokitest.RateLimited(time.Second))
	for _, s := range []*loki.Sink{a, a, b} {
		s.Send(context.Background(), batch(tricky()...))
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
	if n, err := testutil.GatherAndCount(reg, "logcapturer_sink_encoded_bytes_total", "logcapturer_sink_request_duration_seconds"); err != nil || n != 7 {
		t.Fatalf("series: %d %v, want 7 (encoded bytes of a and b; durations of a/204, a/429, a/error, b/204, b/error)", n, err)
	}
	// Every reason exists at zero from the start; only a's 429 counted.
	want := `
# HELP logcapturer_sink_loki_failures_total Failed pushes by reason (rate_limited, server_error, timeout, connection, partial, too_old, ...).
# TYPE logcapturer_sink_loki_failures_total counter
`
	for _, reason := range []string{loki.ReasonBadLabels, loki.ReasonBadTenant, loki.ReasonConnection, loki.ReasonCredentials, loki.ReasonLineTooLong,
		loki.ReasonNotFound, loki.ReasonOutOfOrder, loki.ReasonPartial, loki.ReasonRateLimited, loki.ReasonRejected,
		loki.ReasonServerError, loki.ReasonStructuredMetadata, loki.ReasonTimeout, loki.ReasonTooLarge, loki.ReasonTooNew,
		loki.ReasonTooOld, loki.ReasonUnauthorized} {
		for _, sink := range []string{"a", "b"} {
			n := 0
			if reason == loki.ReasonRateLimited && sink == "a" {
				n = 1
			}
			want += fmt.Sprintf("logcapturer_sink_loki_failures_total{reason=%q,sink=%q} %d\n", reason, sink, n)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "logcapturer_sink_loki_failures_total"); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	if n, _ := testutil.GatherAndCount(reg); n != 0 {
		t.Fatalf("%d series left after Close", n)
	}
}

func TestValidate(t *testing.T) {
	ok := loki.Options{URL: "http://127.0.0.1:3100/loki/api/v1/push"}
	for _, tc := range []struct {
		name string
		mod  func(o *loki.Options)
		want string // substring of the error; "" for valid
	}{
		{"valid", func(o *loki.Options) {}, ""},
		{"https no port", func(o *loki.Options) { o.URL = "https://loki.example.com/loki/api/v1/push" }, ""},
		{"empty url", func(o *loki.Options) { o.URL = "" }, "url: required"},
		{"no scheme", func(o *loki.Options) { o.URL = "localhost:3100/loki/api/v1/push" }, `url "localhost:3100/loki/api/v1/push": missing scheme`},
		{"no scheme host only", func(o *loki.Options) { o.URL = "loki" }, "missing scheme"},
		{"ftp", func(o *loki.Options) { o.URL = "ftp://x/y" }, `scheme "ftp": want http or https`},
		{"port too big", func(o *loki.Options) { o.URL = "http://127.0.0.1:99999/push" }, `port "99999": want 1-65535`},
		{"port zero", func(o *loki.Options) { o.URL = "http://127.0.0.1:0/push" }, `port "0"`},
		{"port letters", func(o *loki.Options) { o.URL = "http://127.0.0.1:31OO/push" }, `url "http://127.0.0.1:31OO/push": invalid port`},
		{"empty port", func(o *loki.Options) { o.URL = "http://127.0.0.1:/push" }, "empty port"},
		{"no host", func(o *loki.Options) { o.URL = "http:///push" }, "missing host"},
		{"userinfo", func(o *loki.Options) { o.URL = "http://u:p@h/push" }, "use basic_auth"},
		{"timeout", func(o *loki.Options) { o.Timeout = -time.Second }, "timeout"},
		{"encoding", func(o *loki.Options) { o.Encoding = "gzip" }, `encoding: must be protobuf or json, got "gzip"`},
		{"json", func(o *loki.Options) { o.Encoding = "json" }, ""},
		{"basic no user", func(o *loki.Options) { o.BasicAuth.Password = "p" }, "basic_auth.username"},
		{"basic both pw", func(o *loki.Options) { o.BasicAuth = loki.BasicAuth{Username: "u", Password: "p", PasswordFile: "f"} }, "mutually exclusive"},
		{"basic and bearer", func(o *loki.Options) { o.BasicAuth.Username = "u"; o.BearerToken = "t" }, "mutually exclusive"},
		{"bearer both", func(o *loki.Options) { o.BearerToken = "t"; o.BearerTokenFile = "f" }, "bearer_token and bearer_token_file"},
		{"cert without key", func(o *loki.Options) { o.TLS.CertFile = "c" }, "tls: cert_file and key_file"},
		{"reserved header", func(o *loki.Options) { o.Headers = map[string]string{"x-scope-orgid": "t"} }, "tenant_id"},
		{"bad header", func(o *loki.Options) { o.Headers = map[string]string{"a b": "t"} }, "not a valid header name"},
		{"header newline", func(o *loki.Options) { o.Headers = map[string]string{"X-A": "a\nb"} }, "line break"},
		{"label name", func(o *loki.Options) { o.Labels = map[string]string{"host-name": "h"} }, `labels: "host-name" is not a valid label name`},
		{"label reserved", func(o *loki.Options) { o.Labels = map[string]string{"__x": "h"} }, "reserved"},
		{"label empty value", func(o *loki.Options) { o.Labels = map[string]string{"h": ""} }, ""}, // absent, as in Loki
		{"label utf8", func(o *loki.Options) { o.Labels = map[string]string{"h": "\xff"} }, "UTF-8"},
		{"sm name", func(o *loki.Options) { o.StructuredMetadata = []string{"a.b"} }, "structured_metadata"},
		{"sm twice", func(o *loki.Options) { o.StructuredMetadata = []string{"a", "a"} }, "twice"},
		{"proxy", func(o *loki.Options) { o.ProxyURL, o.NoProxy = "http://proxy:3128", "loki.internal,10.0.0.0/8" }, ""},
		{"proxy scheme", func(o *loki.Options) { o.ProxyURL = "ftp://proxy" }, "proxy_url: \"ftp://proxy\": want an http://, https:// or socks5:// URL"},
		{"proxy and env", func(o *loki.Options) { o.ProxyURL, o.ProxyFromEnvironment = "http://proxy:3128", true }, "proxy_from_environment: must not be true with proxy_url"},
		{"no_proxy alone", func(o *loki.Options) { o.NoProxy = "loki.internal" }, "no_proxy: needs proxy_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			err := o.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := loki.New(nil, nil, loki.Options{URL: "localhost:3100"}); err == nil || !strings.Contains(err.Error(), `loki sink "loki": url`) {
		t.Fatalf("New: %v", err)
	}
	if _, err := loki.New(nil, nil, loki.Options{URL: ok.URL, BearerTokenFile: "/nonexistent/token"}); err == nil || !strings.Contains(err.Error(), "bearer_token_file") {
		t.Fatalf("New with a missing token file: %v", err)
	}
	if _, err := loki.New(nil, nil, loki.Options{URL: ok.URL, TLS: sinks.TLSConfig{CAFile: "/nonexistent/ca"}}); err == nil || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Fatalf("New with a missing CA file: %v", err)
	}
}

// TestConcurrentSends: the pipeline's workers call Send at once; each
// push is complete and the encoders' buffers are not shared.
func TestConcurrentSends(t *testing.T) {
	r := newReceiver(t)
	r.SetDefault(lokitest.Reply{Delay: 5 * time.Millisecond}) // slow, well inside the timeout
	s := newSink(t, nil, loki.Options{URL: r.URL(), Timeout: 5 * time.Second})
	const workers, sends = 4, 10
	errs := make(chan error, workers*sends)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < sends; i++ {
				blocks := benchBlocks(2, 50+w, 100)
				errs <- s.Send(context.Background(), batch(blocks...))
			}
		}()
	}
	total := 0
	for w := 0; w < workers; w++ {
		total += sends * 2 * (50 + w)
	}
	for i := 0; i < workers*sends; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if r.Count() != total {
		t.Fatalf("received %d entries, want %d", r.Count(), total)
	}
}

// TestDestinationHidesCredentials: the status shows the push URL without
// its query values (the URL cannot hold a user: New refuses it).
func TestDestinationHidesCredentials(t *testing.T) {
	s := newSink(t, nil, loki.Options{Name: "l", URL: "https://loki.example/loki/api/v1/push?X-Scope-OrgID=k3y"})
	if got, want := sinks.Destination(s), "https://loki.example/loki/api/v1/push?X-Scope-OrgID=xxxxx"; got != want {
		t.Errorf("Destination = %q, want %q", got, want)
	}
}

// TestSendThroughProxy: with proxy_url, pushes go to the proxy (a plain
// HTTP forward proxy, which sees the absolute URL) and reach Loki through
// it. (Which requests a proxy takes, the environment included: sinks'
// TestProxyFunc; Go never proxies a loopback URL from the environment, so
// it cannot be shown here.)
func TestSendThroughProxy(t *testing.T) {
	r := newReceiver(t)
	proxy := sinktest.NewProxy(t)
	blocks := tricky()
	s := newSink(t, nil, loki.Options{URL: r.URL(), ProxyURL: proxy.URL()})
	if err := s.Send(context.Background(), batch(blocks...)); err != nil {
		t.Fatal(err)
	}
	if proxy.Forwarded() != 1 || len(r.Entries()) != len(wantTricky(blocks)) {
		t.Fatalf("%d requests through the proxy, %d entries received; want 1 and %d", proxy.Forwarded(), len(r.Entries()), len(wantTricky(blocks)))
	}
}
