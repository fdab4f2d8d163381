package stages

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
	"go.yaml.in/yaml/v3"
)

// geoipOptions are the geoip stage's options (Promtail's GeoIPConfig).
type geoipOptions struct {
	DB     string  `yaml:"db"`
	Source *string `yaml:"source"`
	DBType string  `yaml:"db_type"`
}

// geoipStage looks an extracted IP address up in a MaxMind database
// (GeoIP2 or GeoLite2, City or Country for db_type city, ASN for asn) and
// sets Promtail's geoip_* labels. The database is memory-mapped, as
// Promtail does (github.com/oschwald/geoip2-golang, Promtail's reader):
// its pages count as the page cache's, not the heap's.
type geoipStage struct {
	db     *geoip2.Reader // nil when the pipeline was parsed with Env.NoFiles
	source string
	asn    bool
	failed func(stage, reason string)
	close  sync.Once

	// Reopening a replaced database (refresh).
	path    string
	info    os.FileInfo // of the file open
	checked time.Time   // when the path was last looked at
	now     func() time.Time
	logger  *slog.Logger
	faulted bool // a lookup failed since the database was opened (logged once)
	badFile bool // a replacement could not be opened (logged once until one can)
}

func parseGeoIP(p *parser, n *yaml.Node, key string, line int) Stage {
	var o geoipOptions
	if !p.decode(n, key, line, "geoip", &o) {
		return nil
	}
	ok := true
	if o.DB == "" {
		p.fail(optionLine(n, "db", line), key+".db", "is required: the path of a MaxMind database (.mmdb), such as GeoLite2-City.mmdb")
		ok = false
	}
	switch {
	case o.Source == nil:
		// Promtail accepts it and then looks nothing up.
		p.fail(line, key+".source", "is required: the extracted value that holds the IP address (without it Promtail's geoip stage looks nothing up)")
		ok = false
	case *o.Source == "":
		p.fail(optionLine(n, "source", line), key+".source", "must not be empty: name the extracted value that holds the IP address")
		ok = false
	}
	switch o.DBType {
	case "city", "asn":
	case "":
		p.fail(optionLine(n, "db_type", line), key+".db_type", `is required: "city" (a City or Country database) or "asn" (an ASN database)`)
		ok = false
	default:
		// Promtail accepts any value and logs an error for every entry.
		p.fail(optionLine(n, "db_type", line), key+".db_type", `must be "city" (a City or Country database) or "asn" (an ASN database), got %q`, o.DBType)
		ok = false
	}
	if !ok {
		return nil
	}
	s := &geoipStage{source: *o.Source, asn: o.DBType == "asn", path: o.DB, failed: p.env.Failed,
		now: p.env.Now, logger: p.env.Logger}
	if p.env.NoFiles {
		return s
	}
	db, info, opt, err := openGeoIP(o.DB, s.asn)
	if err != nil {
		p.fail(optionLine(n, opt, line), key+"."+opt, "%v", err)
		return nil
	}
	s.db, s.info, s.checked = db, info, s.now()
	return s
}

// openGeoIP opens the database at path and checks it has the lookup
// db_type asks for (asn: ASN, else City). On an error, opt names the
// option at fault ("db" or "db_type").
func openGeoIP(path string, asn bool) (db *geoip2.Reader, info os.FileInfo, opt string, err error) {
	info, err = os.Stat(path)
	if err != nil {
		return nil, nil, "db", fmt.Errorf("open the MaxMind database: %w", err)
	}
	db, err = geoip2.Open(path)
	var unknown geoip2.UnknownDatabaseTypeError
	switch {
	case errors.As(err, &unknown):
		if db != nil {
			db.Close()
		}
		return nil, nil, "db", fmt.Errorf("%s is a %q database, which the geoip stage cannot read: use a GeoIP2 or GeoLite2 City, Country or ASN database",
			path, unknown.DatabaseType)
	case err != nil:
		return nil, nil, "db", fmt.Errorf("open the MaxMind database: %w", err)
	}
	// A lookup method the database does not have fails whatever the
	// address: try one now, rather than fail on every entry as Promtail does.
	typ, other := "city", "asn"
	if asn {
		typ, other = "asn", "city"
		_, err = db.ASN(netip.IPv4Unspecified())
	} else {
		_, err = db.City(netip.IPv4Unspecified())
	}
	var wrong geoip2.InvalidMethodError
	if errors.As(err, &wrong) {
		db.Close()
		return nil, nil, "db_type", fmt.Errorf("%q does not fit %s, a %q database: set db_type: %s, or db to a database of the other kind",
			typ, path, wrong.DatabaseType, other)
	}
	return db, info, "", nil
}

// geoipRecheck is how often the stage looks whether its database was
// replaced (geoipupdate writes a new file and renames it over the old).
const geoipRecheck = time.Minute

// geoipFaultRecheck is how soon it looks again after a lookup failed.
const geoipFaultRecheck = 5 * time.Second

