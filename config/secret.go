package config

import (
	"fmt"
	"os"
	"strings"
)

// ReadSecret reads the secret in the file at path, which the config key
// key names (basic_auth.password_file, sasl.password_file,
// admin.token_file, ...): the file's content with surrounding whitespace
// trimmed, so the newline an editor or `echo` adds is not part of the
// secret (Promtail trims a password_file or bearer_token_file the same
// way). An empty result is returned as is; a caller that needs a secret
// says so. The error names the key and the file:
//
//	basic_auth.password_file: open /etc/lc/loki.pass: no such file or directory
//
// Secrets are read where they are used, each time the caller needs one,
// so a rotated secret file is picked up without a reload. Safe for
// concurrent use.
func ReadSecret(key, path string) (string, error) {
	s, err := readSecret(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return s, nil
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err // an *fs.PathError: "open PATH: cause"
	}
	return strings.TrimSpace(string(b)), nil
}

// SecretFile reports a secret file at key that ReadSecret could not read
// ("cannot be read: open PATH: cause"); an empty path is not checked. It
// is for a FileChecker's CheckFiles.
func (c *Check) SecretFile(key, path string) {
	if path == "" {
		return
	}
	if _, err := readSecret(path); err != nil {
		c.Problem(key, "cannot be read: %v", err)
	}
}
