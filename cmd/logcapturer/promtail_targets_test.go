package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
)

// promtailHead is the start of a Promtail config up to its
// scrape_configs: no server port, positions in the file positions, one
// client to the test receiver (TEST_LOKI_URL) with a short batchwait.
func promtailHead(positions string) string {
	return `server:
  http_listen_port: 0
positions:
  filename: ` + positions + `
clients:
  - url: ${TEST_LOKI_URL}
    batchwait: 10ms
scrape_configs:
`
}

// convertCheckRun writes promtail (a Promtail config whose client is
// ${TEST_LOKI_URL}) to dir, converts it with logcapturer convert, checks
// both the Promtail file (check --config-format promtail) and the result,
// and runs the result until the test ends. flags go to convert and
// check --config-format promtail.
func convertCheckRun(t *testing.T, rcv *lokitest.Receiver, dir, promtail string, flags ...string) {
	t.Helper()
	src := filepath.Join(dir, "promtail.yaml")
	if err := os.WriteFile(src, []byte(promtail), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_LOKI_URL", rcv.URL())
	out := filepath.Join(dir, "logcapturer.yaml")
	data := filepath.Join(dir, "data")
	var stdout, stderr bytes.Buffer
	if code := runMainWith(append([]string{"convert", "--from", "promtail", src, "-o", out, "--data-dir", data}, flags...),
		console{}, &stdout, &stderr); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr.String())
	}
	if code := runMainWith(append([]string{"check", "--config", src, "--config-format", "promtail", "--data-dir", data}, flags...),
		console{}, &stdout, &stderr); code != 0 {
		t.Fatalf("check --config-format promtail: exit %d: %s", code, stderr.String())
	}
	if code := runMainWith([]string{"check", "--config", out}, console{}, &stdout, &stderr); code != 0 {
		conv, _ := os.ReadFile(out)
		t.Fatalf("check: exit %d: %s\n%s", code, stderr.String(), conv)
	}
	cfg, err := checkConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := &syncBuffer{}
	go func() { done <- serve(ctx, slog.New(slog.NewTextHandler(log, nil)), out, cfg, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", log)
		}
	})
}

// streams returns each entry received as "labels line".
func streams(rcv *lokitest.Receiver) []string {
	var out []string
	for _, e := range rcv.Entries() {
		ls, _ := lokitest.ParseLabels(e.Labels)
		out = append(out, lokitest.Labels(ls...)+" "+e.Line)
	}
	return out
}

