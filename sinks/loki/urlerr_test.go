package loki_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/loki"
)

// TestConnectionErrorNamesURLOnce: a push to a port nothing listens on is
// retryable, and its message names the push URL at most once (net/http's
// *url.Error repeats it).
func TestConnectionErrorNamesURLOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := loki.New(nil, nil, loki.Options{URL: "http://" + addr + "/loki/api/v1/push"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Send(context.Background(), batch(tricky()...))
	if c, _ := sinks.Classify(err); c != sinks.ClassRetryable {
		t.Fatalf("class %v of %v", c, err)
	}
	msg := err.Error()
	if strings.Count(msg, "/loki/api/v1/push") > 1 || strings.Contains(msg, `Post "`) || !strings.Contains(msg, "push to "+addr+": dial tcp ") {
		t.Fatalf("error repeats the URL: %s", msg)
	}
}
