package admin

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/pipeline"
)

//go:embed page.html
var pageSource string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"bytes": HumanBytes,
	"age":   HumanAge,
	"when": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	},
	"at": func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	},
	"short": func(s string) string { return shortText(s, errorCellRunes) },
}).Parse(pageSource))

// errorCellRunes is how much of an error a table cell shows; the whole
// text is in the cell's title (shown on hover).
const errorCellRunes = 120

// shortText cuts s to n runes, adding "…" when it cut.
func shortText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// pageData is what the status page renders.
type pageData struct {
	pipeline.Status
	Refresh int
	Now     string
	now     time.Time
}

// For is how long ago t was, as HumanAge says it ("for 3m12s").
func (d pageData) For(t *time.Time) string {
	return "for " + HumanAge(max(0, d.now.Sub(*t).Seconds()))
}

// In is how long until t ("in 42s"), or "due" when it has passed.
func (d pageData) In(t *time.Time) string {
	if !t.After(d.now) {
		return "due"
	}
	return "in " + HumanAge(t.Sub(d.now).Seconds())
}

// page serves the status page: the facts of /api/v1/status, rendered on
// the server, no script, no external asset, reloading itself.
func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	now := time.Now().UTC()
	d := pageData{Status: s.statusNow(), Refresh: int(s.opts.Refresh / time.Second), Now: now.Format(time.RFC3339), now: now}
	if err := pageTmpl.Execute(&buf, d); err != nil {
		s.logger.Error("render the status page", "err", err)
		http.Error(w, "render the status page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(buf.Bytes())
}

// HumanBytes is n as 512 B, 3.2 KiB, 1.5 GiB (the page's and the CLI's
// tables).
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, u := float64(n)/unit, "KiB"
	for _, next := range []string{"MiB", "GiB", "TiB"} {
		if f < unit {
			break
		}
		f, u = f/unit, next
	}
	return fmt.Sprintf("%.1f %s", f, u)
}

// HumanAge is a number of seconds as 45s, 3m12s, 2h05m or 3d04h.
func HumanAge(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}
