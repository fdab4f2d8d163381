package admin

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
)

// TestStatusPageRefusingSink: a real HTTP sink whose receiver answers 400
// to every push becomes refusing; the page, in headless Chromium, shows
// the sink's state, its destination without the URL's password or query
// values, its last error cut short in the cell and whole in the cell's
// title (on hover), and the sink_refusing warning, while readiness stays
// ready.
func TestStatusPageRefusingSink(t *testing.T) {
	bin := chromium(t)
	refusal := "entry for stream '{job=\"app\"}' has timestamp too old: 2026-11-22T13:32:52Z, oldest acceptable timestamp is: " +
		"2026-11-25T13:32:52Z; " + strings.Repeat("and so on ", 20) + "END-OF-ERROR"
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, refusal, http.StatusBadRequest)
	}))
	defer recv.Close()
	hook, err := sinks.NewHTTP(nil, sinks.HTTPOptions{Name: "webhook",
		URL: strings.Replace(recv.URL, "http://", "http://hook:pa55word@", 1) + "/ingest?token=t0ken"})
	if err != nil {
		t.Fatal(err)
	}
	defer hook.Close()
	e := newEnv(t, envOptions{sinks: []string{"good"}, extra: []pipeline.SinkOptions{{Sink: hook, Type: "http",
		MaxWait: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}}})
	// One write a send: the receiver refuses each.
	for k := 0; ; k++ {
		st, _ := e.p.SinkStatus("webhook")
		if st.State == pipeline.SinkRefusing {
			break
		}
		if k == 20 {
			t.Fatalf("not refusing after %d refused sends: %+v", k, st)
		}
		e.write("a.log", k, 1)
		waitFor(t, "the line refused", func() bool {
			st, _ := e.p.SinkStatus("webhook")
			return st.DLQEntries == k+1 && (k+1 < 5 || st.State == pipeline.SinkRefusing)
		})
	}
	var st pipeline.Status
	e.get("/api/v1/status", &st)
	want := recv.URL + "/ingest?token=xxxxx"
	if st.Ready.Status != "ready" || len(st.Warnings) != 1 || st.Sinks[1].Destination != want {
		t.Fatalf("status: ready %q, warnings %+v, destination %q; want ready, one warning, %q",
			st.Ready.Status, st.Warnings, st.Sinks[1].Destination, want)
	}

	page := browse(t, bin, e.url("/"))
	for _, secret := range []string{"pa55word", "t0ken"} {
		if strings.Contains(page, secret) {
			t.Errorf("page shows the credential %q", secret)
		}
	}
	row := regexp.MustCompile(`(?s)<tr class="sink" id="sink-webhook">(.*?)</tr>`).FindStringSubmatch(page)
	if row == nil {
		t.Fatalf("no row for the webhook sink:\n%s", page)
	}
	cells := text(row[1])
	for _, w := range []string{"webhook", "http", want, "refusing"} {
		if !strings.Contains(cells, w) {
			t.Errorf("webhook row %q lacks %q", cells, w)
		}
	}
	errCell := regexp.MustCompile(`<td class="err" title="([^"]*)">([^<]*)</td>`).FindStringSubmatch(row[1])
	if errCell == nil {
		t.Fatalf("no last error cell with a title in %s", row[1])
	}
	title, shown := html.UnescapeString(errCell[1]), html.UnescapeString(errCell[2])
	if !strings.Contains(title, "http 400") || !strings.HasSuffix(title, "END-OF-ERROR") || title != st.Sinks[1].LastError {
		t.Errorf("last error title %q, want the whole error %q", title, st.Sinks[1].LastError)
	}
	if !strings.HasSuffix(shown, "…") || strings.Contains(shown, "END-OF-ERROR") || !strings.HasPrefix(title, strings.TrimSuffix(shown, "…")) {
		t.Errorf("last error cell %q, want the error's start cut short", shown)
	}
	warn := regexp.MustCompile(`(?s)<tr class="warning">(.*?)</tr>`).FindStringSubmatch(page)
	if warn == nil || !strings.Contains(text(warn[1]), "sink/webhook sink_refusing") || !strings.Contains(text(warn[1]), "timestamp too old") {
		t.Errorf("no sink_refusing warning row with the refusal:\n%s", page)
	}
	if all := text(page); !strings.Contains(all, "Readiness: ready") {
		t.Errorf("page lacks Readiness: ready:\n%s", all)
	}
}

// text is the text of an HTML fragment, its whitespace runs made one
// space.
func text(fragment string) string {
	s := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(fragment, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// browse loads url in headless Chromium and returns the rendered DOM;
// with $LOGCAPTURER_SCREENSHOT_DIR set it saves a screenshot there too.
func browse(t *testing.T, bin, url string) string {
	t.Helper()
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		var out, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
			"--user-data-dir=" + t.TempDir(), "--window-size=1900,1000"}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return out.String()
	}
	if dir := os.Getenv("LOGCAPTURER_SCREENSHOT_DIR"); dir != "" {
		run("--screenshot="+filepath.Join(dir, t.Name()+".png"), url)
	}
	return run("--dump-dom", url)
}
