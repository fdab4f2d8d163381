package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadSecret: the one reader of password, token and bearer token
// files trims surrounding whitespace (the editor's newline, a CRLF), as
// Promtail does, keeps inner spaces, and its error names the key and the
// file.
func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		{"s3cret", "s3cret"},
		{"  s3 cret \t\n\n", "s3 cret"},
		{"\n", ""},
	} {
		path := filepath.Join(dir, "pw")
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadSecret("basic_auth.password_file", path); err != nil || got != tc.want {
			t.Errorf("ReadSecret of %q = %q, %v; want %q", tc.content, got, err, tc.want)
		}
	}

	missing := filepath.Join(dir, "nope")
	_, err := ReadSecret("sasl.password_file", missing)
	if err == nil || !strings.HasPrefix(err.Error(), "sasl.password_file: ") || !strings.Contains(err.Error(), missing) ||
		!errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v; want an error naming the key and %s, and fs.ErrNotExist", err, missing)
	}
}

// secretOpts is a sink type's options with a secret file.
type secretOpts struct{ path string }

func (o *secretOpts) Check(c *Check) { c.SecretFile("basic_auth.password_file", o.path) }

// TestCheckSecretFile: a FileChecker reports an unreadable secret file at
// its key, naming the file; an empty path is not checked.
func TestCheckSecretFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	err := CheckOnly(&secretOpts{path: missing})
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Key != "basic_auth.password_file" ||
		!strings.Contains(ce.Problems[0].Msg, "cannot be read: open "+missing) {
		t.Errorf("missing file: %v", err)
	}
	if err := CheckOnly(&secretOpts{}); err != nil {
		t.Errorf("no file: %v", err)
	}
}
