package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Values of TLSConfig.ClientAuth.
const (
	ClientAuthNone          = "none"            // no client certificate asked for
	ClientAuthRequest       = "request"         // asked for, not required, not verified
	ClientAuthVerifyIfGiven = "verify_if_given" // verified against ca_file when given
	ClientAuthRequire       = "require"         // required and verified against ca_file
)

// TLSConfig is the tls_config section of a listener: TLS as a server.
// Promtail's keys (cert_file, key_file, ca_file) plus client_auth. The
// files are read once, when the source opens.
type TLSConfig struct {
	// CertFile and KeyFile are the server's PEM certificate and key;
	// setting them turns TLS on.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile is a PEM bundle of the CAs client certificates are verified
	// against.
	CAFile string `yaml:"ca_file"`
	// ClientAuth is none, request, verify_if_given or require. Default:
	// require when ca_file is set (as Promtail does), else none.
	ClientAuth string `yaml:"client_auth"`
}

// Enabled reports whether any key is set.
func (o TLSConfig) Enabled() bool { return o != TLSConfig{} }

func (o TLSConfig) validate() error {
	if !o.Enabled() {
		return nil
	}
	if o.CertFile == "" || o.KeyFile == "" {
		return errors.New("cert_file and key_file are required for TLS")
	}
	switch o.ClientAuth {
	case "", ClientAuthNone, ClientAuthRequest:
	case ClientAuthVerifyIfGiven, ClientAuthRequire:
		if o.CAFile == "" {
			return fmt.Errorf("client_auth %s needs ca_file", o.ClientAuth)
		}
	default:
		return fmt.Errorf("client_auth must be none, request, verify_if_given or require, got %q", o.ClientAuth)
	}
	return nil
}

// Server reads the files and builds the listener's TLS configuration
// (TLS 1.2 or later); nil, nil when no key is set.
func (o TLSConfig) Server() (*tls.Config, error) {
	if !o.Enabled() {
		return nil, nil
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("cert_file/key_file: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s: no PEM certificate found", o.CAFile)
		}
	}
	switch o.ClientAuth {
	case ClientAuthRequest:
		cfg.ClientAuth = tls.RequestClientCert
	case ClientAuthVerifyIfGiven:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "":
		if o.CAFile != "" {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}
