package main

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/logcapturer/logcapturer/internal/mmdbtest"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
)

// TestPromtailGeoIP: a Promtail config whose pipeline looks client
// addresses up in a GeoLite2 City database (the geoip stage, as in
// Promtail's documentation, with labelallow after it) converts, checks
// and runs: Loki gets Promtail's geoip_* labels on the entry of a known
// address and none on the others.
func TestPromtailGeoIP(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	db := mmdbtest.Write(t, "GeoLite2-City", map[string]mmdbtype.Map{"81.2.69.0/24": mmdbtest.London()})
	access := filepath.Join(dir, "access.log")
	os.WriteFile(access, []byte(`81.2.69.160 - - "GET / HTTP/1.1" 200
8.8.8.8 - - "GET /a HTTP/1.1" 200
not-an-address - - "GET /b HTTP/1.1" 400
`), 0o644)
	src := filepath.Join(dir, "promtail.yaml")
	os.WriteFile(src, []byte(`server:
  http_listen_port: 0
positions:
  filename: `+filepath.Join(dir, "positions.yaml")+`
clients:
  - url: ${TEST_LOKI_URL}
    batchwait: 10ms
scrape_configs:
  - job_name: nginx
    static_configs:
      - labels:
          __path__: `+access+`
          job: nginx
    pipeline_stages:
      - regex:
          expression: '^(?P<ip>\S+) '
      - geoip:
          db: `+db+`
          source: ip
          db_type: city
      - labeldrop: [filename, geoip_postal_code, geoip_subdivision_code]
`), 0o644)
	t.Setenv("TEST_LOKI_URL", rcv.URL())
	out := filepath.Join(dir, "logcapturer.yaml")
	var stdout, stderr bytes.Buffer
	if code := runMainWith([]string{"convert", "--from", "promtail", src, "-o", out, "--data-dir", filepath.Join(dir, "data")},
		console{}, &stdout, &stderr); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr.String())
	}
	if code := runMainWith([]string{"check", "--config", out}, console{}, &stdout, &stderr); code != 0 {
		t.Fatalf("check: exit %d: %s", code, stderr.String())
	}
	cfg, err := checkConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, slog.New(slog.DiscardHandler), out, cfg, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if err := rcv.WaitEntries(3, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	london := mmdbtest.LondonLabels()
	delete(london, "geoip_postal_code")
	delete(london, "geoip_subdivision_code")
	london["job"] = "nginx"
	want := map[string]map[string]string{
		"81.2.69.160":    london,
		"8.8.8.8":        {"job": "nginx"},
		"not-an-address": {"job": "nginx"},
	}
	for _, e := range rcv.Entries() {
		ip := strings.Fields(e.Line)[0]
		ls, err := lokitest.ParseLabels(e.Labels)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, l := range ls {
			got[l.Name] = l.Value
		}
		if !maps.Equal(got, want[ip]) {
			t.Errorf("%s: labels %v, want %v", ip, got, want[ip])
		}
		delete(want, ip)
	}
	if len(want) > 0 {
		t.Errorf("not received: %v", want)
	}
}
