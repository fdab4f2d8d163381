package sinks

import (
	"net/http"
	"testing"
)

// TestProxyFunc: which proxy a request gets, as a Promtail client's
// options choose it: none set, none (the environment ignored); proxy_url,
// that one, except for no_proxy's hosts, domains and ranges;
// proxy_from_environment, the variables'.
func TestProxyFunc(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://env-proxy:3128")
	t.Setenv("NO_PROXY", "skip.example")
	for _, c := range []struct {
		name   string
		p      Proxy
		target string
		want   string // "" direct
	}{
		{"none: the environment is ignored", Proxy{}, "http://loki.example:3100/", ""},
		{"proxy_url", Proxy{URL: "http://proxy:3128"}, "http://loki.example:3100/", "http://proxy:3128"},
		{"proxy_url for https", Proxy{URL: "http://proxy:3128"}, "https://loki.example/", "http://proxy:3128"},
		{"no_proxy host", Proxy{URL: "http://proxy:3128", NoProxy: "loki.internal"}, "http://loki.internal:3100/", ""},
		{"no_proxy domain", Proxy{URL: "http://proxy:3128", NoProxy: "internal"}, "http://loki.internal:3100/", ""},
		{"no_proxy range", Proxy{URL: "http://proxy:3128", NoProxy: "10.0.0.0/8"}, "http://10.1.2.3:3100/", ""},
		{"no_proxy other host", Proxy{URL: "http://proxy:3128", NoProxy: "loki.internal,10.0.0.0/8"}, "http://loki.example:3100/", "http://proxy:3128"},
		{"environment", Proxy{FromEnvironment: true}, "http://loki.example:3100/", "http://env-proxy:3128"},
		{"environment NO_PROXY", Proxy{FromEnvironment: true}, "http://skip.example:3100/", ""},
		{"socks5", Proxy{URL: "socks5://proxy:1080"}, "http://loki.example:3100/", "socks5://proxy:1080"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := c.p.Func()
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if f != nil {
				req, _ := http.NewRequest(http.MethodPost, c.target, nil)
				u, err := f(req)
				if err != nil {
					t.Fatal(err)
				}
				if u != nil {
					got = u.String()
				}
			}
			if got != c.want {
				t.Fatalf("proxy for %s = %q, want %q", c.target, got, c.want)
			}
		})
	}
}

// TestProxyRules: the combinations Promtail refuses are refused, at their
// keys.
func TestProxyRules(t *testing.T) {
	for _, c := range []struct {
		p    Proxy
		want string // key: message start; "" none
	}{
		{Proxy{URL: "http://proxy:3128", NoProxy: "a"}, ""},
		{Proxy{FromEnvironment: true}, ""},
		{Proxy{URL: "proxy:3128"}, "proxy_url: \"proxy:3128\": want an http://, https:// or socks5:// URL"},
		{Proxy{URL: "http://"}, "proxy_url: \"http://\": no host"},
		{Proxy{URL: "http://proxy:3128", FromEnvironment: true}, "proxy_from_environment: must not be true with proxy_url"},
		{Proxy{NoProxy: "a"}, "no_proxy: needs proxy_url"},
		{Proxy{NoProxy: "a", FromEnvironment: true}, "no_proxy: is for proxy_url"},
	} {
		var got string
		c.p.Rules(func(key, msg string) {
			if got == "" {
				got = key + ": " + msg
			}
		})
		if c.want == "" && got != "" || c.want != "" && (len(got) < len(c.want) || got[:len(c.want)] != c.want) {
			t.Errorf("%+v: %q, want %q", c.p, got, c.want)
		}
	}
}
