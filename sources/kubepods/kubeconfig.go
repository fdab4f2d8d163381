package kubepods

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// kubeconfig is the part of a kubeconfig file (client-go's clientcmd v1
// Config: clusters, users, contexts, current-context) that a client of
// one API server needs.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Contexts       []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	Clusters []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
			TLSServerName            string `yaml:"tls-server-name"`
			ProxyURL                 string `yaml:"proxy-url"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			ClientCertificate     string         `yaml:"client-certificate"`
			ClientCertificateData string         `yaml:"client-certificate-data"`
			ClientKey             string         `yaml:"client-key"`
			ClientKeyData         string         `yaml:"client-key-data"`
			Token                 string         `yaml:"token"`
			TokenFile             string         `yaml:"tokenFile"`
			Username              string         `yaml:"username"`
			Password              string         `yaml:"password"`
			Exec                  map[string]any `yaml:"exec"`
			AuthProvider          map[string]any `yaml:"auth-provider"`
		} `yaml:"user"`
	} `yaml:"users"`
}

// apiAccess is how to reach and authenticate to the API server.
type apiAccess struct {
	server    string
	tls       *tls.Config
	token     string // a static bearer token
	tokenFile string // read at each list
	user      string // basic auth, with password
	password  string
}

// fromKubeconfig reads the current context of the kubeconfig file at path
// (relative file names in it are relative to its directory, as kubectl
// reads them).
func fromKubeconfig(path string) (*apiAccess, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig_file: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, fmt.Errorf("kubeconfig_file %s: %w", path, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("kubeconfig_file %s: %s", path, fmt.Sprintf(format, args...))
	}
	if kc.CurrentContext == "" {
		return nil, bad("no current-context")
	}
	var clusterName, userName string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName, found = c.Context.Cluster, c.Context.User, true
		}
	}
	if !found {
		return nil, bad("current-context %q is not among its contexts", kc.CurrentContext)
	}
	dir := filepath.Dir(path)
	file := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	a := &apiAccess{tls: &tls.Config{MinVersion: tls.VersionTLS12}}
	found = false
	for _, c := range kc.Clusters {
		if c.Name != clusterName {
			continue
		}
		found = true
		cl := c.Cluster
		if cl.ProxyURL != "" {
			return nil, bad("cluster %q: proxy-url is not covered", clusterName)
		}
		a.server = cl.Server
		a.tls.InsecureSkipVerify, a.tls.ServerName = cl.InsecureSkipTLSVerify, cl.TLSServerName //nolint:gosec // the file's choice
		pem, err := fileOrData(file(cl.CertificateAuthority), cl.CertificateAuthorityData)
		if err != nil {
			return nil, bad("cluster %q: certificate-authority: %v", clusterName, err)
		}
		if pem != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, bad("cluster %q: certificate-authority holds no PEM certificate", clusterName)
			}
			a.tls.RootCAs = pool
		}
	}
	if !found {
		return nil, bad("cluster %q of context %q is not among its clusters", clusterName, kc.CurrentContext)
	}
	found = userName == ""
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		found = true
		us := u.User
		if us.Exec != nil || us.AuthProvider != nil {
			return nil, bad("user %q: exec and auth-provider credentials are not covered: give a token, a tokenFile or a client certificate", userName)
		}
		cert, err := fileOrData(file(us.ClientCertificate), us.ClientCertificateData)
		if err != nil {
			return nil, bad("user %q: client-certificate: %v", userName, err)
		}
		key, err := fileOrData(file(us.ClientKey), us.ClientKeyData)
		if err != nil {
			return nil, bad("user %q: client-key: %v", userName, err)
		}
		if (cert == nil) != (key == nil) {
			return nil, bad("user %q: a client certificate needs its key, and a key its certificate", userName)
		}
		if cert != nil {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return nil, bad("user %q: client certificate: %v", userName, err)
			}
			a.tls.Certificates = []tls.Certificate{pair}
		}
		a.token, a.tokenFile = us.Token, file(us.TokenFile)
		a.user, a.password = us.Username, us.Password
	}
	if !found {
		return nil, bad("user %q of context %q is not among its users", userName, kc.CurrentContext)
	}
	return a, nil
}

// fileOrData returns the base64 data, else the contents of file, else nil
// (client-go gives the -data keys precedence too).
func fileOrData(file, data string) ([]byte, error) {
	switch {
	case data != "":
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, errors.New("the -data value is not base64")
		}
		return b, nil
	case file != "":
		return os.ReadFile(file)
	}
	return nil, nil
}
