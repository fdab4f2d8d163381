package syslog

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate (a CA too) and its key.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey, _ := writeCert(t, dir, "server")
	cliCert, _, cli := writeCert(t, dir, "client")
	s, em := startSource(t, Config{TLS: TLSConfig{CertFile: srvCert, KeyFile: srvKey, CAFile: cliCert}}, nil)
	roots := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(srvCert)
	roots.AppendCertsFromPEM(pemBytes)

	c, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cli}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(octet("<13>1 - h a - - - over tls"))); err != nil {
		t.Fatal(err)
	}
	if e := em.waitEntries(t, 1, 5*time.Second)[0]; e.Line != "over tls" {
		t.Errorf("entry %+v", e)
	}

	// Without a client certificate: refused (ca_file set means require).
	nc, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: roots})
	if err == nil {
		nc.Write([]byte("<13>1 - h a - - - no cert\n"))
		closedByPeer(t, nc, 5*time.Second)
		nc.Close()
	}
	waitFor(t, "the handshake failure counted", 5*time.Second, func() bool { return errorsOf(s, reasonTLS) == 1 })
	if em.Len() != 1 {
		t.Errorf("%d entries: the client without a certificate got through", em.Len())
	}
	// Plain text to a TLS listener: a handshake error, not an entry.
	p := dial(t, s)
	write(t, p, "<13>1 - h a - - - plain\n")
	closedByPeer(t, p, 5*time.Second)
	if em.Len() != 1 {
		t.Errorf("%d entries", em.Len())
	}
}
