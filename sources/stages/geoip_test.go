package stages

import (
	"bytes"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcapturer/logcapturer/internal/mmdbtest"
)

// cityRecords: a London network with every field, and an IPv6 network with
// a country only.
var cityRecords = map[string]mmdbtype.Map{
	"81.2.69.0/24": mmdbtest.London(),
	"2a02:d300::/29": {
		"country":   mmdbtype.Map{"names": mmdbtest.Names("Ukraine"), "iso_code": mmdbtype.String("UA")},
		"continent": mmdbtype.Map{"names": mmdbtest.Names("Europe"), "code": mmdbtype.String("EU")},
	},
}

var asnRecords = map[string]mmdbtype.Map{
	"34.120.0.0/14": {"autonomous_system_number": mmdbtype.Uint32(396982),
		"autonomous_system_organization": mmdbtype.String("GOOGLE-CLOUD-PLATFORM")},
}

// runGeoIP runs one entry through doc and closes the pipeline.
func runGeoIP(t *testing.T, doc, line string) (map[string]string, *counts) {
	t.Helper()
	env, c := testEnv(testNow)
	pl := mustParse(t, doc, env)
	defer pl.Close()
	var got map[string]string
	pl.Process(&Entry{Seq: 1, Time: testNow, Line: line, Labels: map[string]string{"job": "nginx"}}, func(o *Entry) {
		got = maps.Clone(o.Labels)
	})
	if got == nil {
		t.Fatal("the entry did not come out")
	}
	return got, c
}

func TestGeoIPCity(t *testing.T) {
	db := mmdbtest.Write(t, "GeoLite2-City", cityRecords)
	doc := `
- regex: {expression: '^(?P<ip>\S+) '}
- geoip: {db: ` + db + `, source: ip, db_type: city}
`
	london := mmdbtest.LondonLabels()
	london["job"] = "nginx"
	for _, tc := range []struct {
		name, line string
		want       map[string]string
		failed     string // "geoip/<reason>" counted once, or ""
	}{
		{"ipv4", `81.2.69.160 - - "GET / HTTP/1.1" 200`, london, ""},
		{"ipv4 mapped in ipv6", `::ffff:81.2.69.160 - GET`, london, ""},
		{"ipv6 country only", `2a02:d300::1 - GET`, map[string]string{"job": "nginx",
			"geoip_country_name": "Ukraine", "geoip_continent_name": "Europe", "geoip_continent_code": "EU"}, ""},
		// Not in the database: no label, nothing counted (Promtail).
		{"unknown address", `8.8.8.8 - GET`, map[string]string{"job": "nginx"}, ""},
		{"not an address", `localhost - GET`, map[string]string{"job": "nginx"}, "geoip/invalid_ip"},
		{"zone", `fe80::1%eth0 - GET`, map[string]string{"job": "nginx"}, "geoip/invalid_ip"},
		{"no source", `-`, map[string]string{"job": "nginx"}, "geoip/source_missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, c := runGeoIP(t, doc, tc.line)
			checkLabels(t, got, tc.want)
			delete(c.failed, "regex/no_match")
			want := map[string]int{}
			if tc.failed != "" {
				want[tc.failed] = 1
			}
			if !maps.Equal(c.failed, want) {
				t.Errorf("failed = %v, want %v", c.failed, want)
			}
		})
	}
}

func TestGeoIPCountryDatabaseAsCity(t *testing.T) {
	// geoip2-golang (Promtail's reader) reads a Country database through
	// its City lookup, so db_type city takes it.
	db := mmdbtest.Write(t, "GeoLite2-Country", map[string]mmdbtype.Map{
		"81.2.69.0/24": {"country": mmdbtype.Map{"names": mmdbtest.Names("United Kingdom")}},
	})
	got, _ := runGeoIP(t, `
- regex: {expression: '^(?P<ip>\S+)'}
- geoip: {db: `+db+`, source: ip, db_type: city}
`, "81.2.69.1")
	checkLabels(t, got, map[string]string{"job": "nginx", "geoip_country_name": "United Kingdom"})
}

