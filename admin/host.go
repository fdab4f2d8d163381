package admin

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// A DNS-rebinding page (evil.example resolving to 127.0.0.1 after the
// operator's browser loaded it) reaches a loopback server with its own
// name in Host; a process on this host can reach it anyway. So a server
// on a loopback address answers only requests whose Host names this
// host's loopback: the names in allowedHosts, or any loopback IP. On a
// non-loopback address the operator chose to expose the server (any name
// that resolves to it may be in Host, such as a Prometheus target), and
// every route but the health ones needs the token there, so every Host is
// accepted.

// allowedHosts is the set of Host names (lower case, without a port) a
// loopback server accepts besides any loopback IP: localhost, the host of
// admin.listen and the address the listener is bound to.
func allowedHosts(listen string, bound net.Addr) map[string]bool {
	hosts := map[string]bool{"localhost": true}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		hosts[normHost(h)] = true
	}
	if h, _, err := net.SplitHostPort(bound.String()); err == nil && h != "" {
		hosts[normHost(h)] = true
	}
	return hosts
}

// normHost is a host name as compared: lower case, without a trailing
// dot, brackets or an IPv6 zone.
func normHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if i := strings.IndexByte(h, '%'); i >= 0 && strings.Contains(h, ":") {
		h = h[:i]
	}
	return h
}

// hostAllowed reports whether a loopback server answers a request with
// this Host header. The port is not compared: an SSH tunnel
// (ssh -L 9000:127.0.0.1:8401) sends Host localhost:9000. An empty Host
// (HTTP/1.0) is no browser's and is accepted.
func (s *Server) hostAllowed(host string) bool {
	if host == "" {
		return true
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = normHost(h)
	if s.hosts[h] {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// checkHost answers 421 Misdirected Request, before any route, to a
// request on a loopback server whose Host is not a name of this host's
// loopback (see allowedHosts); other requests go to the routes.
func (s *Server) checkHost(w http.ResponseWriter, r *http.Request) {
	if s.open && !s.hostAllowed(r.Host) {
		writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf(
			"Host %q is not a name of this server: admin.listen %s is a loopback address, reached as localhost, "+
				"a loopback IP such as 127.0.0.1 or [::1], or %s (a guard against DNS rebinding)",
			r.Host, s.opts.Listen, s.Addr()))
		return
	}
	s.mux.ServeHTTP(w, r)
}
