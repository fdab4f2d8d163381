package otlp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/otlp"
	"github.com/logcapturer/logcapturer/sinks/otlp/otlptest"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/encoding/protowire"
)

func fiveEntries() *sinks.Batch {
	var es []wal.Entry
	for i := 0; i < 5; i++ {
		es = append(es, entry(i, "line"))
	}
	return batch(block("app", ls("job", "j"), es...))
}

// TestStatusClasses: every answer class of the OTLP/HTTP specification,
// in both encodings (the error body is a google.rpc.Status in the
// request's encoding).
func TestStatusClasses(t *testing.T) {
	// google.rpc.Status{code: 3, message: "bad record"}
	rpcStatus := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 3)
	rpcStatus = protowire.AppendString(protowire.AppendTag(rpcStatus, 2, protowire.BytesType), "bad record")
	cases := []struct {
		name     string
		reply    otlptest.Reply
		class    sinks.Class
		reason   string
		after    time.Duration
		rejected int
		msg      string
	}{
		{"200", otlptest.Reply{}, -1, "", 0, 0, ""},
		{"200 warning only", otlptest.Reply{Message: "deprecated field"}, -1, "", 0, 0, ""},
		{"200 partial", otlptest.Reply{Rejected: 2, Message: "2 too old"}, sinks.ClassPermanent, "partial", 0, 2, "2 too old"},
		{"200 partial more than sent", otlptest.Reply{Rejected: 99}, sinks.ClassPermanent, "partial", 0, 5, ""},
		{"400", otlptest.Reply{Status: 400, Body: rpcStatus, ContentType: "application/x-protobuf"}, sinks.ClassPermanent, "bad_request", 0, 0, "bad record"},
		{"400 json", otlptest.Reply{Status: 400, Body: []byte(`{"code":3,"message":"bad json record"}`), ContentType: "application/json"}, sinks.ClassPermanent, "bad_request", 0, 0, "bad json record"},
		{"401", otlptest.Reply{Status: 401}, sinks.ClassUnauthorized, "", 0, 0, "Unauthorized"},
		{"403", otlptest.Reply{Status: 403, Body: []byte("no"), ContentType: "text/plain"}, sinks.ClassUnauthorized, "", 0, 0, "no"},
		{"404", otlptest.Reply{Status: 404}, sinks.ClassPermanent, "not_found", 0, 0, ""},
		{"413", otlptest.Reply{Status: 413}, sinks.ClassPermanent, "too_large", 0, 0, ""},
		{"415", otlptest.Reply{Status: 415}, sinks.ClassPermanent, "rejected", 0, 0, ""},
		{"429", otlptest.Reply{Status: 429, RetryAfter: "7"}, sinks.ClassRetryable, "rate_limited", 7 * time.Second, 0, ""},
		{"502", otlptest.Reply{Status: 502, RetryAfter: "3"}, sinks.ClassRetryable, "unavailable", 3 * time.Second, 0, ""},
		{"503", otlptest.Reply{Status: 503, RetryAfter: "1"}, sinks.ClassRetryable, "unavailable", time.Second, 0, ""},
		{"504", otlptest.Reply{Status: 504}, sinks.ClassRetryable, "unavailable", 0, 0, ""},
		{"500", otlptest.Reply{Status: 500}, sinks.ClassRetryable, "server_error", 0, 0, ""},
		{"408", otlptest.Reply{Status: 408}, sinks.ClassRetryable, "timeout", 0, 0, ""},
	}
	for _, enc := range []string{otlp.EncodingProtobuf, otlp.EncodingJSON} {
		for _, c := range cases {
			t.Run(enc+"/"+c.name, func(t *testing.T) {
				r := newReceiver(t)
				reg := prometheus.NewPedanticRegistry()
				s := newSink(t, reg, otlp.Options{URL: r.URL(), Encoding: enc})
				r.Queue(c.reply)
				err := s.Send(context.Background(), fiveEntries())
				if c.class == -1 {
					if err != nil {
						t.Fatalf("Send: %v, want nil", err)
					}
					if w := counter(t, reg, "logcapturer_sink_otlp_partial_warnings_total"); (c.reply.Message != "") != (w == 1) {
						t.Fatalf("partial warnings counter %v for message %q", w, c.reply.Message)
					}
					return
				}
				if err == nil {
					t.Fatal("Send: nil error")
				}
				class, after := sinks.Classify(err)
				if class != c.class || after != c.after {
					t.Fatalf("class %v after %s, want %v %s (err %v)", class, after, c.class, c.after, err)
				}
				if c.reason != "" && sinks.Reason(err) != c.reason {
					t.Errorf("reason %q, want %q", sinks.Reason(err), c.reason)
				}
				var p *sinks.Permanent
				if errors.As(err, &p) && (p.Rejected != c.rejected || p.Refused != nil) {
					t.Errorf("Rejected %d Refused %v, want %d and nil", p.Rejected, p.Refused, c.rejected)
				}
				var ee *otlp.ExportError
				if !errors.As(err, &ee) {
					t.Fatalf("%v is not an *ExportError", err)
				}
				if c.msg != "" && ee.Message != c.msg {
					t.Errorf("message %q, want %q", ee.Message, c.msg)
				}
				reason := c.reason
				if reason == "" {
					reason = "unauthorized"
				}
				if n := failures(t, reg, reason); n != 1 {
					t.Errorf("failures{reason=%q} = %v, want 1", reason, n)
				}
			})
		}
	}
}