func TestGeoIPASN(t *testing.T) {
	db := mmdbtest.Write(t, "GeoLite2-ASN", asnRecords)
	got, c := runGeoIP(t, `
- regex: {expression: '^(?P<ip>\S+)'}
- geoip: {db: `+db+`, source: ip, db_type: asn}
`, "34.120.177.193")
	checkLabels(t, got, map[string]string{"job": "nginx",
		"geoip_autonomous_system_number":       "396982",
		"geoip_autonomous_system_organization": "GOOGLE-CLOUD-PLATFORM"})
	if len(c.failed) > 0 {
		t.Errorf("failed = %v", c.failed)
	}
}

func TestGeoIPProblems(t *testing.T) {
	city := mmdbtest.Write(t, "GeoLite2-City", cityRecords)
	asn := mmdbtest.Write(t, "GeoLite2-ASN", asnRecords)
	custom := mmdbtest.Write(t, "Acme-Networks", asnRecords)
	notDB := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notDB, []byte("not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, doc string
		want      Problem // Msg is a substring
	}{
		{"no db", `
- geoip: {source: ip, db_type: city}
`, Problem{Key: "[0].geoip.db", Line: 2, Msg: "is required: the path of a MaxMind database"}},
		{"no source", `
- geoip: {db: ` + city + `, db_type: city}
`, Problem{Key: "[0].geoip.source", Line: 2, Msg: "is required: the extracted value that holds the IP address"}},
		{"empty source", `
- geoip:
    db: ` + city + `
    source: ""
    db_type: city
`, Problem{Key: "[0].geoip.source", Line: 4, Msg: "must not be empty"}},
		{"no db_type", `
- geoip: {db: ` + city + `, source: ip}
`, Problem{Key: "[0].geoip.db_type", Line: 2, Msg: `is required: "city"`}},
		{"country db_type", `
- geoip:
    db: ` + city + `
    source: ip
    db_type: country
`, Problem{Key: "[0].geoip.db_type", Line: 5, Msg: `must be "city" (a City or Country database) or "asn" (an ASN database), got "country"`}},
		{"missing file", `
- geoip:
    db: /nonexistent/GeoLite2-City.mmdb
    source: ip
    db_type: city
`, Problem{Key: "[0].geoip.db", Line: 3, Msg: "open the MaxMind database: stat /nonexistent/GeoLite2-City.mmdb: no such file or directory"}},
		{"not a database", `
- geoip: {db: ` + notDB + `, source: ip, db_type: city}
`, Problem{Key: "[0].geoip.db", Line: 2, Msg: "open the MaxMind database:"}},
		{"unknown database type", `
- geoip: {db: ` + custom + `, source: ip, db_type: asn}
`, Problem{Key: "[0].geoip.db", Line: 2, Msg: `is a "Acme-Networks" database, which the geoip stage cannot read`}},
		{"city type on an asn database", `
- geoip: {db: ` + asn + `, source: ip, db_type: city}
`, Problem{Key: "[0].geoip.db_type", Line: 2, Msg: `"city" does not fit ` + asn + `, a "GeoLite2-ASN" database: set db_type: asn`}},
		{"asn type on a city database", `
- geoip: {db: ` + city + `, source: ip, db_type: asn}
`, Problem{Key: "[0].geoip.db_type", Line: 2, Msg: `"asn" does not fit ` + city + `, a "GeoLite2-City" database: set db_type: city`}},
		{"unknown key", `
- geoip: {db: ` + city + `, source: ip, db_type: city, custom_lookups: {}}
`, Problem{Key: "[0].geoip.custom_lookups", Line: 2, Msg: "unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := testEnv(testNow)
			pl, ps := parseYAML(t, tc.doc, env)
			if pl != nil {
				pl.Close()
				t.Fatalf("parsed, want the problem %v", tc.want)
			}
			if len(ps) != 1 || ps[0].Key != tc.want.Key || ps[0].Line != tc.want.Line || !strings.Contains(ps[0].Msg, tc.want.Msg) {
				t.Errorf("problems = %v, want one like %v", ps, tc.want)
			}
		})
	}
}