// refresh opens the database again when the file at its path is no longer
// the one open (another file, size or modification time), at most once a
// geoipRecheck: Promtail keeps the one it opened until it restarts. A
// replacement that cannot be read leaves the open one in use, said once
// (until the file changes again).
func (s *geoipStage) refresh() {
	now := s.now()
	if now.Sub(s.checked) < geoipRecheck {
		return
	}
	s.checked = now
	fi, err := os.Stat(s.path)
	if err != nil || os.SameFile(fi, s.info) && fi.Size() == s.info.Size() && fi.ModTime().Equal(s.info.ModTime()) {
		return // gone (being replaced) or the same: keep the open one
	}
	db, _, _, err := openGeoIP(s.path, s.asn)
	if err != nil {
		s.info = fi
		if !s.badFile {
			s.badFile = true
			s.logger.Warn("geoip stage: the database was replaced and cannot be read; the one open stays in use", "db", s.path, "err", err)
		}
		return
	}
	s.db.Close()
	s.db, s.info, s.faulted, s.badFile = db, fi, false, false
	s.logger.Info("geoip stage: the database was replaced; reading the new one", "db", s.path)
}

// Process implements Stage. An address that is not in the database adds
// no label, as in Promtail; a missing source or a value that is not an IP
// address is counted (Promtail logs it at debug level).
func (s *geoipStage) Process(e *Entry, next func(*Entry)) {
	if s.db == nil {
		next(e)
		return
	}
	s.refresh()
	in, ok := sourceText(e, &s.source)
	if !ok {
		s.failed("geoip", sourceReason(e, &s.source))
		next(e)
		return
	}
	addr, err := netip.ParseAddr(in)
	if err != nil || addr.Zone() != "" {
		s.failed("geoip", "invalid_ip")
		next(e)
		return
	}
	addr = addr.Unmap()
	if err := s.lookup(e, addr); err != nil {
		s.failed("geoip", "lookup_failed")
		if !s.faulted {
			s.faulted = true
			s.logger.Error("geoip stage: reading the database failed; entries pass on without geoip labels until it is replaced "+
				"(a file overwritten in place, by cp say, changes under the mapping: replace it by a rename, as geoipupdate does)",
				"db", s.path, "err", err)
		}
		s.checked = s.now().Add(geoipFaultRecheck - geoipRecheck) // look at the file again soon
	}
	next(e)
}

// lookup sets e's labels for addr. The database is memory-mapped: a file
// truncated or rewritten in place under the mapping faults (SIGBUS), which
// would end the program; here it is an error (debug.SetPanicOnFault, for
// this goroutine and this call only).
func (s *geoipStage) lookup(e *Entry, addr netip.Addr) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fault reading %s: %v", s.path, r)
		}
	}()
	if s.asn {
		return s.setASN(e, addr)
	}
	return s.setCity(e, addr)
}

func (s *geoipStage) setCity(e *Entry, addr netip.Addr) error {
	r, err := s.db.City(addr)
	if err != nil {
		return err
	}
	s.set(e, "geoip_city_name", r.City.Names.English)
	s.set(e, "geoip_country_name", r.Country.Names.English)
	s.set(e, "geoip_continent_name", r.Continent.Names.English)
	s.set(e, "geoip_continent_code", r.Continent.Code)
	s.set(e, "geoip_postal_code", r.Postal.Code)
	s.set(e, "geoip_timezone", r.Location.TimeZone)
	if lat, long := r.Location.Latitude, r.Location.Longitude; lat != nil && long != nil {
		// fmt.Sprint's form, as Promtail writes them.
		s.set(e, "geoip_location_latitude", strconv.FormatFloat(*lat, 'g', -1, 64))
		s.set(e, "geoip_location_longitude", strconv.FormatFloat(*long, 'g', -1, 64))
	}
	if n := len(r.Subdivisions); n > 0 {
		// The most specific one, as Promtail takes.
		s.set(e, "geoip_subdivision_name", r.Subdivisions[n-1].Names.English)
		s.set(e, "geoip_subdivision_code", r.Subdivisions[n-1].ISOCode)
	}
	return nil
}

func (s *geoipStage) setASN(e *Entry, addr netip.Addr) error {
	r, err := s.db.ASN(addr)
	if err != nil {
		return err
	}
	if r.AutonomousSystemNumber != 0 {
		s.set(e, "geoip_autonomous_system_number", strconv.FormatUint(uint64(r.AutonomousSystemNumber), 10))
	}
	s.set(e, "geoip_autonomous_system_organization", r.AutonomousSystemOrganization)
	return nil
}

// set sets label name to v unless v is empty (Promtail sets no label for
// an empty value) or cannot be a label value (counted).
func (s *geoipStage) set(e *Entry, name, v string) {
	if v == "" {
		return
	}
	if why := labelValueProblem(v); why != "" {
		s.failed("geoip", why)
		return
	}
	e.Labels[name] = v
}

// Close unmaps the database. Safe to call more than once.
func (s *geoipStage) Close() {
	s.close.Do(func() {
		if s.db != nil {
			s.db.Close()
			s.db = nil // an entry after Close passes on unchanged
		}
	})
}
