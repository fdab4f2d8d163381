package glob

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFiles: "**" matches any number of directories (none included) and
// follows a symlinked directory, {a,b} either alternative, and a plain
// pattern what filepath.Glob matches.
func TestFiles(t *testing.T) {
	d := t.TempDir()
	for _, f := range []string{"top.log", "a/b/deep.log", "a/x.txt", "c/other.log", "d/skip.log"} {
		os.MkdirAll(filepath.Join(d, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(d, f), nil, 0o644)
	}
	if err := os.Symlink(filepath.Join(d, "a"), filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pattern string
		want    []string
	}{
		{"/**/*.log", []string{"/a/b/deep.log", "/c/other.log", "/d/skip.log", "/link/b/deep.log", "/top.log"}},
		{"/a/**/*.log", []string{"/a/b/deep.log"}},
		{"/{a,c}/**/*.log", []string{"/a/b/deep.log", "/c/other.log"}},
		{"/*/*.log", []string{"/c/other.log", "/d/skip.log"}},
		{"/*.log", []string{"/top.log"}},
		{"/nope/**/*.log", nil},
	} {
		var got []string
		for _, m := range Files(d + c.pattern) {
			got = append(got, strings.TrimPrefix(m, d))
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("Files(%q) = %q, want %q", c.pattern, got, c.want)
		}
		for _, w := range c.want {
			if !Match(d+c.pattern, d+w) {
				t.Errorf("Match(%q, %q) = false", c.pattern, w)
			}
		}
	}
	if Match(d+"/a/**/*.log", d+"/c/other.log") || Match(d+"/*.log", d+"/a/b/deep.log") {
		t.Error("a pattern matches a path outside it")
	}
}

// TestBase: the fixed directory above a pattern's first special element.
func TestBase(t *testing.T) {
	for p, want := range map[string]string{
		"/var/log/*.log":          "/var/log",
		"/var/log/{a,b}/**/*.log": "/var/log",
		"/var/log/pods/*/*/*.log": "/var/log/pods",
		"/var/log/app.log":        "/var/log",
		"*.log":                   ".",
		"/var/l?g/x/*.log":        "/var",
	} {
		if got := Base(p); got != want {
			t.Errorf("Base(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestCheck: what compiles passes; "**" inside a path element, an
// unclosed class or brace, and "" are refused with the pattern named.
func TestCheck(t *testing.T) {
	for _, p := range []string{"/var/log/*.log", "/var/log/**/*.log", "/var/log/{nginx,app}/*.log", "**", "/var/log/[a-z]*.log"} {
		if err := Check(p); err != nil {
			t.Errorf("Check(%q) = %v", p, err)
		}
	}
	for p, want := range map[string]string{
		"/var/log/**.log":     "whole path element",
		"/var/log/[a-z.log":   "not a valid glob",
		"/var/log/{a,b/*.log": "not a valid glob",
		"":                    "must not be empty",
	} {
		if err := Check(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q) = %v, want %q", p, err, want)
		}
	}
}
