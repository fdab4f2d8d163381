package admin

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestClientUnreachableNamesURLOnce: when nothing answers, the error says
// where it tried once (net/http's *url.Error repeats the URL) and what to
// do.
func TestClientUnreachableNamesURLOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = NewClient(addr, "", 5*time.Second).Status(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Count(msg, addr+"/") > 0 || strings.Contains(msg, `Get "`) ||
		!strings.HasPrefix(msg, "reach the admin API at http://"+addr+" (is logcapturer running?") || !strings.Contains(msg, "connection refused") {
		t.Fatalf("error: %s", msg)
	}
}
