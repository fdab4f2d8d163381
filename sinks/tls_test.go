package sinks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logcapturer/logcapturer/config"
)

// TestTLSConfigClient: the one TLS client builder of the sinks: nil
// without keys; errors that name the key and the file; a bad PEM names
// its files; cert_file without key_file is a Validate problem.
func TestTLSConfigClient(t *testing.T) {
	if cfg, err := (TLSConfig{}).Client(); cfg != nil || err != nil {
		t.Errorf("no keys: %v, %v; want nil, nil", cfg, err)
	}
	cfg, err := TLSConfig{InsecureSkipVerify: true}.Client()
	if err != nil || cfg == nil || !cfg.InsecureSkipVerify || cfg.MinVersion == 0 {
		t.Errorf("insecure_skip_verify: %+v, %v", cfg, err)
	}

	dir := t.TempDir()
	missing := filepath.Join(dir, "ca.pem")
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate\n"), 0o600)
	for _, tc := range []struct {
		name string
		o    TLSConfig
		want []string
	}{
		{"missing ca", TLSConfig{CAFile: missing}, []string{"tls.ca_file: ", missing, "no such file"}},
		{"junk ca", TLSConfig{CAFile: junk}, []string{"tls.ca_file: ", junk, "no PEM certificate"}},
		{"missing cert", TLSConfig{CertFile: missing, KeyFile: junk}, []string{"tls.cert_file/key_file: ", missing}},
		{"junk cert", TLSConfig{CertFile: junk, KeyFile: junk}, []string{"tls.cert_file/key_file: ", junk + " and " + junk}},
	} {
		_, err := tc.o.Client()
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to name %q", tc.name, err, w)
			}
		}
	}

	if err := (TLSConfig{CertFile: "c"}).Validate(); err == nil || !strings.Contains(err.Error(), "cert_file and key_file") {
		t.Errorf("cert without key: %v", err)
	}
}

// tlsOpts is a sink type's options with a tls section.
type tlsOpts struct{ TLS TLSConfig }

func (o *tlsOpts) Check(c *config.Check) { o.TLS.CheckFiles(c, "tls") }

// TestTLSConfigCheckFiles: a file that does not load is a problem at the
// section's key.
func TestTLSConfigCheckFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ca.pem")
	err := config.CheckOnly(&tlsOpts{TLS: TLSConfig{CAFile: missing}})
	if err == nil || !strings.Contains(err.Error(), "tls: ca_file: open "+missing) {
		t.Errorf("missing ca: %v", err)
	}
	if err := config.CheckOnly(&tlsOpts{}); err != nil {
		t.Errorf("no tls: %v", err)
	}
}
