// Package mmdbtest writes MaxMind databases (.mmdb) for tests, with
// MaxMind's own writer (github.com/maxmind/mmdbwriter), in the record shapes
// of MaxMind's GeoIP2/GeoLite2 City and ASN databases. Only tests import it: the
// binary never links the writer.
package mmdbtest
