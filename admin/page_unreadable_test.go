package admin

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources"
)

// TestStatusPageShowsUnreadableFile loads the status page in headless
// Chromium with a source whose only file cannot be opened (permission
// denied, injected through the tailer's Open seam: the tests run as root):
// the file's row shows the state unreadable, since when and the error, and
// the readiness table shows source_unreadable.
func TestStatusPageShowsUnreadableFile(t *testing.T) {
	bin := chromium(t)
	e := newEnv(t, envOptions{})
	secretDir := filepath.Join(e.dir, "secret")
	if err := os.MkdirAll(secretDir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(secretDir, "secret.log")
	if err := os.WriteFile(secret, []byte("hidden\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := sources.NewFile(nil, nil, sources.FileOptions{Name: "vault", Paths: []string{filepath.Join(secretDir, "*.log")},
		PollInterval: 20 * time.Millisecond, Emitter: e.p, Conditions: e.p,
		Open: func(p string) (*os.File, error) { return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES} }})
	if err != nil {
		t.Fatal(err)
	}
	e.p.ReportSources(src)
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() }) // before the pipeline's close (cleanups run last first)
	var since time.Time
	waitFor(t, "the file unreadable and the source not ready", func() bool {
		ready, _ := e.p.Readiness()
		for _, s := range e.p.SourcesStatus() {
			for _, f := range s.Files {
				if f.Path == secret && f.State == sources.FileUnreadable && f.Since != nil {
					since = *f.Since
					return !ready
				}
			}
		}
		return false
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var dom, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(), "--dump-dom", e.url("/"))
	cmd.Stdout, cmd.Stderr = &dom, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	page := dom.String()
	text := func(html string) string {
		return strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(html, " ")), " ")
	}
	var row string
	for _, m := range regexp.MustCompile(`(?s)<tr class="file">(.*?)</tr>`).FindAllStringSubmatch(page, -1) {
		if strings.Contains(m[1], secret) {
			row = text(m[1])
		}
	}
	if row == "" {
		t.Fatalf("no row for %s:\n%s", secret, page)
	}
	for _, want := range []string{"unreadable", since.UTC().Format(time.RFC3339), "open " + secret + ": permission denied"} {
		if !strings.Contains(row, want) {
			t.Errorf("the row of %s, %q, lacks %q", secret, row, want)
		}
	}
	if all := text(page); !strings.Contains(all, "Readiness: not_ready") || !strings.Contains(all, "source/vault source_unreadable") {
		t.Errorf("the readiness table does not show source_unreadable on source/vault:\n%s", all)
	}
}
