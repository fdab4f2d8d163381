package sinks

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/logcapturer/logcapturer/config"
)

// TLSConfig is the tls section of a sink that dials its destination (loki,
// kafka): TLS as a client. Any key set turns TLS on (for loki, on an
// https:// URL). Its files are read once, by Client, when the sink opens.
type TLSConfig struct {
	// CAFile is a PEM bundle of CAs to trust instead of the system's.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// mutual TLS; both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// InsecureSkipVerify disables server certificate verification.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Enabled reports whether any key is set.
func (o TLSConfig) Enabled() bool { return o != TLSConfig{} }

// Validate checks the keys without reading files: cert_file and key_file
// come together. Client does not repeat this check.
func (o TLSConfig) Validate() error {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("cert_file and key_file must be given together")
	}
	return nil
}

// Client reads the files and builds the client's TLS configuration
// (TLS 1.2 or later); nil, nil when no key is set. An error names the key
// and the file: "tls.ca_file: open /etc/lc/ca.pem: no such file or
// directory".
func (o TLSConfig) Client() (*tls.Config, error) {
	cfg, key, err := o.load()
	if err != nil {
		return nil, fmt.Errorf("tls.%s: %w", key, err)
	}
	return cfg, nil
}

// CheckFiles reports, at key (the section's, "tls"), a file that Client
// could not load. It is for a FileChecker's CheckFiles.
func (o TLSConfig) CheckFiles(c *config.Check, key string) {
	if _, k, err := o.load(); err != nil {
		c.Problem(key, "%s: %v", k, err)
	}
}

// load builds the configuration, or says which key's file failed and why.
func (o TLSConfig) load() (*tls.Config, string, error) {
	if !o.Enabled() {
		return nil, "", nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // the user's choice, documented
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, "ca_file", err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "ca_file", fmt.Errorf("%s: no PEM certificate found", o.CAFile)
		}
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			if pe := (*fs.PathError)(nil); !errors.As(err, &pe) { // a bad PEM: name the files
				err = fmt.Errorf("%s and %s: %w", o.CertFile, o.KeyFile, err)
			}
			return nil, "cert_file/key_file", err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, "", nil
}
