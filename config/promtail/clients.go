package promtail

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Promtail's client defaults, written out where they differ from a loki
// sink's.
const (
	defaultBatchWait  = "1s"
	defaultBatchSize  = 1 << 20
	defaultMinPeriod  = "500ms"
	defaultMaxPeriod  = "5m"
	defaultMaxRetries = 10
)

// client converts one clients entry into a loki sink named name.
func (c *conv) client(n *yaml.Node, path, name string) *yaml.Node {
	f, ok := c.fields(n, path, "url", "tenant_id", "basic_auth", "bearer_token", "bearer_token_file", "tls_config",
		"external_labels", "batchwait", "batchsize", "backoff_config", "timeout", "headers", "drop_rate_limited_batches",
		"proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header", "oauth2", "authorization",
		"follow_redirects", "enable_http2", "http_headers", "name", "stream_lag_labels")
	if !ok {
		return nil
	}
	s := mapping()
	c.from(s, n, path)
	c.put(s, "name", str(name), n, path)
	c.put(s, "type", str("loki"), n, path)
	var fromURL *yaml.Node // basic_auth made of the URL's user and password
	if e, ok := f["url"]; ok {
		if _, ok := c.scalar(e, "a URL"); ok {
			var u *yaml.Node
			u, fromURL = c.urlAuth(e)
			c.put(s, "url", u, e.k, e.path)
		}
	} else {
		c.problem(n.Line, joinKey(path, "url"), "is required")
	}
	if fromURL != nil {
		// Go's HTTP client sets the URL's user and password first;
		// Promtail's basic_auth and authorization then send nothing.
		for _, key := range []string{"basic_auth", "authorization", "bearer_token", "bearer_token_file"} {
			if e, ok := f[key]; ok {
				c.note(e.k.Line, e.path, "promtail: not used, as in Promtail: the user and password in the url are sent (as basic_auth)")
				delete(f, key)
			}
		}
		c.put(s, "basic_auth", fromURL, f["url"].k, f["url"].path).HeadComment = "promtail: the user and password of the url, which Promtail sends as basic auth"
	}
	for _, key := range []string{"tenant_id", "bearer_token", "bearer_token_file", "proxy_url", "no_proxy"} {
		if e, ok := f[key]; ok {
			if _, ok := c.scalar(e, "a string"); ok {
				c.put(s, key, c.outStr(e.v), e.k, e.path)
			}
		}
	}
	if e, ok := f["proxy_from_environment"]; ok {
		if b, ok := c.boolean(e); ok {
			c.put(s, "proxy_from_environment", plain(strconv.FormatBool(b)), e.k, e.path)
		}
	}
	if e, ok := f["basic_auth"]; ok {
		if b, ok := c.fields(e.v, e.path, "username", "password", "password_file", "username_file"); ok {
			ba := mapping()
			for _, key := range []string{"username", "password", "password_file"} {
				if be, ok := b[key]; ok {
					if _, ok := c.scalar(be, "a string"); ok {
						c.put(ba, key, c.outStr(be.v), be.k, be.path)
					}
				}
			}
			if be, ok := b["username_file"]; ok {
				c.notCovered(be.k.Line, be.path, "username_file is not supported: write the user name in username")
			}
			c.put(s, "basic_auth", ba, e.k, e.path)
		}
	}
	if e, ok := f["authorization"]; ok {
		c.authorization(e, s)
	}
	if e, ok := f["tls_config"]; ok {
		c.tls(e, s)
	}
	if e, ok := f["external_labels"]; ok {
		if m := c.labels(e); m != nil {
			// __tenant_id__ among them is every entry's tenant in
			// Promtail (the label wins over tenant_id): the sink's
			// tenant_id here.
			if v := takeKey(m, "__tenant_id__"); v != nil {
				setKey(s, "tenant_id", v)
				c.note(e.k.Line, joinKey(e.path, "__tenant_id__"), "promtail: the tenant of every entry: converted to tenant_id")
			}
			if len(m.Content) > 0 {
				c.put(s, "labels", m, e.k, e.path).HeadComment = "promtail: external_labels"
			}
		}
	}
	if e, ok := f["headers"]; ok {
		if hs, ok := c.stringMap(e); ok {
			m := mapping()
			for _, h := range hs {
				// Promtail adds a header only when the request has none
				// of that name: Content-Type never, X-Scope-OrgID when no
				// tenant applies, which is what tenant_id is.
				switch {
				case strings.EqualFold(h.k.Value, "Content-Type"):
					c.note(h.k.Line, h.path, "promtail: left out: Promtail sets Content-Type itself, and never sends this one")
				case strings.EqualFold(h.k.Value, "X-Scope-OrgID") && hasKey(s, "tenant_id"):
					c.note(h.k.Line, h.path, "promtail: left out: Promtail sends it only when no tenant applies, and tenant_id does")
				case strings.EqualFold(h.k.Value, "X-Scope-OrgID"):
					setKey(s, "tenant_id", c.outStr(h.v))
					c.note(h.k.Line, h.path, "promtail: converted to tenant_id: the tenant of entries that name none, as Promtail sends this header")
				default:
					c.put(m, h.k.Value, c.outStr(h.v), h.k, h.path)
				}
			}
			if len(m.Content) > 0 {
				c.put(s, "headers", m, e.k, e.path)
			}
		}
	}
	if e, ok := f["timeout"]; ok {
		if d, ok := c.duration(e); ok {
			c.put(s, "timeout", plain(d), e.k, e.path)
		}
	}

	batch := mapping()
	wait, waitFrom, waitKey := defaultBatchWait, n, path
	if e, ok := f["batchwait"]; ok {
		if d, ok := c.duration(e); ok {
			wait, waitFrom, waitKey = d, e.k, e.path
		}
	}
	c.put(batch, "max_wait", plain(wait), waitFrom, waitKey)
	size, sizeFrom, sizeKey := int64(defaultBatchSize), n, path
	if e, ok := f["batchsize"]; ok {
		if v, ok := c.integer(e); ok {
			size, sizeFrom, sizeKey = v, e.k, e.path
		}
	}
	c.put(batch, "max_bytes", plain(strconv.FormatInt(size, 10)), sizeFrom, sizeKey)
	c.put(s, "batch", batch, n, path)

	retry := mapping()
	minP, maxP, retries := defaultMinPeriod, defaultMaxPeriod, int64(defaultMaxRetries)
	retryFrom, retryKey := n, path
	if e, ok := f["backoff_config"]; ok {
		retryFrom, retryKey = e.k, e.path
		if b, ok := c.fields(e.v, e.path, "min_period", "max_period", "max_retries"); ok {
			if be, ok := b["min_period"]; ok {
				if d, ok := c.duration(be); ok {
					minP = d
				}
			}
			if be, ok := b["max_period"]; ok {
				if d, ok := c.duration(be); ok {
					maxP = d
				}
			}
			if be, ok := b["max_retries"]; ok {
				if v, ok := c.integer(be); ok {
					retries = v
				}
			}
		}
	}
	c.put(retry, "min_backoff", plain(minP), retryFrom, retryKey+".min_period")
	c.put(retry, "max_backoff", plain(maxP), retryFrom, retryKey+".max_period")
	k := c.put(retry, "max_attempts", plain(strconv.FormatInt(retries, 10)), retryFrom, retryKey+".max_retries")
	if retries > 0 {
		k.HeadComment = "promtail: Promtail drops a batch after max_retries; logcapturer moves it to the dead-letter queue\n" +
			"(logcapturer dlq list / replay), so nothing is lost; 0 retries for ever"
	}
	c.put(s, "retry", retry, retryFrom, retryKey)

	if e, ok := f["drop_rate_limited_batches"]; ok {
		if b, ok := c.boolean(e); ok && b {
			s.Content[len(s.Content)-2].HeadComment = c.note(e.k.Line, e.path,
				"promtail: drop_rate_limited_batches: logcapturer retries a batch Loki refused with 429 like any retryable error and drops nothing; its backlog waits on disk")
		}
	}
	for _, key := range []string{"proxy_connect_header", "oauth2", "http_headers"} {
		if e, ok := f[key]; ok {
			c.notCovered(e.k.Line, e.path, "%s is not supported by the loki sink", key)
		}
	}
	for _, key := range []string{"follow_redirects", "enable_http2", "name", "stream_lag_labels"} {
		if e, ok := f[key]; ok {
			c.note(e.k.Line, e.path, "promtail: %s is ignored", key)
		}
	}
	return s
}

