package pipeline

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// mountTmpfs mounts a tmpfs of the given size at a temp dir, or skips.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a size-limited tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestENOSPC: a full disk while appending is handled like full_policy
// block: ingestion waits, nothing is lost or corrupt, and it resumes when
// space frees.
func TestENOSPC(t *testing.T) {
	fs := mountTmpfs(t, "16m")
	s := &memSink{name: "s"}
	p := openTest(t, filepath.Join(fs, "data"), nil, Options{SegmentSize: 1 << 20}, s)
	// Leave about 2 MiB free.
	filler := filepath.Join(fs, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := 0; i < 13; i++ {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	line := strings.Repeat("e", 2000)
	const n = 3000 // 6 MB: more than is free
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			emit(t, p, "app", "f", int64(i), fmt.Sprintf("%05d %s", i, line))
		}
	}()
	waitFor(t, "an append failing with ENOSPC", func() bool { return testutil.ToFloat64(p.m.appendErrors) > 0 })
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	<-done
	waitFor(t, "every line delivered", func() bool { return len(s.lines()) >= n })
	seen := map[string]int{}
	for _, l := range s.lines() {
		seen[l[:5]]++
	}
	for i := 0; i < n; i++ {
		if c := seen[fmt.Sprintf("%05d", i)]; c != 1 {
			t.Fatalf("line %d delivered %d times", i, c)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