func TestGeoIPNoFiles(t *testing.T) {
	// A converted or checked configuration names a database of another
	// machine: its options are checked, the file is not opened, and the
	// stage passes entries on.
	env, c := testEnv(testNow)
	env.NoFiles = true
	doc := `
- regex: {expression: '^(?P<ip>\S+)'}
- geoip: {db: /on/the/edge/host/GeoLite2-City.mmdb, source: ip, db_type: city}
`
	pl := mustParse(t, doc, env)
	defer pl.Close()
	var got map[string]string
	pl.Process(&Entry{Seq: 1, Line: "81.2.69.160", Labels: map[string]string{}}, func(o *Entry) { got = maps.Clone(o.Labels) })
	checkLabels(t, got, map[string]string{})
	if len(c.failed) > 0 {
		t.Errorf("failed = %v", c.failed)
	}
	if _, ps := parseYAML(t, `
- geoip: {db: /x.mmdb, source: ip, db_type: country}
`, env); len(ps) != 1 || ps[0].Key != "[0].geoip.db_type" {
		t.Errorf("with NoFiles the options are still checked: problems = %v", ps)
	}
}

func TestGeoIPCloseTwice(t *testing.T) {
	db := mmdbtest.Write(t, "GeoLite2-City", cityRecords)
	env, _ := testEnv(testNow)
	pl := mustParse(t, `
- match:
    selector: '{job="nginx"}'
    stages:
    - regex: {expression: '^(?P<ip>\S+)'}
    - geoip: {db: `+db+`, source: ip, db_type: city}
`, env)
	pl.Close()
	pl.Close()
}

// TestGeoIPReopensReplacedDatabase: geoipupdate replaces the database by
// renaming a new file over it; within a minute the stage reads the new one
// (Promtail keeps the old one until it restarts). A replacement that is
// not a database leaves the open one in use, said once.
func TestGeoIPReopensReplacedDatabase(t *testing.T) {
	f := newReplaceFixture(t)
	db, newer, clock, log := f.db, f.newer, f.clock, &f.log
	city := func() string { got, _ := f.city(t); return got }
	if got := city(); got != "London" {
		t.Fatalf("city %q, want London", got)
	}
	if err := os.Rename(newer, db); err != nil {
		t.Fatal(err)
	}
	if got := city(); got != "London" {
		t.Errorf("right after the replacement: %q, want London (looked at once a minute)", got)
	}
	clock.Add(time.Minute)
	if got := city(); got != "Londres" {
		t.Errorf("a minute after the replacement: %q, want Londres", got)
	}
	if !strings.Contains(log.String(), "the database was replaced; reading the new one") {
		t.Errorf("log:\n%s", log.String())
	}

	garbage := filepath.Join(t.TempDir(), "partial.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(garbage, db); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		clock.Add(time.Minute)
		if got := city(); got != "Londres" {
			t.Errorf("after a bad replacement: %q, want Londres from the database open", got)
		}
	}
	if n := strings.Count(log.String(), "cannot be read; the one open stays in use"); n != 1 {
		t.Errorf("the bad replacement was logged %d times, want once:\n%s", n, log.String())
	}
}

// TestParseFailureReleases: a pipeline that does not parse releases what
// its good stages took (a geoip database's mapping, a metrics stage's
// series), nested in match too: a config refused at every reload must not
// pile up mappings, and the corrected one must register its metrics.
func TestParseFailureReleases(t *testing.T) {
	db := mmdbtest.Write(t, "GeoLite2-City", cityRecords)
	mapped := func() bool {
		maps, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Skip("no /proc/self/maps")
		}
		return strings.Contains(string(maps), db)
	}
	reg := prometheus.NewRegistry()
	env, _ := testEnv(testNow)
	env.Registerer = reg
	good := `
- match:
    selector: '{job="nginx"}'
    stages:
    - regex: {expression: '^(?P<ip>\S+)'}
    - geoip: {db: ` + db + `, source: ip, db_type: city}
- metrics:
    lines_total: {type: Counter, description: lines, config: {match_all: true, action: inc}}
`
	for _, bad := range []string{good + "- jsn: {}\n", strings.Replace(good, "    - regex:", "    - regex: {}\n    - regx:", 1)} {
		if pl, ps := parseYAML(t, bad, env); pl != nil || len(ps) == 0 {
			t.Fatalf("parsed %v, want problems", ps)
		}
		if mapped() {
			t.Errorf("the database is still mapped after a failed parse of:\n%s", bad)
		}
	}
	pl, ps := parseYAML(t, good, env)
	if len(ps) > 0 {
		t.Fatalf("the corrected pipeline: %v", ps)
	}
	if !mapped() {
		t.Error("the database is not mapped by the parsed pipeline")
	}
	pl.Close()
	if mapped() {
		t.Error("the database is still mapped after Close")
	}
}

