package admin

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sources"
)

// TestStatusPageListeningSources renders the page for a syslog source with
// open connections and a push receiver with clients (the Status that
// /api/v1/status gives for them): each connection and each client has its
// row with what the API says of it, and a push receiver that has had no
// push yet says so.
func TestStatusPageListeningSources(t *testing.T) {
	since := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	last := since.Add(time.Minute)
	st := pipeline.Status{Sources: []pipeline.SourceStatus{
		{Name: "net", Type: "syslog", Connections: []sources.ConnStatus{
			{Remote: "10.0.0.7:51234", Since: since, Entries: 1200, Bytes: 98765},
			{Remote: "local", Since: since, Entries: 3, Bytes: 120},
		}},
		{Name: "push", Type: "loki_push", Push: &sources.PushStatus{Listen: "127.0.0.1:3500", InflightBytes: 2048, MaxInflightBytes: 64 << 20,
			LastPush: &last, Clients: []sources.PushClient{{Remote: "10.0.0.9", Requests: 40, Entries: 4000, Refused: 2, Last: last, LastCode: 204}}}},
		{Name: "otlp", Type: "otlp", Push: &sources.PushStatus{Listen: "127.0.0.1:4318", MaxInflightBytes: 64 << 20}},
	}}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, pageData{Status: st, Refresh: 5, now: last}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	text := func(re string) []string {
		var rows []string
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(page, -1) {
			rows = append(rows, strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], " ")), " "))
		}
		return rows
	}
	for _, c := range []struct {
		re   string
		want []string
	}{
		{`(?s)<tr class="conn">(.*?)</tr>`, []string{"10.0.0.7:51234 2026-12-05T09:00:00Z 1200 98765", "local 2026-12-05T09:00:00Z 3 120"}},
		{`(?s)<tr class="client">(.*?)</tr>`, []string{"10.0.0.9 40 4000 2 2026-12-05T09:01:00Z 204"}},
		{`(?s)<p class="push">(.*?)</p>`, []string{
			"listening on 127.0.0.1:3500 ; in flight 2.0 KiB of 64.0 MiB; last push 2026-12-05T09:01:00Z",
			"listening on 127.0.0.1:4318 ; in flight 0 B of 64.0 MiB; last push never"}},
		{`(?s)<h3>(net .*?)</h3>`, []string{"net (syslog, files: 0, connections: 2)"}},
	} {
		if got := text(c.re); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", c.re, got, c.want)
		}
	}
}
