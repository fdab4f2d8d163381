package syslog

import (
	"errors"
	"fmt"

	"github.com/logcapturer/logcapturer/sources/receiver"
)

// TLSConfig is the tls_config section of a listener: TLS as a server,
// Promtail's keys (cert_file, key_file, ca_file) plus client_auth (none,
// request, verify_if_given or require; default require when ca_file is
// set, as Promtail does, else none). It is the push receivers' type: the
// files are read once, when the source opens (TLSConfig.Server).
type TLSConfig = receiver.TLSConfig

// The values of TLSConfig.ClientAuth.
const (
	ClientAuthNone          = receiver.ClientAuthNone
	ClientAuthRequest       = receiver.ClientAuthRequest
	ClientAuthVerifyIfGiven = receiver.ClientAuthVerifyIfGiven
	ClientAuthRequire       = receiver.ClientAuthRequire
)

// validateTLS reports a tls_config section that cannot work.
func validateTLS(o TLSConfig) error {
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