// failures reads logcapturer_sink_otlp_failures_total{reason} from g.
func failures(t *testing.T, g prometheus.Gatherer, reason string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "logcapturer_sink_otlp_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					v += m.GetCounter().GetValue()
				}
			}
		}
	}
	return v
}

// TestConnectionAndTimeout: no receiver, or one slower than the timeout,
// is retryable; a cancelled context returns promptly.
func TestConnectionAndTimeout(t *testing.T) {
	r := newReceiver(t)
	dead := r.URL()
	r.Close()
	s := newSink(t, nil, otlp.Options{URL: dead, Timeout: time.Second})
	err := s.Send(context.Background(), fiveEntries())
	if c, _ := sinks.Classify(err); c != sinks.ClassRetryable || sinks.Reason(err) != "connection" {
		t.Fatalf("dead receiver: %v (%s)", err, sinks.Reason(err))
	}
	slow := newReceiver(t)
	slow.SetDefault(otlptest.Reply{Delay: 5 * time.Second})
	s = newSink(t, nil, otlp.Options{URL: slow.URL(), Timeout: 100 * time.Millisecond})
	start := time.Now()
	err = s.Send(context.Background(), fiveEntries())
	if c, _ := sinks.Classify(err); c != sinks.ClassRetryable || sinks.Reason(err) != "timeout" {
		t.Fatalf("slow receiver: %v (%s)", err, sinks.Reason(err))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Send took %s with a 100ms timeout", d)
	}
}

// TestHeadersAndAuth: headers, basic auth from a password file (re-read
// per request), bearer token file; Content-Type and Content-Encoding.
func TestHeadersAndAuth(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	tok := filepath.Join(dir, "tok")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	os.WriteFile(tok, []byte("tok-1\n"), 0o600)
	r := newReceiver(t)
	s := newSink(t, nil, otlp.Options{URL: r.URL(), Headers: map[string]string{"X-Scope-OrgID": "tenant", "dd-api-key": "k"},
		BasicAuth: otlp.BasicAuth{Username: "u", PasswordFile: pw}})
	if err := s.Send(context.Background(), fiveEntries()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pw, []byte("rotated"), 0o600)
	if err := s.Send(context.Background(), fiveEntries()); err != nil {
		t.Fatal(err)
	}
	b := newSink(t, nil, otlp.Options{URL: r.URL(), BearerTokenFile: tok, Compression: otlp.CompressionNone})
	if err := b.Send(context.Background(), fiveEntries()); err != nil {
		t.Fatal(err)
	}
	reqs := r.Requests()
	basic := func(p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+p)) }
	for i, w := range []struct{ auth, ce string }{{basic("s3cret"), "gzip"}, {basic("rotated"), "gzip"}, {"Bearer tok-1", ""}} {
		h := reqs[i].Header
		if h.Get("Authorization") != w.auth || h.Get("Content-Encoding") != w.ce || h.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("request %d headers %v, want Authorization %q, Content-Encoding %q", i, h, w.auth, w.ce)
		}
		if i < 2 && (h.Get("X-Scope-Orgid") != "tenant" || h.Get("Dd-Api-Key") != "k") {
			t.Errorf("request %d misses the configured headers: %v", i, h)
		}
	}
	// A token file that disappears: retryable, reason credentials.
	os.Remove(tok)
	err := b.Send(context.Background(), fiveEntries())
	if c, _ := sinks.Classify(err); c != sinks.ClassRetryable || !strings.Contains(err.Error(), "bearer_token_file") {
		t.Fatalf("missing token file: %v", err)
	}
}

