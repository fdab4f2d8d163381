package glob

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFiles: "**" matches any number of directories (none included) and
// follows a symlinked directory (reading it under one name), {a,b} either
// alternative, and a plain pattern what filepath.Glob matches.
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
		// link is a second name of a: a is read under its first name only.
		{"/**/*.log", []string{"/a/b/deep.log", "/c/other.log", "/d/skip.log", "/top.log"}},
		{"/link/**/*.log", []string{"/link/b/deep.log"}},
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

// TestFilesSymlinkLoops: links back up the tree do not make a "**" walk
// endless (two of them: 2^40 paths before ELOOP with doublestar alone); a
// link out of the tree is followed.
func TestFilesSymlinkLoops(t *testing.T) {
	d, out := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(d, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(d, "a", "b", "x.log"), nil, 0o644)
	os.WriteFile(filepath.Join(out, "o.log"), nil, 0o644)
	for link, to := range map[string]string{"a/up": d, "a/b/up": d, "a/b/upa": filepath.Join(d, "a"), "ext": out} {
		if err := os.Symlink(to, filepath.Join(d, link)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan []string)
	go func() { done <- Files(d + "/**/*.log") }()
	select {
	case m := <-done:
		slices.Sort(m)
		if want := []string{d + "/a/b/x.log", d + "/ext/o.log"}; !slices.Equal(m, want) {
			t.Fatalf("Files = %q, want %q", m, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the walk did not end in 10 s")
	}
}
