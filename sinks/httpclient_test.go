package sinks

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestParseHTTPURL: each refused URL is refused with its own reason, the
// credentials left out of the message.
func TestParseHTTPURL(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"", "url: required (e.g. http://h/p)"},
		{"localhost:3100", `url "localhost:3100": missing scheme: want http:// or https://`},
		{"ftp://h/p", `scheme "ftp": want http or https`},
		{"http:///p", "missing host"},
		{"http://h:0/p", `port "0": want 1-65535`},
		{"http://h:/p", "empty port"},
		{"http://u:secret@h/p", `url "http://h/p": credentials in the URL are not allowed: use basic_auth`},
		{"http://h/p#x", "a fragment is not allowed"},
	} {
		_, err := ParseHTTPURL(tc.raw, "http://h/p")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: got %v, want %q", tc.raw, err, tc.want)
		}
	}
	if u, err := ParseHTTPURL("https://h:8443/v1/logs?x=1", "e"); err != nil || u.Host != "h:8443" {
		t.Fatalf("good url: %v %v", u, err)
	}
}

// TestHTTPClientPost: a real server sees the body, the headers and the
// credentials; the answer's body is read by read and drained; both metrics
// count; an unreadable token file is a retryable credentials error and
// sends nothing.
func TestHTTPClientPost(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	seen := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b)+"|"+r.Header.Get("Authorization")+"|"+r.Header.Get("X-A"))
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("short and stout"))
	}))
	defer srv.Close()
	u, err := ParseHTTPURL(srv.URL+"/p", "e")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewHTTPClient(nil, u, TLSConfig{}, Proxy{}, 5*time.Second, "push", "204")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := HTTPAuth{BearerTokenFile: tok}
	hdr := func(h http.Header) error {
		for _, kv := range CompileHeaders(map[string]string{"x-a": "b"}) {
			h.Set(kv.Name, kv.Value)
		}
		return auth.Apply(h)
	}
	var msg []byte
	resp, err := c.Post(context.Background(), []byte("body"), hdr, func(r *http.Response) { msg, _ = io.ReadAll(io.LimitReader(r.Body, 5)) })
	if err != nil || resp.StatusCode != http.StatusTeapot || string(msg) != "short" {
		t.Fatalf("post: %v %v %q", resp, err, msg)
	}
	if got := seen(); len(got) != 1 || got[0] != "body|Bearer tok|b" {
		t.Fatalf("server saw %q", got)
	}
	if n := testutil.ToFloat64(c.encoded); n != 4 {
		t.Fatalf("encoded bytes %v, want 4", n)
	}
	if n := testutil.CollectAndCount(c.duration); n != 3 { // 204 and error from the start, 418
		t.Fatalf("duration series %d, want 3", n)
	}
	if err := os.Remove(tok); err != nil {
		t.Fatal(err)
	}
	_, err = c.Post(context.Background(), []byte("body"), hdr, nil)
	var r *Retryable
	if !errors.As(err, &r) || r.Reason != ReasonCredentials || !errors.Is(err, ErrCredentials) || len(seen()) != 1 {
		t.Fatalf("missing token file: %v (sent %d)", err, len(seen()))
	}
}

// TestHTTPClientNoAnswer: a refused connection is retryable, reason
// connection, and names the host once in the client's verb.
func TestHTTPClientNoAnswer(t *testing.T) {
	u, err := ParseHTTPURL(closedURL(t, "/v1/logs"), "e")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewHTTPClient(nil, u, TLSConfig{}, Proxy{}, 5*time.Second, "export", "200")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	_, err = c.Post(context.Background(), nil, func(http.Header) error { return nil }, nil)
	var r *Retryable
	if !errors.As(err, &r) || r.Reason != ReasonConnection || !strings.Contains(err.Error(), "export to "+u.Host+": dial tcp") ||
		strings.Contains(err.Error(), "/v1/logs") {
		t.Fatalf("got %v", err)
	}
}

// TestCheckHeaders: bad names, the sink's own headers (by canonical name)
// and bad values are reported in name order; others pass.
func TestCheckHeaders(t *testing.T) {
	var got []string
	CheckHeaders(map[string]string{"a b": "v", "content-type": "x", "X-Ok": "v", "X-Bad": "a\nb"},
		func(name, canon string) string {
			if canon == "Content-Type" {
				return name + " is the sink's"
			}
			return ""
		}, func(key, msg string) { got = append(got, key+": "+msg) })
	want := []string{`headers: "X-Bad" contains`, `headers: "a b" is not a valid header name`, "headers: content-type is the sink's"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(strings.Replace(got[i], "value of ", "", 1), want[i]) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
