package sinks

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"github.com/logcapturer/logcapturer/config"
)

// BasicAuth is HTTP basic authentication, the basic_auth section of an
// HTTP sink. Password and PasswordFile are mutually exclusive; the file is
// re-read on every request, with config.ReadSecret (surrounding whitespace
// trimmed).
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Enabled reports whether any key is set.
func (b BasicAuth) Enabled() bool {
	return b.Username != "" || b.Password != "" || b.PasswordFile != ""
}

// HTTPAuth is how an HTTP sink authenticates: basic_auth, bearer_token or
// bearer_token_file (at most one). Files are re-read on every request, so
// a rotated password or token is picked up.
type HTTPAuth struct {
	Basic           BasicAuth
	BearerToken     string
	BearerTokenFile string
}

// ErrCredentials is wrapped by Apply's error: a password or token file
// could not be read.
var ErrCredentials = errors.New("read credentials")

// Enabled reports whether any credential is set.
func (a HTTPAuth) Enabled() bool {
	return a.Basic.Enabled() || a.BearerToken != "" || a.BearerTokenFile != ""
}

// Rules reports, with their keys, the combinations that are not allowed:
// basic_auth without a username, password with password_file, basic_auth
// with a bearer token, bearer_token with bearer_token_file.
func (a HTTPAuth) Rules(report func(key, msg string)) {
	if ba := a.Basic; ba.Enabled() {
		if ba.Username == "" {
			report("basic_auth.username", "required with basic_auth")
		}
		if ba.Password != "" && ba.PasswordFile != "" {
			report("basic_auth", "password and password_file are mutually exclusive")
		}
		if a.BearerToken != "" || a.BearerTokenFile != "" {
			report("basic_auth", "basic_auth and bearer_token/bearer_token_file are mutually exclusive")
		}
	}
	if a.BearerToken != "" && a.BearerTokenFile != "" {
		report("bearer_token", "bearer_token and bearer_token_file are mutually exclusive")
	}
}

// ReadFiles checks that the password and token files, if set, can be
// read now (a sink's New); the error is config.ReadSecret's.
func (a HTTPAuth) ReadFiles() error {
	for _, f := range []struct{ key, path string }{
		{"basic_auth.password_file", a.Basic.PasswordFile}, {"bearer_token_file", a.BearerTokenFile}} {
		if f.path == "" {
			continue
		}
		if _, err := config.ReadSecret(f.key, f.path); err != nil {
			return err
		}
	}
	return nil
}

// CheckFiles reports a password or token file that cannot be read, for a
// FileChecker's CheckFiles.
func (a HTTPAuth) CheckFiles(c *config.Check) {
	c.SecretFile("basic_auth.password_file", a.Basic.PasswordFile)
	c.SecretFile("bearer_token_file", a.BearerTokenFile)
}

// Apply sets h's Authorization header from the credentials, reading the
// password or token file. Its error wraps ErrCredentials. Safe for
// concurrent use.
func (a HTTPAuth) Apply(h http.Header) error {
	switch ba := a.Basic; {
	case ba.Enabled():
		pw := ba.Password
		if ba.PasswordFile != "" {
			var err error
			if pw, err = config.ReadSecret("basic_auth.password_file", ba.PasswordFile); err != nil {
				return fmt.Errorf("%w: %w", ErrCredentials, err)
			}
		}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ba.Username+":"+pw)))
	case a.BearerTokenFile != "":
		tok, err := config.ReadSecret("bearer_token_file", a.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCredentials, err)
		}
		h.Set("Authorization", "Bearer "+tok)
	case a.BearerToken != "":
		h.Set("Authorization", "Bearer "+a.BearerToken)
	}
	return nil
}

// HTTPHeader is a request header compiled by CompileHeaders.
type HTTPHeader struct{ Name, Value string }

// CompileHeaders returns h's headers with canonical names, sorted by name.
func CompileHeaders(h map[string]string) []HTTPHeader {
	out := make([]HTTPHeader, 0, len(h))
	for k, v := range h {
		out = append(out, HTTPHeader{http.CanonicalHeaderKey(k), v})
	}
	slices.SortFunc(out, func(a, b HTTPHeader) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// CheckHeaders reports, at key headers and in name order, each header of
// h whose name is not a valid header name, that the sink owns (reserved
// returns the message, given the name and its canonical form; "" means
// the user may set it), or whose value holds a line break or NUL.
func CheckHeaders(h map[string]string, reserved func(name, canon string) string, report func(key, msg string)) {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if name == "" || !validHeaderName(name) {
			report("headers", fmt.Sprintf("%q is not a valid header name", name))
		} else if msg := reserved(name, textproto.CanonicalMIMEHeaderKey(name)); msg != "" {
			report("headers", msg)
		} else if strings.ContainsAny(h[name], "\r\n\x00") {
			report("headers", fmt.Sprintf("value of %q contains a line break or NUL", name))
		}
	}
}

func validHeaderName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
