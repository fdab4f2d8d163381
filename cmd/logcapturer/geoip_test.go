package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/logcapturer/logcapturer/internal/mmdbtest"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
)

// TestPromtailGeoIP: a Promtail config whose pipeline looks client
// addresses up in a GeoLite2 City database (the geoip stage, as in
// Promtail's documentation, with labeldrop after it) converts, checks
// and runs: Loki gets Promtail's geoip_* labels on the entry of a known
// address and none on the others.
func TestPromtailGeoIP(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	db := mmdbtest.Write(t, "GeoLite2-City", map[string]mmdbtype.Map{"81.2.69.0/24": mmdbtest.London()})
	access := filepath.Join(dir, "access.log")
	lines := []string{`81.2.69.160 - - "GET / HTTP/1.1" 200`, `8.8.8.8 - - "GET /a HTTP/1.1" 200`, `not-an-address - - "GET /b HTTP/1.1" 400`}
	os.WriteFile(access, []byte(lines[0]+"\n"+lines[1]+"\n"+lines[2]+"\n"), 0o644)
	convertCheckRun(t, rcv, dir, promtailHead(filepath.Join(dir, "positions.yaml"))+`  - job_name: nginx
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
`)
	london := `{geoip_city_name="London", geoip_continent_code="EU", geoip_continent_name="Europe", ` +
		`geoip_country_name="United Kingdom", geoip_location_latitude="51.5142", geoip_location_longitude="-0.0931", ` +
		`geoip_subdivision_name="City of London", geoip_timezone="Europe/London", job="nginx"}`
	sameStreams(t, rcv, london+" "+lines[0], `{job="nginx"} `+lines[1], `{job="nginx"} `+lines[2])
}
