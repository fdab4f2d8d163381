package receiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestAnswersOnlyWhenDurable: the push is answered 204 only once the
// record's completion fired with nil, and not before.
func TestAnswersOnlyWhenDurable(t *testing.T) {
	em := newHold()
	reg := prometheus.NewPedanticRegistry()
	s, url := start(t, Options{Emitter: em}, reg)
	ch := postAsync(url+"/push", []byte("a\nb\n"))
	<-em.got
	select {
	case a := <-ch:
		t.Fatalf("answered %d before the record was durable", a.code)
	case <-time.After(50 * time.Millisecond):
	}
	if s.Inflight().Used() == 0 {
		t.Fatal("no bytes in flight while the push waits")
	}
	em.completeAll(nil)
	if a := recv(t, ch); a.code != http.StatusNoContent {
		t.Fatalf("answer %d %q, want 204", a.code, a.body)
	}
	waitFor(t, "inflight released", func() bool { return s.Inflight().Used() == 0 })
	if n := testutil.ToFloat64(s.m.entries); n != 2 {
		t.Fatalf("entries_total %v, want 2", n)
	}
	if n := testutil.ToFloat64(s.m.requests.WithLabelValues("204")); n != 1 {
		t.Fatalf("requests_total{code=204} %v", n)
	}
	if c := testutil.CollectAndCount(s.m.durable); c != 1 {
		t.Fatalf("durable histogram: %d series", c)
	}
	st := s.Status()
	if st.LastPush == nil || len(st.Clients) != 1 || st.Clients[0].Remote != "127.0.0.1" || st.Clients[0].Entries != 2 {
		t.Fatalf("status %+v", st)
	}
}

// TestFailedCompletionIs503: a completion failing (the fsync failed) is
// answered 503 with the reason and a Retry-After, so the client retries.
func TestFailedCompletionIs503(t *testing.T) {
	em := newHold()
	s, url := start(t, Options{Emitter: em}, nil)
	ch := postAsync(url+"/push", []byte("a\n"))
	<-em.got
	em.completeAll(errors.New("fsync: input/output error"))
	a := recv(t, ch)
	if a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, "fsync: input/output error") || a.retryAfter == "" {
		t.Fatalf("answer %+v", a)
	}
	if n := testutil.ToFloat64(s.m.refused.WithLabelValues(ReasonNotDurable)); n != 1 {
		t.Fatalf("refused{not_durable} %v", n)
	}
}

// TestInflightBound: while one push holds the bound, the next is 429 with
// Retry-After at once; once the first is durable, a push is taken again.
// A push larger than the bound is 413.
func TestInflightBound(t *testing.T) {
	em := newHold()
	s, url := start(t, Options{Emitter: em, MaxInflightBytes: 200, MaxRequestBytes: 1000}, nil)
	first := postAsync(url+"/push", bytes.Repeat([]byte("x"), 120))
	<-em.got
	a := post(nil, url+"/push", bytes.Repeat([]byte("y"), 120))
	if a.code != http.StatusTooManyRequests || a.retryAfter != "1" {
		t.Fatalf("second push: %+v, want 429 with Retry-After 1", a)
	}
	em.completeAll(nil)
	if a := recv(t, first); a.code != 204 {
		t.Fatalf("first push: %+v", a)
	}
	waitFor(t, "release", func() bool { return s.Inflight().Used() == 0 })
	ch := postAsync(url+"/push", bytes.Repeat([]byte("y"), 120))
	<-em.got
	em.completeAll(nil)
	if a := recv(t, ch); a.code != 204 {
		t.Fatalf("push after release: %+v", a)
	}
	if a := post(nil, url+"/push", bytes.Repeat([]byte("z"), 500)); a.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("push larger than the bound: %+v", a)
	}
	if n := testutil.ToFloat64(s.m.refused.WithLabelValues(ReasonInflightFull)); n != 1 {
		t.Fatalf("refused{inflight_full} %v", n)
	}
}

// TestWALFullIs429: a full WAL (WALFull) is 429 with Retry-After before
// anything is emitted; an Emit that waits past EmitWait is 429 too.
func TestWALFullIs429(t *testing.T) {
	em := newHold()
	em.full = true
	s, url := start(t, Options{Emitter: em, EmitWait: 50 * time.Millisecond}, nil)
	a := post(nil, url+"/push", []byte("a\n"))
	if a.code != http.StatusTooManyRequests || a.retryAfter == "" || !strings.Contains(a.body, "wal is full") {
		t.Fatalf("full wal: %+v", a)
	}
	em.mu.Lock()
	em.full, em.block = false, true
	em.mu.Unlock()
	a = post(nil, url+"/push", []byte("a\n"))
	if a.code != http.StatusTooManyRequests || a.retryAfter == "" {
		t.Fatalf("emit waiting: %+v", a)
	}
	waitFor(t, "release after a refused emit", func() bool { return s.Inflight().Used() == 0 })
	if testutil.ToFloat64(s.m.refused.WithLabelValues(ReasonWALFull)) != 1 || testutil.ToFloat64(s.m.refused.WithLabelValues(ReasonWALBusy)) != 1 {
		t.Fatal("refusals not counted by reason")
	}
}

