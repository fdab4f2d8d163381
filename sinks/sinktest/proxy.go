package sinktest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Proxy is a plain HTTP forward proxy on 127.0.0.1: it passes each
// request for an http:// URL on and counts them. A request that is not
// for a proxy (no absolute URL) gets 400. NewProxy registers its Close
// with t.Cleanup.
type Proxy struct {
	srv       *httptest.Server
	forwarded atomic.Int64
}

// NewProxy starts a Proxy.
func NewProxy(t testing.TB) *Proxy {
	p := &Proxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the proxy's address, for proxy_url.
func (p *Proxy) URL() string { return p.srv.URL }

// Forwarded returns how many requests the proxy passed on.
func (p *Proxy) Forwarded() int64 { return p.forwarded.Load() }

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	p.forwarded.Add(1)
	r.RequestURI = ""
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body) //nolint:errcheck // the client sees a short body
}
