package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// callHost does one request over real HTTP with the given Host header and
// returns the status and the body.
func (e *env) callHost(method, path, host, token string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url(path), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestHostHeader: a loopback server answers 421 on every endpoint (health,
// metrics, page, API, mutating) to a Host that is not a name of the
// host's loopback, as a DNS-rebinding page sends; localhost, loopback IPs,
// admin.listen's host and the bound address are answered, whatever the
// port. A server on every interface answers any Host.
func TestHostHeader(t *testing.T) {
	e := newEnv(t, envOptions{token: testToken, sinks: []string{"good"}})
	e.write("a.log", 0, 3)
	waitFor(t, "delivered", func() bool { return len(e.sinks["good"].got()) == 3 })
	port := e.srv.Addr()[strings.LastIndex(e.srv.Addr(), ":")+1:]

	paths := []struct{ method, path string }{
		{"GET", "/metrics"}, {"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/"},
		{"GET", "/api/v1/status"}, {"GET", "/api/v1/sinks/good"}, {"GET", "/api/v1/sources"}, {"GET", "/api/v1/dlq"},
		{"GET", "/api/v1/wal/entries?from=1"}, {"GET", "/api/v1/dlq/good/1"}, {"POST", "/api/v1/dlq/good/replay"},
		{"GET", "/api/v1/nothing"}, {"GET", "/favicon.ico"},
	}
	for _, host := range []string{"evil.example:8401", "evil.example", "evil.example:" + port, "localhost.evil.example:" + port,
		"127.0.0.1.nip.io:" + port, "10.1.2.3:" + port, "[::2]:" + port, "[2001:db8::1]"} {
		for _, p := range paths {
			code, body := e.callHost(p.method, p.path, host, testToken)
			var eb errorBody
			if code != http.StatusMisdirectedRequest || json.Unmarshal([]byte(body), &eb) != nil ||
				!strings.Contains(eb.Error, fmt.Sprintf("Host %q is not a name of this server", host)) || !strings.Contains(eb.Error, "DNS rebinding") {
				t.Errorf("%s %s with Host %s = %d %s, want 421", p.method, p.path, host, code, body)
			}
		}
	}
	for _, host := range []string{"localhost:" + port, "localhost:9000", "LocalHost", "localhost.:" + port, "127.0.0.1:" + port,
		"127.0.0.1", "127.1.2.3:" + port, "[::1]:" + port, "[::1]", e.srv.Addr()} {
		for _, p := range []string{"/metrics", "/healthz", "/readyz", "/", "/api/v1/status", "/api/v1/wal/entries?from=1"} {
			if code, body := e.callHost("GET", p, host, testToken); code != http.StatusOK {
				t.Errorf("GET %s with Host %s = %d %s, want 200", p, host, code, body)
			}
		}
	}

	// admin.listen by name: the name is accepted too.
	byName := newEnv(t, envOptions{listen: "localhost:0", sinks: []string{"good"}})
	if code, body := byName.callHost("GET", "/api/v1/status", "localhost:1", ""); code != 200 {
		t.Errorf("listen localhost, Host localhost = %d %s", code, body)
	}
	if code, _ := byName.callHost("GET", "/healthz", "evil.example", ""); code != http.StatusMisdirectedRequest {
		t.Errorf("listen localhost, Host evil.example = %d, want 421", code)
	}

	// Every interface: the operator exposed it; any name is answered (the
	// token guards the API there).
	pub := newEnv(t, envOptions{listen: "0.0.0.0:0", token: testToken, sinks: []string{"good"}})
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/api/v1/status"} {
		if code, body := pub.callHost("GET", p, "edge-01.example:8401", testToken); code != 200 {
			t.Errorf("0.0.0.0: GET %s with Host edge-01.example = %d %s", p, code, body)
		}
	}
	if code, _ := pub.callHost("GET", "/api/v1/status", "edge-01.example:8401", ""); code != 401 {
		t.Errorf("0.0.0.0: status without the token = %d, want 401", code)
	}
}

// TestLogContentNeedsToken: with a token configured, the endpoints that
// return log lines (WAL entries, a dead letter's entries) need it on
// loopback too: 401 without, 403 for a wrong one, 200 with it; the other
// reads stay open. Without a token configured, loopback reads are open as
// before.
func TestLogContentNeedsToken(t *testing.T) {
	for _, token := range []string{testToken, ""} {
		e := newEnv(t, envOptions{token: token, sinks: []string{"bad"}})
		e.sinks["bad"].reject.Store(true)
		e.write("a.log", 0, 3, 1)
		waitFor(t, "dead letter", func() bool { ds, _ := e.p.DLQ("bad"); return len(ds) == 1 })
		ds, _ := e.p.DLQ("bad")
		content := []string{"/api/v1/wal/entries?from=1", "/api/v1/wal/entries?time=2026-12-01T10:00:00Z", fmt.Sprintf("/api/v1/dlq/bad/%d", ds[0].From)}
		for _, p := range content {
			code, body := e.call("GET", p, "", "")
			if token == "" {
				if code != 200 || !strings.Contains(string(body), "bad-1") {
					t.Errorf("no token configured: GET %s = %d %s, want 200 with the lines", p, code, body)
				}
				continue
			}
			if code != 401 || !strings.Contains(string(body), "Authorization: Bearer <token>") || strings.Contains(string(body), "line-0") {
				t.Errorf("GET %s without the token = %d %s, want 401", p, code, body)
			}
			e.wantError("GET", p, "wrong", "", 403, "invalid admin token")
			if code, body := e.call("GET", p, token, ""); code != 200 || !strings.Contains(string(body), "bad-1") {
				t.Errorf("GET %s with the token = %d %s", p, code, body)
			}
		}
		for _, p := range []string{"/", "/api/v1/status", "/api/v1/sinks", "/api/v1/sources", "/api/v1/dlq", "/metrics", "/readyz"} {
			if code, body := e.call("GET", p, "", ""); code != 200 {
				t.Errorf("token %q: GET %s without a token = %d %s, want 200", token, p, code, body)
			}
		}
	}
}
