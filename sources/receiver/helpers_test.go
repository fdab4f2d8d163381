package receiver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// holdEmitter keeps every record it is given; the test completes them.
// block makes Emit wait for its ctx; full makes WALFull true.
type holdEmitter struct {
	mu    sync.Mutex
	recs  []sources.Record
	got   chan struct{} // one send per record taken (buffered)
	block bool
	full  bool
	fail  error // Emit's error
}

func newHold() *holdEmitter { return &holdEmitter{got: make(chan struct{}, 1024)} }

func (e *holdEmitter) Emit(ctx context.Context, rec sources.Record) error {
	e.mu.Lock()
	block, fail := e.block, e.fail
	e.mu.Unlock()
	if fail != nil {
		return fail
	}
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	e.mu.Lock()
	e.recs = append(e.recs, rec)
	e.mu.Unlock()
	e.got <- struct{}{}
	return nil
}

func (e *holdEmitter) WALFull() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.full
}

// completeAll fires every held completion with err and forgets them.
func (e *holdEmitter) completeAll(err error) int {
	e.mu.Lock()
	recs := e.recs
	e.recs = nil
	e.mu.Unlock()
	for _, r := range recs {
		r.Done(err)
	}
	return len(recs)
}

// autoEmitter completes every record at once, with nil.
type autoEmitter struct {
	mu    sync.Mutex
	lines []string
}

func (e *autoEmitter) Emit(_ context.Context, rec sources.Record) error {
	var b wal.Block
	if err := wal.DecodeBlock(rec.Data, &b); err != nil {
		return err
	}
	e.mu.Lock()
	for _, en := range b.Entries {
		e.lines = append(e.lines, string(en.Line))
	}
	e.mu.Unlock()
	rec.Done(nil)
	return nil
}

func (e *autoEmitter) Lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.lines...)
}

// linesEndpoint decodes a body of '\n'-separated lines into one block; a
// line "BAD" is refused with a 400 after the others (a partial success).
func linesEndpoint() Endpoint {
	return Endpoint{Decode: func(req *Request) ([]sources.Record, error) {
		b := wal.Block{Labels: []wal.Label{{Name: "job", Value: "t"}}}
		var bad error
		for _, l := range bytes.Split(req.Body, []byte("\n")) {
			if len(l) == 0 {
				continue
			}
			if string(l) == "BAD" {
				bad = BadRequest("line BAD is refused")
				continue
			}
			b.Entries = append(b.Entries, wal.Entry{Time: req.Received.UnixNano(), Line: bytes.Clone(l)})
		}
		if len(b.Entries) == 0 {
			return nil, bad
		}
		return []sources.Record{{Data: wal.EncodeBlock(nil, &b), Entries: len(b.Entries), Bytes: b.Size()}}, bad
	}}
}

// start starts a Server on 127.0.0.1:0 with the lines endpoint at
// POST /push; it is closed when the test ends.
func start(t *testing.T, opts Options, reg prometheus.Registerer) (*Server, string) {
	t.Helper()
	opts.Name, opts.Type = "push", "test"
	if opts.ListenAddress == "" {
		opts.ListenAddress = "127.0.0.1:0"
	}
	s, err := New(nil, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("POST /push", linesEndpoint())
	s.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ready") })
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	scheme := "http://"
	if opts.TLS.Enabled() {
		scheme = "https://"
	}
	return s, scheme + s.Addr().String()
}

type answer struct {
	code       int
	body       string
	retryAfter string
	err        error
}

func post(c *http.Client, url string, body []byte, hdr ...string) answer {
	if c == nil {
		c = http.DefaultClient
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, body: string(b), retryAfter: resp.Header.Get("Retry-After")}
}

// postAsync posts in a goroutine the test waits for through the channel.
func postAsync(url string, body []byte, hdr ...string) chan answer {
	ch := make(chan answer, 1)
	go func() { ch <- post(nil, url, body, hdr...) }()
	return ch
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

func recv(t *testing.T, ch chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
	return answer{}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key,
// returning their paths and a pool trusting it.
func writeCert(t *testing.T, dir, name string, client bool) (certFile, keyFile string, pool *x509.CertPool, pair []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := errors.Join(os.WriteFile(certFile, certPEM, 0o600), os.WriteFile(keyFile, keyPEM, 0o600)); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool, append(certPEM, keyPEM...)
}
