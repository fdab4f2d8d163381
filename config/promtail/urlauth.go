package promtail

import (
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// urlAuth converts a client url that carries a user and password
// (https://user:token@host/..., as Grafana Cloud's instructions write it):
// Promtail's HTTP client (Go's) sends them as basic auth, before any
// basic_auth or authorization of the client's config, which it then does
// not send. The loki sink refuses credentials in its URL (they would show
// in its status and logs), so they become basic_auth. It returns the url
// node to write and the basic_auth mapping, nil when the URL has no user.
// References stay references (KeepEnv), so no secret is written.
func (c *conv) urlAuth(e entry) (*yaml.Node, *yaml.Node) {
	ba := mapping()
	if c.keepsRef(e.v) {
		rest, user, pass, ok := splitUserinfo(c.raw[e.v].Value)
		if !ok {
			if u, err := url.Parse(e.v.Value); err == nil && u.User != nil {
				// ${LOKI_URL} holding https://user:token@host/...
				c.problem(e.k.Line, e.path, "expands to a URL with a user and password, which the loki sink keeps out of its url and a "+
					"reference cannot be split into: write basic_auth (username, password: ${VAR}) and a url without them")
			}
			return c.outStr(e.v), nil
		}
		// Go's URL parser, Promtail's, decodes them: so must the
		// literal parts here (glc_ab%2Fcd is glc_ab/cd).
		var err error
		if user, err = unescapeLiterals(user); err == nil {
			pass, err = unescapeLiterals(pass)
		}
		if err != nil {
			c.problem(e.k.Line, e.path, "the user or password in the URL is not valid percent-encoding: %v", err)
			return c.outStr(e.v), nil
		}
		c.put(ba, "username", str(keepRefs(user)), e.k, e.path)
		if pass != "" {
			c.put(ba, "password", str(keepRefs(pass)), e.k, e.path)
		}
		return str(keepRefs(rest)), ba
	}
	u, err := url.Parse(e.v.Value)
	if err != nil || u.User == nil {
		return c.outStr(e.v), nil // a URL that does not parse: the sink's check says so
	}
	rest, _, _, _ := splitUserinfo(e.v.Value)
	c.put(ba, "username", str(escape(u.User.Username())), e.k, e.path)
	if pass, ok := u.User.Password(); ok && pass != "" {
		c.put(ba, "password", str(escape(pass)), e.k, e.path)
	}
	return str(escape(rest)), ba
}

// splitUserinfo splits a URL as written ("https://${U}:${P}@host/path")
// into the URL without its user information, the user and the password
// (not decoded), skipping ${...} references. ok is false when s has no
// "scheme://" or no "@" in its authority.
func splitUserinfo(s string) (rest, user, pass string, ok bool) {
	i := strings.Index(s, "://")
	if i < 0 {
		return "", "", "", false
	}
	start := i + 3
	end := start + indexOutsideRefs(s[start:], "/?#")
	if end < start {
		end = len(s)
	}
	authority := s[start:end]
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return "", "", "", false
	}
	info := authority[:at]
	user = info
	if colon := indexOutsideRefs(info, ":"); colon >= 0 {
		user, pass = info[:colon], info[colon+1:]
	}
	return s[:start] + authority[at+1:] + s[end:], user, pass, true
}

// indexOutsideRefs returns the index of the first byte of s in chars that
// is not inside a ${...} reference, or -1.
func indexOutsideRefs(s, chars string) int {
	depth := 0
	for j := 0; j < len(s); j++ {
		switch {
		case strings.HasPrefix(s[j:], "${"):
			depth++
			j++
		case s[j] == '}' && depth > 0:
			depth--
		case depth == 0 && strings.IndexByte(chars, s[j]) >= 0:
			return j
		}
	}
	return -1
}

// unescapeLiterals percent-decodes the text of s outside its $ references
// (${...}, $NAME, $$), as Go's URL parser decodes a URL's user and
// password; a "$" that decoding makes is written "$$" (a literal "$").
func unescapeLiterals(s string) (string, error) {
	var b, lit strings.Builder
	flush := func() error {
		d, err := url.PathUnescape(lit.String())
		if err != nil {
			return err
		}
		b.WriteString(strings.ReplaceAll(d, "$", "$$"))
		lit.Reset()
		return nil
	}
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) {
			lit.WriteByte(s[i])
			i++
			continue
		}
		j := i + 1
		switch c := s[j]; {
		case c == '$':
			j++
		case c == '{':
			if end := strings.IndexByte(s[i:], '}'); end >= 0 {
				j = i + end + 1
			} else {
				j = len(s)
			}
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			for j < len(s) && (s[j] == '_' || 'a' <= s[j] && s[j] <= 'z' || 'A' <= s[j] && s[j] <= 'Z' || '0' <= s[j] && s[j] <= '9') {
				j++
			}
		default: // a lone "$" is a "$"
			lit.WriteByte('$')
			i++
			continue
		}
		if err := flush(); err != nil {
			return "", err
		}
		b.WriteString(s[i:j])
		i = j
	}
	if err := flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}
