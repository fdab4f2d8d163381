package sinks

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDestinationHidesCredentials: each sink of this package says where it
// delivers, and a URL's user, password and query values never show.
func TestDestinationHidesCredentials(t *testing.T) {
	h, err := NewHTTP(nil, HTTPOptions{Name: "h", URL: "https://alice:pa55word@logs.example:8443/ingest?token=t0ken&tenant=a"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.log")
	f, err := NewFile(nil, nil, FileOptions{Name: "f", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		s    Sink
		want string
	}{
		{h, "https://logs.example:8443/ingest?tenant=xxxxx&token=xxxxx"},
		{f, path},
		{NewStdout(StdoutOptions{Name: "o"}), "stdout"},
	} {
		got := Destination(tc.s)
		if got != tc.want {
			t.Errorf("%s: Destination = %q, want %q", tc.s.Name(), got, tc.want)
		}
		for _, secret := range []string{"alice", "pa55word", "t0ken"} {
			if strings.Contains(got, secret) {
				t.Errorf("%s: Destination %q shows %q", tc.s.Name(), got, secret)
			}
		}
	}
	if got := RedactURL("http://[::1:bad"); got != "(invalid url)" {
		t.Errorf("RedactURL of an invalid url = %q", got)
	}
}
