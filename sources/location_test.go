package sources

import (
	"testing"
	"time"
)

// TestLoadLocation: the location keys of every source type name the same
// zones: "" and "Local" the host's, "UTC", an IANA name; an unknown name
// is an error.
func TestLoadLocation(t *testing.T) {
	for name, want := range map[string]*time.Location{"": time.Local, "Local": time.Local, "UTC": time.UTC} {
		if loc, err := LoadLocation(name); err != nil || loc != want {
			t.Errorf("LoadLocation(%q) = %v, %v; want %v", name, loc, err, want)
		}
	}
	if loc, err := LoadLocation("Asia/Tokyo"); err != nil || loc.String() != "Asia/Tokyo" {
		t.Errorf("LoadLocation(Asia/Tokyo) = %v, %v", loc, err)
	}
	if loc, err := LoadLocation("Mars/Olympus"); err == nil {
		t.Errorf("LoadLocation(Mars/Olympus) = %v, want an error", loc)
	}
}