// authorization converts a client's authorization section (Prometheus's
// HTTP client configuration: type, default Bearer, with credentials or
// credentials_file) into the sink's bearer_token or bearer_token_file; the
// sink sends no other type.
func (c *conv) authorization(e entry, s *yaml.Node) {
	a, ok := c.fields(e.v, e.path, "type", "credentials", "credentials_file")
	if !ok {
		return
	}
	if te, ok := a["type"]; ok {
		if typ, ok := c.scalar(te, "a string"); ok && !strings.EqualFold(typ, "Bearer") {
			c.notCovered(te.k.Line, te.path, "%q: the loki sink sends Authorization: Bearer only (or basic_auth)", typ)
			return
		}
	}
	for _, kv := range [][2]string{{"credentials", "bearer_token"}, {"credentials_file", "bearer_token_file"}} {
		key, to := kv[0], kv[1]
		if ce, ok := a[key]; ok {
			if _, ok := c.scalar(ce, "a string"); ok {
				c.put(s, to, c.outStr(ce.v), ce.k, ce.path)
			}
		}
	}
}

// tls converts a client's tls_config into the sink's tls section.
func (c *conv) tls(e entry, s *yaml.Node) {
	t, ok := c.fields(e.v, e.path, "ca_file", "cert_file", "key_file", "insecure_skip_verify", "server_name", "min_version",
		"ca", "cert", "key", "max_version")
	if !ok {
		return
	}
	m := mapping()
	for _, key := range []string{"ca_file", "cert_file", "key_file"} {
		if te, ok := t[key]; ok {
			if _, ok := c.scalar(te, "a path"); ok {
				c.put(m, key, c.outStr(te.v), te.k, te.path)
			}
		}
	}
	if te, ok := t["insecure_skip_verify"]; ok {
		if b, ok := c.boolean(te); ok {
			c.put(m, "insecure_skip_verify", plain(strconv.FormatBool(b)), te.k, te.path)
		}
	}
	for _, key := range []string{"server_name", "ca", "cert", "key"} {
		if te, ok := t[key]; ok {
			hint := "give the file with " + key + "_file"
			if key == "server_name" {
				hint = "the name in the URL is verified"
			}
			c.notCovered(te.k.Line, te.path, "tls_config.%s is not supported (%s)", key, hint)
		}
	}
	for _, key := range []string{"min_version", "max_version"} {
		if te, ok := t[key]; ok {
			c.note(te.k.Line, te.path, "promtail: ignored: logcapturer speaks TLS 1.2 or later")
		}
	}
	c.put(s, "tls", m, e.k, e.path)
}

// parseSize parses a size as Promtail's flagext.ByteSize does: a number of
// bytes with an optional unit (KB, MB, GB are powers of 1000; KiB, MiB,
// GiB of 1024).
func parseSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	mult := int64(1)
	units := []struct {
		name string
		mult int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"kB", 1000}, {"K", 1000}, {"M", 1000 * 1000}, {"G", 1000 * 1000 * 1000}, {"B", 1}}
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.name); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// takeKey removes key from mapping m and returns its value node (nil when
// m has no such key).
func takeKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return v
		}
	}
	return nil
}

// setKey sets key in mapping m to v, over a value it had.
func setKey(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, plain(key), v)
}