// TestGeoIPFileOverwrittenInPlace: a database overwritten in place (cp over
// it: truncated, then written) faults under the mapping (SIGBUS), which
// would end the program; the stage passes entries on without geoip labels,
// counts and logs it once, and reads the file again once it is whole.
func TestGeoIPFileOverwrittenInPlace(t *testing.T) {
	f := newReplaceFixture(t)
	db, clock, log, c := f.db, f.clock, &f.log, f.counts
	newer, err := os.ReadFile(f.newer)
	if err != nil {
		t.Fatal(err)
	}
	city := func() (string, bool) { return f.city(t) }
	if got, _ := city(); got != "London" {
		t.Fatalf("city %q, want London", got)
	}
	if err := os.Truncate(db, 0); err != nil { // cp opens with O_TRUNC
		t.Fatal(err)
	}
	for range 3 {
		if got, out := city(); got != "" || !out {
			t.Errorf("with the file truncated under the mapping: city %q, passed on %v; want no label, passed on", got, out)
		}
	}
	if c.failed["geoip/lookup_failed"] != 3 {
		t.Errorf("failed = %v, want 3 lookup_failed", c.failed)
	}
	if n := strings.Count(log.String(), "reading the database failed"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, log.String())
	}
	if err := os.WriteFile(db, newer, 0o644); err != nil { // cp writes the rest
		t.Fatal(err)
	}
	clock.Add(geoipFaultRecheck)
	if got, _ := city(); got != "Londres" {
		t.Errorf("once the file is whole again: %q, want Londres\n%s", got, log.String())
	}
}

// replaceFixture is a city pipeline on a London database (db), with a
// clock, a log and counts, and a second database (newer) where London is
// Londres, to replace db with.
type replaceFixture struct {
	db, newer string
	clock     *fakeClock
	log       bytes.Buffer
	counts    *counts
	pl        *Pipeline
}

func newReplaceFixture(t *testing.T) *replaceFixture {
	t.Helper()
	londres := mmdbtest.London()
	londres["city"] = mmdbtype.Map{"names": mmdbtest.Names("Londres")}
	f := &replaceFixture{
		db:    mmdbtest.Write(t, "GeoLite2-City", cityRecords),
		newer: mmdbtest.Write(t, "GeoLite2-City", map[string]mmdbtype.Map{"81.2.69.0/24": londres}),
		clock: &fakeClock{t: testNow},
	}
	env, c := testEnv(testNow)
	f.counts = c
	env.Now, env.Logger = f.clock.Now, slog.New(slog.NewTextHandler(&f.log, nil))
	f.pl = mustParse(t, `
- regex: {expression: '^(?P<ip>\S+)'}
- geoip: {db: `+f.db+`, source: ip, db_type: city}
`, env)
	t.Cleanup(f.pl.Close)
	return f
}

// city runs an entry from 81.2.69.160 through and returns its
// geoip_city_name label and whether it came out.
func (f *replaceFixture) city(t *testing.T) (string, bool) {
	t.Helper()
	var got string
	out := false
	f.pl.Process(&Entry{Seq: 1, Line: "81.2.69.160", Labels: map[string]string{}}, func(o *Entry) { got, out = o.Labels["geoip_city_name"], true })
	return got, out
}
