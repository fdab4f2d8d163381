package glob

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// extended reports whether p uses "**" or {a,b}.
func extended(p string) bool {
	return strings.Contains(p, "**") || strings.ContainsAny(p, "{}")
}

// Check reports why p is not a pattern Match and Files accept, nil if it
// is. The message follows the config key it is about.
func Check(p string) error {
	if p == "" {
		return errors.New("must not be empty")
	}
	if !extended(p) {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("is not a valid glob pattern: %q", p)
		}
		return nil
	}
	for _, elem := range strings.Split(p, string(filepath.Separator)) {
		if strings.Contains(elem, "**") && elem != "**" {
			return fmt.Errorf("\"**\" must be a whole path element, as in /var/log/**/*.log (inside one it would mean *), got %q", p)
		}
	}
	if !doublestar.ValidatePathPattern(p) {
		return fmt.Errorf("is not a valid glob pattern: %q", p)
	}
	return nil
}

// Match reports whether name matches the pattern p (checked by Check;
// false if it does not compile).
func Match(p, name string) bool {
	if extended(p) {
		return doublestar.PathMatchUnvalidated(p, name)
	}
	ok, _ := filepath.Match(p, name)
	return ok
}

// Files returns the existing paths that match p (checked by Check), files
// and directories, sorted as their walk found them. I/O errors skip what
// they hide, as filepath.Glob does.
func Files(p string) []string {
	if extended(p) {
		m, _ := doublestar.FilepathGlob(p)
		return m
	}
	m, _ := filepath.Glob(p)
	return m
}

// HasMeta reports whether p has any character Match treats specially: a
// pattern without one names a single path.
func HasMeta(p string) bool { return strings.ContainsAny(p, `*?[\{`) }

// Base returns the directory that every match of p is in: its leading
// path elements without a special character ("/var/log" for
// /var/log/{a,b}/**/*.log, "." for a relative *.log).
func Base(p string) string {
	dir := filepath.Dir(p)
	for HasMeta(dir) {
		dir = filepath.Dir(dir)
	}
	return dir
}