// TestBodyLimits: 413 for a body over max_request_bytes as sent, and for
// gzip and snappy bodies that decompress past it (bombs); 415 for an
// unknown encoding; gzip, deflate and snappy bodies within it are taken.
func TestBodyLimits(t *testing.T) {
	em := &autoEmitter{}
	_, url := start(t, Options{Emitter: em, MaxRequestBytes: 1 << 10}, nil)
	big := bytes.Repeat([]byte("a"), 64<<10)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(big)
	zw.Close()
	if gz.Len() > 1<<10 {
		t.Fatalf("gzip bomb of %d bytes is not small", gz.Len())
	}
	for name, tc := range map[string]struct {
		body []byte
		hdr  []string
		want int
	}{
		"sent":         {bytes.Repeat([]byte("a"), 2<<10), nil, 413},
		"gzip bomb":    {gz.Bytes(), []string{"Content-Encoding", "gzip"}, 413},
		"snappy bomb":  {snappy.Encode(nil, big), []string{"Content-Encoding", "snappy"}, 413},
		"unknown":      {[]byte("a"), []string{"Content-Encoding", "br"}, 415},
		"bad gzip":     {[]byte("not gzip"), []string{"Content-Encoding", "gzip"}, 400},
		"gzip":         {gzipped("g1\ng2\n"), []string{"Content-Encoding", "gzip"}, 204},
		"snappy":       {snappy.Encode(nil, []byte("s1\n")), []string{"Content-Encoding", "snappy"}, 204},
		"identity":     {[]byte("i1\n"), nil, 204},
		"partial+400":  {[]byte("p1\nBAD\n"), nil, 400},
		"only invalid": {[]byte("BAD\n"), nil, 400},
	} {
		if a := post(nil, url+"/push", tc.body, tc.hdr...); a.code != tc.want {
			t.Errorf("%s: %d %q, want %d", name, a.code, a.body, tc.want)
		}
	}
	got := em.Lines()
	slices.Sort(got)
	if want := []string{"g1", "g2", "i1", "p1", "s1"}; !slices.Equal(got, want) {
		t.Fatalf("emitted %q, want %q", got, want)
	}
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

// TestAuth: bearer token and basic auth (password from a file, re-read
// when it changes); /ready asks for nothing.
func TestAuth(t *testing.T) {
	em := &autoEmitter{}
	_, url := start(t, Options{Emitter: em, Auth: Auth{BearerToken: "s3cret"}}, nil)
	if a := post(nil, url+"/push", []byte("a\n")); a.code != 401 {
		t.Fatalf("no token: %+v", a)
	}
	if a := post(nil, url+"/push", []byte("a\n"), "Authorization", "Bearer wrong"); a.code != 401 {
		t.Fatalf("wrong token: %+v", a)
	}
	if a := post(nil, url+"/push", []byte("a\n"), "Authorization", "Bearer s3cret"); a.code != 204 {
		t.Fatalf("token: %+v", a)
	}
	resp, err := http.Get(url + "/ready")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ready: %v %v", resp, err)
	}
	resp.Body.Close()

	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("one\n"), 0o600)
	now := time.Unix(1000, 0)
	var clock = func() time.Time { return now }
	s2, url2 := start(t, Options{Emitter: em, Now: func() time.Time { return clock() }, Auth: Auth{BasicAuth: BasicAuth{Username: "u", PasswordFile: pw}}}, nil)
	_ = s2
	basic := func(user, pass string) int {
		req, _ := http.NewRequest("POST", url2+"/push", strings.NewReader("a\n"))
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := basic("u", "one"); c != 204 {
		t.Fatalf("basic auth: %d", c)
	}
	if c := basic("v", "one"); c != 401 {
		t.Fatalf("wrong user: %d", c)
	}
	os.WriteFile(pw, []byte("two\n"), 0o600)
	now = now.Add(2 * time.Second) // the file is read again after a second
	if c := basic("u", "two"); c != 204 {
		t.Fatalf("rotated password: %d", c)
	}
}

// TestTLSClientAuth: with ca_file, a client without a certificate is
// refused in the handshake; one with a certificate pushes.
func TestTLSClientAuth(t *testing.T) {
	dir := t.TempDir()
	cert, key, pool, _ := writeCert(t, dir, "server", false)
	ccert, ckey, _, _ := writeCert(t, dir, "client", true)
	_, url := start(t, Options{Emitter: &autoEmitter{}, TLS: TLSConfig{CertFile: cert, KeyFile: key, CAFile: ccert}}, nil)
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if a := post(noCert, url+"/push", []byte("a\n")); a.err == nil {
		t.Fatalf("a client without certificate got %d", a.code)
	}
	pair, err := tls.LoadX509KeyPair(ccert, ckey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
	if a := post(withCert, url+"/push", []byte("a\n")); a.code != 204 {
		t.Fatalf("client with certificate: %+v", a)
	}
	noCert.CloseIdleConnections()
	withCert.CloseIdleConnections()
}

// TestCloseAnswersWaitingPush: Close lets a push waiting for its
// completion finish for ShutdownTimeout, then answers it 503 (never
// 200), and returns with no goroutine left (goleak).
func TestCloseAnswersWaitingPush(t *testing.T) {
	em := newHold()
	s, err := New(nil, nil, Options{Name: "p", ListenAddress: "127.0.0.1:0", Emitter: em, ShutdownTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("POST /push", linesEndpoint())
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch := postAsync("http://"+s.Addr().String()+"/push", []byte("a\n"))
	<-em.got
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	a := recv(t, ch)
	if a.code == 204 || a.code == 200 {
		t.Fatalf("a push not durable was answered %d", a.code)
	}
	em.completeAll(nil)
	if s.Inflight().Used() != 0 {
		t.Fatal("bytes still in flight after the completion")
	}
	s.Close() // twice
	http.DefaultClient.CloseIdleConnections()
}

// TestStartTwiceAndBusyPort: a taken port is an error from Start.
func TestStartBusyPort(t *testing.T) {
	s1, _ := start(t, Options{Emitter: &autoEmitter{}}, nil)
	s2, err := New(nil, nil, Options{Name: "b", ListenAddress: s1.Addr().String(), Emitter: &autoEmitter{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("Start on a taken port: %v", err)
	}
}
