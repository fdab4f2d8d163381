package mmdbtest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Write writes a database of type dbType ("GeoLite2-City",
// "GeoLite2-ASN", ...) holding records (CIDR → record) in a new temporary
// directory, and returns its path. Reserved networks (private, loopback,
// documentation) are left out by the writer: use public ones.
func Write(t testing.TB, dbType string, records map[string]mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range records {
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(network, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), dbType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Names is a names map with the English name en (and a German one, so a
// reader must pick the right language).
func Names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)")}
}

// London is a City database's record with every field the geoip stage
// reads, for 81.2.69.0/24 (the network MaxMind's own test databases use
// for London).
func London() mmdbtype.Map {
	return mmdbtype.Map{
		"city":      mmdbtype.Map{"names": Names("London"), "geoname_id": mmdbtype.Uint32(2643743)},
		"continent": mmdbtype.Map{"names": Names("Europe"), "code": mmdbtype.String("EU")},
		"country":   mmdbtype.Map{"names": Names("United Kingdom"), "iso_code": mmdbtype.String("GB")},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(51.5142), "longitude": mmdbtype.Float64(-0.0931),
			"time_zone": mmdbtype.String("Europe/London")},
		"postal": mmdbtype.Map{"code": mmdbtype.String("EC2V")},
		"subdivisions": mmdbtype.Slice{
			mmdbtype.Map{"names": Names("England"), "iso_code": mmdbtype.String("ENG")},
			mmdbtype.Map{"names": Names("City of London"), "iso_code": mmdbtype.String("LND")},
		},
	}
}

// LondonLabels are the labels Promtail's geoip stage sets for London().
func LondonLabels() map[string]string {
	return map[string]string{
		"geoip_city_name":          "London",
		"geoip_country_name":       "United Kingdom",
		"geoip_continent_name":     "Europe",
		"geoip_continent_code":     "EU",
		"geoip_location_latitude":  "51.5142",
		"geoip_location_longitude": "-0.0931",
		"geoip_postal_code":        "EC2V",
		"geoip_timezone":           "Europe/London",
		// The most specific subdivision, as Promtail takes.
		"geoip_subdivision_name": "City of London",
		"geoip_subdivision_code": "LND",
	}
}
