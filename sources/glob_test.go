package sources

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestDoubleStarGlobs: Promtail's "**" (any depth, none included) and
// {a,b} globs tail the files they match at startup and the ones that
// appear later in directories created later, at any depth; the excludes
// take "**" too. Before, config refused both. A glob that matches nothing
// at startup is logged with the directory above its patterns.
func TestDoubleStarGlobs(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"app/top.log", "app/x/mid.log", "app/x/y/deep.log", "web/w.log", "other/o.log", "app/debug/noisy.log"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		appendFile(t, filepath.Join(dir, f), filepath.Base(f)+"\n")
	}
	h := newHarness(t, FileOptions{
		Paths:   []string{filepath.Join(dir, "{app,web}", "**", "*.log"), filepath.Join(dir, "{none,nil}", "*.log")},
		Exclude: []string{filepath.Join(dir, "**", "debug", "*.log")},
		// A long rescan: a file in a new directory is found through the
		// watch of its parent, not by a rescan.
		PollInterval: time.Hour,
	})
	h.start(t)
	want := []string{"deep.log", "mid.log", "top.log", "w.log"}
	waitFor(t, func() bool { return len(h.rec.lines("")) >= len(want) }, 5*time.Second, "the files at startup")
	if got := slices.Sorted(slices.Values(h.rec.lines(""))); !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}

	// The glob that matches nothing is named with the directory above its
	// patterns, which exists.
	if n := h.log.count("dir=" + dir + " dir_exists=true"); n != 1 {
		t.Errorf("%d warnings naming %s as the glob's existing directory, want 1; log:\n%s", n, dir, h.log)
	}

	// A directory tree created now, two levels below a watched one.
	newDir := filepath.Join(dir, "app", "new", "deeper")
	if err := os.MkdirAll(newDir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, filepath.Join(newDir, "fresh.log"), "fresh\n")
	appendFile(t, filepath.Join(dir, "app", "debug", "noisy.log"), "still excluded\n")
	h.rec.waitLines(t, idOf(t, filepath.Join(newDir, "fresh.log")), "fresh")
	for _, l := range h.rec.lines("") {
		if l == "noisy.log" || l == "still excluded" || l == "o.log" {
			t.Fatalf("read %q from a file the globs leave out", l)
		}
	}
}
