package receiver

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/logcapturer/logcapturer/config"
)

// Auth is what a client must send: a bearer token, or a user and
// password (basic auth), or nothing when neither is set. Secrets in files
// are read again at most once a second, so a rotated secret applies
// without a reload.
type Auth struct {
	BasicAuth       BasicAuth `yaml:"basic_auth"`
	BearerToken     string    `yaml:"bearer_token"`
	BearerTokenFile string    `yaml:"bearer_token_file"`
}

// BasicAuth is a user and its password (or a file holding it).
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Enabled reports whether clients must authenticate.
func (a Auth) Enabled() bool { return a.bearer() || a.basic() }

func (a Auth) bearer() bool { return a.BearerToken != "" || a.BearerTokenFile != "" }
func (a Auth) basic() bool  { return a.BasicAuth != BasicAuth{} }

// Check reports contradictory keys: both a token and basic auth, a
// secret and its file, a user without a password.
func (a Auth) Check(ck *config.Check) {
	if a.bearer() && a.basic() {
		ck.Problem("basic_auth", "cannot be set with bearer_token or bearer_token_file")
	}
	if a.BearerToken != "" && a.BearerTokenFile != "" {
		ck.Problem("bearer_token_file", "cannot be set with bearer_token")
	}
	b := a.BasicAuth
	if a.basic() {
		if b.Username == "" {
			ck.Problem("basic_auth.username", "is required with basic_auth")
		}
		switch {
		case b.Password != "" && b.PasswordFile != "":
			ck.Problem("basic_auth.password_file", "cannot be set with basic_auth.password")
		case b.Password == "" && b.PasswordFile == "":
			ck.Problem("basic_auth.password", "is required with basic_auth (or password_file)")
		}
	}
}

// CheckFiles reports secret files that cannot be read.
func (a Auth) CheckFiles(ck *config.Check) {
	ck.SecretFile("bearer_token_file", a.BearerTokenFile)
	ck.SecretFile("basic_auth.password_file", a.BasicAuth.PasswordFile)
}

// authenticator checks requests against an Auth. Safe for concurrent use.
type authenticator struct {
	a Auth

	mu     sync.Mutex
	read   time.Time // when the secret file was last read
	secret [sha256.Size]byte
	err    error
}

// secretSum is the hash of the configured secret (token or password),
// re-reading its file at most once a second.
func (v *authenticator) secretSum(now time.Time) ([sha256.Size]byte, error) {
	file, key := v.a.BearerTokenFile, "bearer_token_file"
	lit := v.a.BearerToken
	if v.a.basic() {
		file, key, lit = v.a.BasicAuth.PasswordFile, "basic_auth.password_file", v.a.BasicAuth.Password
	}
	if file == "" {
		return sha256.Sum256([]byte(lit)), nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.read.IsZero() || now.Sub(v.read) >= time.Second || now.Before(v.read) {
		s, err := config.ReadSecret(key, file)
		if err == nil && s == "" {
			err = errEmptySecret(key)
		}
		v.read, v.err = now, err
		v.secret = sha256.Sum256([]byte(s))
	}
	return v.secret, v.err
}

type errEmptySecret string

func (e errEmptySecret) Error() string { return string(e) + ": the file is empty" }

// check reports whether r carries the credentials; err is set when the
// secret itself cannot be read (the request is refused, 500).
func (v *authenticator) check(r *http.Request, now time.Time) (ok bool, err error) {
	if !v.a.Enabled() {
		return true, nil
	}
	want, err := v.secretSum(now)
	if err != nil {
		return false, err
	}
	var got string
	if v.a.basic() {
		user, pass, has := r.BasicAuth()
		if !has || subtle.ConstantTimeCompare([]byte(user), []byte(v.a.BasicAuth.Username)) != 1 {
			return false, nil
		}
		got = pass
	} else {
		h := r.Header.Get("Authorization")
		scheme, tok, has := strings.Cut(h, " ")
		if !has || !strings.EqualFold(scheme, "Bearer") {
			return false, nil
		}
		got = strings.TrimSpace(tok)
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1, nil
}

// challenge is the WWW-Authenticate of a 401.
func (v *authenticator) challenge() string {
	if v.a.basic() {
		return `Basic realm="logcapturer"`
	}
	return `Bearer realm="logcapturer"`
}
