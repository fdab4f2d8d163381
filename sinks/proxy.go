package sinks

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/net/http/httpproxy"
)

// Proxy is how an HTTP sink (loki, otlp) reaches its destination, with the
// keys and the behaviour of a Promtail client's (Prometheus's HTTP client
// configuration): none of them set means no proxy, whatever the
// environment holds.
type Proxy struct {
	// URL is the proxy every request goes through, http://, https:// or
	// socks5:// (credentials in it are sent to the proxy). [proxy_url]
	URL string
	// NoProxy lists what goes direct, as the NO_PROXY variable does:
	// host names (a name also covers its subdomains, .name only them),
	// IP addresses and CIDR ranges, each with an optional :port, comma
	// separated. Loopback addresses and localhost then always go direct.
	// Only with URL. [no_proxy]
	NoProxy string
	// FromEnvironment takes the proxy from HTTP_PROXY, HTTPS_PROXY and
	// NO_PROXY (or their lowercase forms), as read when the sink opens.
	// Not with URL. [proxy_from_environment]
	FromEnvironment bool
}

// Rules reports each problem with the key it is about.
func (p Proxy) Rules(report func(key, msg string)) {
	if p.URL != "" {
		if _, err := p.parse(); err != nil {
			report("proxy_url", err.Error())
		}
		if p.FromEnvironment {
			report("proxy_from_environment", "must not be true with proxy_url: give one or the other")
		}
	}
	if p.NoProxy != "" {
		switch {
		case p.FromEnvironment:
			report("no_proxy", "is for proxy_url; with proxy_from_environment, set the NO_PROXY variable")
		case p.URL == "":
			report("no_proxy", "needs proxy_url")
		}
	}
}

// parse checks the proxy URL.
func (p Proxy) parse() (*url.URL, error) {
	u, err := url.Parse(p.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return nil, fmt.Errorf("is not a URL: %v", err)
	}
	shown := p.URL // credentials are not repeated in errors
	if u.User != nil {
		shown = RedactURL(p.URL)
	}
	switch u.Scheme {
	case "http", "https", "socks5":
	default:
		return nil, fmt.Errorf("%q: want an http://, https:// or socks5:// URL", shown)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: no host", shown)
	}
	return u, nil
}

// Func returns the http.Transport's Proxy function: nil (direct) when no
// key is set. The options must have passed Rules.
func (p Proxy) Func() (func(*http.Request) (*url.URL, error), error) {
	var cfg *httpproxy.Config
	switch {
	case p.FromEnvironment:
		cfg = httpproxy.FromEnvironment()
	case p.URL == "":
		return nil, nil
	default:
		u, err := p.parse()
		if err != nil {
			return nil, fmt.Errorf("proxy_url %w", err)
		}
		if p.NoProxy == "" {
			return http.ProxyURL(u), nil
		}
		cfg = &httpproxy.Config{HTTPProxy: p.URL, HTTPSProxy: p.URL, NoProxy: p.NoProxy}
	}
	f := cfg.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return f(r.URL) }, nil
}
