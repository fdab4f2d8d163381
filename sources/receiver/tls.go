package receiver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/logcapturer/logcapturer/config"
)

// Values of TLSConfig.ClientAuth.
const (
	ClientAuthNone          = "none"            // no client certificate asked for
	ClientAuthRequest       = "request"         // asked for, neither required nor verified
	ClientAuthVerifyIfGiven = "verify_if_given" // verified against ca_file when sent
	ClientAuthRequire       = "require"         // required and verified against ca_file
)

// TLSConfig is a listener's tls section: cert_file and key_file turn TLS
// on; ca_file verifies client certificates; client_auth says how (default:
// require when ca_file is set, else none). The files are read when the
// server starts.
type TLSConfig struct {
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	CAFile     string `yaml:"ca_file"`
	ClientAuth string `yaml:"client_auth"`
}

// Enabled reports whether any key is set.
func (t TLSConfig) Enabled() bool { return t != TLSConfig{} }

// Check reports, under key (e.g. "tls"), a section that cannot work:
// cert_file without key_file or the reverse, an unknown client_auth, or
// one that verifies without ca_file. It touches no file.
func (t TLSConfig) Check(ck *config.Check, key string) {
	if !t.Enabled() {
		return
	}
	if t.CertFile == "" {
		ck.Problem(key+".cert_file", "is required with TLS")
	}
	if t.KeyFile == "" {
		ck.Problem(key+".key_file", "is required with TLS")
	}
	ck.OneOf(key+".client_auth", t.ClientAuth, "", ClientAuthNone, ClientAuthRequest, ClientAuthVerifyIfGiven, ClientAuthRequire)
	if (t.ClientAuth == ClientAuthVerifyIfGiven || t.ClientAuth == ClientAuthRequire) && t.CAFile == "" {
		ck.Problem(key+".ca_file", "is required with client_auth %s", t.ClientAuth)
	}
}

// CheckFiles reports files of the section that do not load.
func (t TLSConfig) CheckFiles(ck *config.Check, key string) {
	if !t.Enabled() || t.CertFile == "" || t.KeyFile == "" {
		return
	}
	if _, err := t.Server(); err != nil {
		ck.Problem(key, "%v", err)
	}
}

// Server loads the files into a server configuration (TLS 1.2 or later);
// nil, nil when TLS is off.
func (t TLSConfig) Server() (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load cert_file and key_file: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", t.CAFile)
		}
	}
	switch t.ClientAuth {
	case ClientAuthRequest:
		cfg.ClientAuth = tls.RequestClientCert
	case ClientAuthVerifyIfGiven:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "":
		if t.CAFile != "" {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}
