package sinks

import (
	"context"
	"net"
	"strings"
	"testing"
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
