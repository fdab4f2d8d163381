package admin

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
)

// chromium finds Debian's headless browser; the test is skipped, saying
// so, where there is none (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: the status page is not checked in a browser (apt-get install chromium)")
	return ""
}

// TestStatusPageInBrowser loads the status page in headless Chromium,
// takes a screenshot, and checks the rendered page shows every sink with
// its state, cursor and lag, the files with their offsets, and the dead
// letters, as /api/v1/status says.
func TestStatusPageInBrowser(t *testing.T) {
	bin := chromium(t)
	e := newEnv(t, envOptions{token: testToken})
	e.sinks["bad"].reject.Store(true)
	e.write("a.log", 0, 25, 4)
	waitFor(t, "good delivered", func() bool { return len(e.sinks["good"].got()) == 25 })
	waitFor(t, "bad dead letter", func() bool { st, _ := e.p.SinkStatus("bad"); return st.DLQEntries > 0 })
	e.settled()
	var st pipeline.Status
	e.get("/api/v1/status", &st)

	shot := filepath.Join(t.TempDir(), "status.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var dom, stderr bytes.Buffer
	run := func(args ...string) {
		t.Helper()
		dom.Reset()
		stderr.Reset()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
			"--user-data-dir=" + t.TempDir(), "--window-size=1600,1000"}, args...)...)
		cmd.Stdout, cmd.Stderr = &dom, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
	}
	run("--screenshot="+shot, e.url("/"))
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10000 {
		t.Fatalf("screenshot %s: %v (%d bytes)\n%s", shot, err, fi.Size(), stderr.String())
	}
	if dir := os.Getenv("LOGCAPTURER_SCREENSHOT_DIR"); dir != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(filepath.Join(dir, "status.png"), b, 0o644)
	}
	run("--dump-dom", e.url("/"))
	page := dom.String()
	text := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(page, " ")
	text = strings.Join(strings.Fields(text), " ")
	if !strings.Contains(page, `http-equiv="refresh"`) || strings.Contains(page, "<script") {
		t.Fatalf("page: want a meta refresh and no script:\n%s", page)
	}
	for _, s := range st.Sinks {
		row := regexp.MustCompile(`(?s)<tr class="sink" id="sink-` + s.Name + `">(.*?)</tr>`).FindStringSubmatch(page)
		if row == nil {
			t.Fatalf("no row for sink %s:\n%s", s.Name, page)
		}
		cells := strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(row[1], " ")), " ")
		for _, want := range []string{s.Name, s.State, strconv.FormatUint(s.Cursor, 10), strconv.FormatInt(s.LagEntries, 10),
			strconv.Itoa(s.DLQEntries)} {
			if !strings.Contains(cells, want) {
				t.Errorf("sink %s row %q lacks %q", s.Name, cells, want)
			}
		}
	}
	for _, f := range st.Sources[0].Files {
		for _, want := range []string{f.Path, f.FileID, strconv.FormatInt(f.Offset, 10)} {
			if !strings.Contains(text, want) {
				t.Errorf("page lacks file %s's %q", f.Path, want)
			}
		}
	}
	for _, want := range []string{"Readiness: ready", "logcapturer test", strconv.FormatUint(st.WAL.DurableIndex, 10), "bad line"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q:\n%s", want, text)
		}
	}
}
