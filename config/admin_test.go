package config_test

import (
	"strings"
	"testing"
)

func TestAdminPProfAndToken(t *testing.T) {
	c, err := parseOnly(t, minimal+"admin: {pprof: true, token_file: /etc/lc/token}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Admin.PProf || c.Admin.TokenFile != "/etc/lc/token" {
		t.Fatalf("admin = %+v", c.Admin)
	}
	if c, _ := parseOnly(t, minimal, nil); c.Admin.PProf {
		t.Fatal("pprof is on by default")
	}
	_, err = parseOnly(t, minimal+"admin: {pprof: maybe}\n", nil)
	if ps := problemsOf(t, err); len(ps) != 1 || ps[0].Key != "admin.pprof" || ps[0].Line != 10 {
		t.Fatalf("pprof: maybe = %v", ps)
	}
	// A public address needs a token file; loopback ones do not.
	for listen, want := range map[string]bool{"0.0.0.0:8401": true, ":8401": true, "10.1.2.3:8401": true,
		"127.0.0.1:8401": false, "localhost:8401": false, "[::1]:8401": false} {
		_, err := parseOnly(t, minimal+"admin: {listen: \""+listen+"\"}\n", nil)
		if !want {
			if err != nil {
				t.Errorf("listen %s: %v", listen, err)
			}
			continue
		}
		ps := problemsOf(t, err)
		if len(ps) != 1 || ps[0].Key != "admin.token_file" || !strings.Contains(ps[0].Msg, "not a loopback address") {
			t.Errorf("listen %s: %v", listen, ps)
		}
	}
}