// TestMutualTLS: a receiver that demands a client certificate accepts the
// sink's (tls.cert_file/key_file) and trusts it through tls.ca_file.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	r := otlptest.NewTLSReceiver(func(srv *httptest.Server) {
		srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	})
	defer r.Close()
	srvCert := r.Server().Certificate()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvCert.Raw}), 0o600)
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	writeKeyPair(t, certFile, keyFile)
	s := newSink(t, nil, otlp.Options{URL: r.URL(), TLS: sinks.TLSConfig{CAFile: ca, CertFile: certFile, KeyFile: keyFile}})
	if err := s.Send(context.Background(), fiveEntries()); err != nil {
		t.Fatal(err)
	}
	if r.Count() != 5 {
		t.Fatalf("received %d records", r.Count())
	}
	// Without the client certificate the handshake fails: retryable.
	s2 := newSink(t, nil, otlp.Options{URL: r.URL(), TLS: sinks.TLSConfig{CAFile: ca}})
	if c, _ := sinks.Classify(s2.Send(context.Background(), fiveEntries())); c != sinks.ClassRetryable {
		t.Fatalf("no client cert: class %v", c)
	}
}

// TestMetricsBesideLoki: the otlp and loki sinks share the HTTP sink
// metrics' names on one registry without a clash.
func TestMetricsBesideLoki(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r := newReceiver(t)
	o := newSink(t, reg, otlp.Options{Name: "otel", URL: r.URL()})
	l, err := loki.New(nil, reg, loki.Options{Name: "loki", URL: "http://127.0.0.1:1/loki/api/v1/push"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := o.Send(context.Background(), fiveEntries()); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "logcapturer_sink_encoded_bytes_total"); err != nil || n != 2 {
		t.Fatalf("encoded bytes series: %d, %v", n, err)
	}
}

// TestEmptyBatchAndClose: a batch without entries is not sent; Send after
// Close is retryable; Close twice is fine.
func TestEmptyBatchAndClose(t *testing.T) {
	r := newReceiver(t)
	s := newSink(t, nil, otlp.Options{URL: r.URL()})
	if err := s.Send(context.Background(), batch(block("app", nil))); err != nil || len(r.Requests()) != 0 {
		t.Fatalf("empty batch: %v, %d requests", err, len(r.Requests()))
	}
	s.Close()
	s.Close()
	if c, _ := sinks.Classify(s.Send(context.Background(), fiveEntries())); c != sinks.ClassRetryable {
		t.Fatal("Send after Close is not retryable")
	}
}

// writeKeyPair writes a self-signed client certificate and its key.
func writeKeyPair(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "logcapturer-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSuccessBodyNotAnAnswer: a 200 whose body is text (a proxy's page)
// or does not decode is delivered, never read as a partial success.
func TestSuccessBodyNotAnAnswer(t *testing.T) {
	r := newReceiver(t)
	s := newSink(t, nil, otlp.Options{URL: r.URL()})
	// As protobuf, "\x08\x05" would be rejected_log_records: 5 of a
	// top-level field; as text/plain it is not read.
	r.Queue(otlptest.Reply{Body: []byte("\x0a\x02\x08\x05"), ContentType: "text/plain"},
		otlptest.Reply{Body: []byte("\xff\xff\xff"), ContentType: "application/x-protobuf"},
		otlptest.Reply{Body: []byte("{not json"), ContentType: "application/json"})
	for i := 0; i < 3; i++ {
		if err := s.Send(context.Background(), fiveEntries()); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
}
