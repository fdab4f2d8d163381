package sinks

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/logcapturer/logcapturer/sinks/sinktest"
)

// closedURL returns a URL of a loopback port nothing listens on.
func closedURL(t *testing.T, path string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + path
}

// TestHTTPConnectionErrorNamesURLOnce: a refused connection is retryable
// and its message names the URL once (net/http's *url.Error repeats it).
func TestHTTPConnectionErrorNamesURLOnce(t *testing.T) {
	u := closedURL(t, "/ingest")
	s, err := NewHTTP(nil, HTTPOptions{Name: "h", URL: u})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Send(context.Background(), testBatch())
	if c, _ := Classify(err); c != ClassRetryable {
		t.Fatalf("class %v of %v", c, err)
	}
	msg := err.Error()
	if n := strings.Count(msg, "/ingest"); n != 1 || !strings.Contains(msg, "post "+u+": dial tcp ") || strings.Contains(msg, `Post "`) {
		t.Fatalf("error names the URL %d times: %s", n, msg)
	}
}

// TestHTTPErrorHidesCredentials: the error of a failed post, which the
// status page and the logs show, names the URL without its password or
// query values.
func TestHTTPErrorHidesCredentials(t *testing.T) {
	u := strings.Replace(closedURL(t, "/ingest?token=s3cret"), "http://", "http://user:hunter2@", 1)
	s, err := NewHTTP(nil, HTTPOptions{Name: "h", URL: u})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := s.Send(context.Background(), testBatch()).Error()
	if strings.Contains(msg, "hunter2") || strings.Contains(msg, "s3cret") || !strings.Contains(msg, "/ingest") {
		t.Fatalf("error shows a credential or no URL: %s", msg)
	}
}

// TestHTTPThroughProxy: with proxy_url the http sink posts through the
// proxy; with no proxy key it posts direct.
func TestHTTPThroughProxy(t *testing.T) {
	var got atomic.Int64
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer dest.Close()
	proxy := sinktest.NewProxy(t)
	for _, c := range []struct {
		proxy        Proxy
		wantProxied  int64
		wantReceived int64
	}{{Proxy{URL: proxy.URL()}, 1, 1}, {Proxy{}, 1, 2}} {
		s, err := NewHTTP(nil, HTTPOptions{Name: "h", URL: dest.URL + "/ingest", Proxy: c.proxy})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), testBatch()); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if proxy.Forwarded() != c.wantProxied || got.Load() != c.wantReceived {
			t.Fatalf("proxy %+v: %d through the proxy, %d received; want %d and %d", c.proxy, proxy.Forwarded(), got.Load(), c.wantProxied, c.wantReceived)
		}
	}
}