func sameStreams(t *testing.T, rcv *lokitest.Receiver, want ...string) {
	t.Helper()
	if err := rcv.WaitEntries(len(want), 15*time.Second); err != nil {
		t.Fatalf("%v; got %q", err, streams(rcv))
	}
	if got := streams(rcv); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("streams:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPromtailJournal converts a journal scrape config in the shape of
// the Loki docs and runs it on a fake journalctl: the labels are the
// configured ones plus what relabel_configs make of __journal_* (none of
// the journald source's default field labels), an entry relabel_configs
// drop is not shipped, and the handover starts after the cursor Promtail
// saved under cursor-<job_name>: the entries before it are not shipped
// again.
func TestPromtailJournal(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	now := time.Now().UnixMicro()
	entry := func(i int, unit, msg string) string {
		return fmt.Sprintf("__CURSOR=s=abc;i=%x\n__REALTIME_TIMESTAMP=%d\n_SYSTEMD_UNIT=%s\nPRIORITY=6\n_HOSTNAME=h1\n_TRANSPORT=journal\nMESSAGE=%s\n\n",
			i, now+int64(i), unit, msg)
	}
	all := entry(1, "app.service", "shipped by promtail") + entry(2, "app.service", "two") +
		entry(3, "cron.service", "dropped") + entry(4, "app.service", "four")
	after := entry(2, "app.service", "two") + entry(3, "cron.service", "dropped") + entry(4, "app.service", "four")
	os.WriteFile(filepath.Join(dir, "all"), []byte(all), 0o644)
	os.WriteFile(filepath.Join(dir, "after"), []byte(after), 0o644)
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + filepath.Join(dir, "args.log") + "\n" +
		"case \"$*\" in *--after-cursor=s=abc\\;i=1*) cat " + filepath.Join(dir, "after") + ";; *) cat " + filepath.Join(dir, "all") + ";; esac\nexec sleep 1000\n"
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "journalctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	positions := filepath.Join(dir, "positions.yaml")
	os.WriteFile(positions, []byte("positions:\n  cursor-journal: \"s=abc;i=1\"\n"), 0o644)
	convertCheckRun(t, rcv, dir, promtailHead(positions)+`  - job_name: journal
    journal:
      json: false
      max_age: 12h
      path: /var/log/journal
      labels:
        job: systemd-journal
    relabel_configs:
      - source_labels: ['__journal__systemd_unit']
        target_label: 'unit'
      - source_labels: ['__journal_priority_keyword']
        target_label: 'level'
      - source_labels: ['unit']
        regex: 'cron\..*'
        action: drop
`)
	sameStreams(t, rcv,
		`{job="systemd-journal", level="info", unit="app.service"} two`,
		`{job="systemd-journal", level="info", unit="app.service"} four`)
	args, _ := os.ReadFile(filepath.Join(dir, "args.log"))
	if !strings.Contains(string(args), "--after-cursor=s=abc;i=1") || !strings.Contains(string(args), "--directory=/var/log/journal") {
		t.Errorf("journalctl ran with %s", args)
	}
	if b, _ := os.ReadFile(positions); string(b) != "positions:\n  cursor-journal: \"s=abc;i=1\"\n" {
		t.Errorf("Promtail's positions file was written: %s", b)
	}
}

// TestPromtailSyslog converts a syslog scrape config in the shape of the
// Loki docs and sends it RFC 5424 messages over TCP: the labels are the
// configured job plus what relabel_configs make of __syslog_message_*
// (no facility, severity, hostname, app_name or sd_* of the source's
// own), the line is MSG and the time the message's
// (use_incoming_timestamp).
func TestPromtailSyslog(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	addr := freePort(t)
	convertCheckRun(t, rcv, dir, promtailHead(filepath.Join(dir, "positions.yaml"))+`  - job_name: syslog
    syslog:
      listen_address: `+addr+`
      listen_protocol: tcp
      idle_timeout: 60s
      label_structured_data: yes
      use_incoming_timestamp: true
      labels:
        job: "syslog"
    relabel_configs:
      - source_labels: ['__syslog_message_hostname']
        target_label: 'host'
      - source_labels: ['__syslog_message_severity']
        target_label: 'level'
      - source_labels: ['__syslog_message_sd_ex_32473_iut']
        target_label: 'iut'
`)
	var c net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer c.Close()
	ts := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	fmt.Fprintf(c, "<165>1 %s h1 app 100 ID47 [ex@32473 iut=\"3\"] hello\n", ts.Format(time.RFC3339Nano))
	fmt.Fprintf(c, "<11>1 %s h2 app - - - world\n", ts.Format(time.RFC3339Nano))
	sameStreams(t, rcv, `{host="h1", iut="3", job="syslog", level="notice"} hello`, `{host="h2", job="syslog", level="error"} world`)
	if e := rcv.Entries()[0]; e.Time != ts.UnixNano() {
		t.Errorf("time %d, want the message's %d", e.Time, ts.UnixNano())
	}
}

// TestPromtailLokiPush converts a loki_push_api scrape config in the shape
// of the Loki docs and pushes to it: the pushed labels with the
// configured ones over them, relabel_configs applied to them (a pushed
// __ label mapped, another dropped), the pipeline_stages run, the pushed
// timestamp kept (use_incoming_timestamp).
func TestPromtailLokiPush(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	convertCheckRun(t, rcv, dir, promtailHead(filepath.Join(dir, "positions.yaml"))+`  - job_name: push1
    loki_push_api:
      server:
        http_listen_address: 127.0.0.1
        http_listen_port: `+port+`
        grpc_listen_port: 0
      labels:
        pushserver: push1
      use_incoming_timestamp: true
    relabel_configs:
      - source_labels: ['__team']
        target_label: 'team'
      - action: labeldrop
        regex: scratch
    pipeline_stages:
      - regex: {expression: 'level=(?P<level>\w+)'}
      - labels: {level: ""}
`)
	ts := time.Now().Add(-time.Minute).UnixNano()
	body := fmt.Sprintf(`{"streams":[{"stream":{"app":"x","__team":"payments","scratch":"y","pushserver":"other"},"values":[["%d","level=warn one"],["%d","level=info two"]]}]}`, ts, ts+1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Post("http://"+addr+"/loki/api/v1/push", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("push: %s", resp.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sameStreams(t, rcv, `{app="x", level="warn", pushserver="push1", team="payments"} level=warn one`,
		`{app="x", level="info", pushserver="push1", team="payments"} level=info two`)
	if e := rcv.Entries()[0]; e.Time != ts {
		t.Errorf("time %d, want the pushed %d", e.Time, ts)
	}
}
