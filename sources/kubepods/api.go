package kubepods

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// In-cluster defaults: what every pod gets from its service account
// (Kubernetes' "Accessing the API from a Pod").
const (
	InClusterTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	InClusterCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
	// InClusterNamespaceFile holds the pod's own namespace.
	InClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
)

// maxListBytes caps one page of a pod list (500 pods at most); a node's
// pods take far less.
const maxListBytes = 64 << 20

// listPageSize is the limit of one list request; maxPages bounds a list.
const (
	listPageSize = 500
	maxPages     = 100
)

// client lists pods from the API server.
type client struct {
	base *url.URL
	acc  *apiAccess
	http *http.Client
}

func newClient(o *Options) (*client, error) {
	var acc *apiAccess
	var err error
	if o.KubeconfigFile != "" {
		acc, err = fromKubeconfig(o.KubeconfigFile)
	} else {
		acc, err = fromOptions(o)
	}
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(acc.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("API server %q is not an http or https URL", acc.server)
	}
	if acc.tokenFile != "" {
		if _, err := os.ReadFile(acc.tokenFile); err != nil {
			return nil, fmt.Errorf("read the bearer token: %w", err)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = acc.tls
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1, 1
	return &client{base: u, acc: acc, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// fromOptions is the access api_server, bearer_token_file and tls give,
// or without api_server the cluster's from inside a pod.
func fromOptions(o *Options) (*apiAccess, error) {
	server, tokenFile, caFile := o.APIServer, o.BearerTokenFile, o.TLS.CAFile
	if server == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("api_server is not set and this is not a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set): " +
				"give kubeconfig_file, or api_server with bearer_token_file and tls, to reach the cluster from outside")
		}
		server = "https://" + net.JoinHostPort(host, port)
		if tokenFile == "" {
			tokenFile = InClusterTokenFile
		}
		if caFile == "" {
			caFile = InClusterCAFile
		}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.TLS.InsecureSkipVerify, ServerName: o.TLS.ServerName} //nolint:gosec // the user's choice
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read the API server's CA (tls.ca_file): %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	if o.TLS.CertFile != "" || o.TLS.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLS.CertFile, o.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate (tls.cert_file, tls.key_file): %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return &apiAccess{server: server, tls: tc, tokenFile: tokenFile}, nil
}

func (c *client) close() { c.http.CloseIdleConnections() }

// list returns the pods of namespace ("": every namespace) that match the
// selectors, following the list's continue tokens.
func (c *client) list(ctx context.Context, namespace, fieldSelector, labelSelector string) ([]*Pod, error) {
	var out []*Pod
	cont := ""
	for range maxPages {
		page, next, err := c.page(ctx, namespace, fieldSelector, labelSelector, cont)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		if next == cont {
			return nil, errors.New("list pods: the API server answered the same continue token twice")
		}
		cont = next
	}
	return nil, fmt.Errorf("list pods: more than %d pages of %d pods", maxPages, listPageSize)
}

func (c *client) page(ctx context.Context, namespace, fieldSelector, labelSelector, cont string) ([]*Pod, string, error) {
	path := "/api/v1/pods"
	if namespace != "" {
		path = "/api/v1/namespaces/" + url.PathEscape(namespace) + "/pods"
	}
	q := url.Values{}
	q.Set("limit", fmt.Sprint(listPageSize))
	if fieldSelector != "" {
		q.Set("fieldSelector", fieldSelector)
	}
	if labelSelector != "" {
		q.Set("labelSelector", labelSelector)
	}
	if cont != "" {
		q.Set("continue", cont)
	}
	var l podList
	if err := c.getJSON(ctx, path, q, "list pods", "a PodList", &l); err != nil {
		return nil, "", err
	}
	pods := make([]*Pod, 0, len(l.Items))
	for i := range l.Items {
		pods = append(pods, l.Items[i].pod())
	}
	return pods, l.Metadata.Continue, nil
}

// node returns the metadata of the node named name (attach_metadata node).
func (c *client) node(ctx context.Context, name string) (*ObjectMeta, error) {
	var o apiObject
	if err := c.getJSON(ctx, "/api/v1/nodes/"+url.PathEscape(name), url.Values{}, "get node "+name, "a Node", &o); err != nil {
		return nil, err
	}
	return o.meta(), nil
}

// namespace returns the metadata of one namespace (attach_metadata
// namespace).
func (c *client) namespace(ctx context.Context, name string) (*ObjectMeta, error) {
	var o apiObject
	if err := c.getJSON(ctx, "/api/v1/namespaces/"+url.PathEscape(name), url.Values{}, "get namespace "+name, "a Namespace", &o); err != nil {
		return nil, err
	}
	return o.meta(), nil
}

// namespaces returns the metadata of every namespace, by name.
func (c *client) namespaces(ctx context.Context) (map[string]*ObjectMeta, error) {
	var l struct {
		Metadata struct {
			Continue string `json:"continue"`
		} `json:"metadata"`
		Items []apiObject `json:"items"`
	}
	q := url.Values{}
	q.Set("limit", fmt.Sprint(listPageSize*maxPages)) // a cluster has far fewer namespaces
	if err := c.getJSON(ctx, "/api/v1/namespaces", q, "list namespaces", "a NamespaceList", &l); err != nil {
		return nil, err
	}
	if l.Metadata.Continue != "" {
		return nil, fmt.Errorf("list namespaces: more than %d namespaces", listPageSize*maxPages)
	}
	out := make(map[string]*ObjectMeta, len(l.Items))
	for i := range l.Items {
		m := l.Items[i].meta()
		out[m.Name] = m
	}
	return out, nil
}

// getJSON gets path (with q, and resourceVersion=0: served from the API
// server's watch cache, not read from etcd, since every node asks every
// minute) and decodes the answer into out, at most maxListBytes of it. An
// error starts with what, and names kind when the answer is not one.
func (c *client) getJSON(ctx context.Context, path string, q url.Values, what, kind string, out any) error {
	u := *c.base
	u.Path = strings.TrimSuffix(c.base.Path, "/") + path
	q.Set("resourceVersion", "0")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Accept", "application/json")
	switch a := c.acc; {
	case a.tokenFile != "":
		// Read at each request: projected service account tokens are
		// rotated in place by the kubelet.
		tok, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return fmt.Errorf("%s: read the bearer token: %w", what, err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	case a.token != "":
		req.Header.Set("Authorization", "Bearer "+a.token)
	case a.user != "":
		req.SetBasicAuth(a.user, a.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		err := fmt.Errorf("%s: %s: %s", what, resp.Status, statusMessage(body))
		if resp.StatusCode == http.StatusNotFound {
			return &notFoundError{err}
		}
		return err
	}
	// Decoded as it arrives: the answer is not held whole beside what
	// it decodes to.
	lr := &io.LimitedReader{R: resp.Body, N: maxListBytes}
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		if lr.N == 0 {
			return fmt.Errorf("%s: the answer is over %d MiB", what, maxListBytes>>20)
		}
		return fmt.Errorf("%s: the answer is not %s: %w", what, kind, err)
	}
	return nil
}

// notFoundError is getJSON's error for a 404: the object is not there.
type notFoundError struct{ error }

func (e *notFoundError) Unwrap() error { return e.error }

// statusMessage is the message of a Kubernetes Status answer (what the API
// server sends with an error code), else the start of the body.
func statusMessage(body []byte) string {
	var st struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		return st.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// podList and apiPod are the parts of the core/v1 PodList and Pod JSON
// (k8s.io/api/core/v1) that Pod keeps.
type podList struct {
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []apiPod `json:"items"`
}

type apiContainer struct {
	Name  string `json:"name"`
	Image string `json:"image"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int32  `json:"containerPort"`
		Protocol      string `json:"protocol"`
	} `json:"ports"`
}

type apiStatus struct {
	Name        string `json:"name"`
	ContainerID string `json:"containerID"`
}

type apiPod struct {
	Metadata struct {
		Name            string            `json:"name"`
		Namespace       string            `json:"namespace"`
		UID             string            `json:"uid"`
		Labels          map[string]string `json:"labels"`
		Annotations     map[string]string `json:"annotations"`
		OwnerReferences []struct {
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			Controller *bool  `json:"controller"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Spec struct {
		NodeName       string         `json:"nodeName"`
		Containers     []apiContainer `json:"containers"`
		InitContainers []apiContainer `json:"initContainers"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		PodIP      string `json:"podIP"`
		HostIP     string `json:"hostIP"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
		ContainerStatuses     []apiStatus `json:"containerStatuses"`
		InitContainerStatuses []apiStatus `json:"initContainerStatuses"`
	} `json:"status"`
}

func (a *apiPod) pod() *Pod {
	p := &Pod{
		UID: a.Metadata.UID, Name: a.Metadata.Name, Namespace: a.Metadata.Namespace,
		Node: a.Spec.NodeName, IP: a.Status.PodIP, HostIP: a.Status.HostIP, Phase: a.Status.Phase,
		Ready: "unknown", Labels: a.Metadata.Labels, Annotations: a.Metadata.Annotations,
	}
	for _, c := range a.Status.Conditions {
		if c.Type == "Ready" {
			p.Ready = strings.ToLower(c.Status)
			break
		}
	}
	for _, r := range a.Metadata.OwnerReferences {
		if r.Controller != nil && *r.Controller {
			p.ControllerKind, p.ControllerName = r.Kind, r.Name
			break
		}
	}
	add := func(cs []apiContainer, sts []apiStatus, init bool) {
		for _, c := range cs {
			ct := Container{Name: c.Name, Image: c.Image, Init: init}
			for _, s := range sts {
				if s.Name == c.Name {
					ct.ID = s.ContainerID
					break
				}
			}
			for _, port := range c.Ports {
				ct.Ports = append(ct.Ports, Port{Name: port.Name, Number: port.ContainerPort, Protocol: port.Protocol})
			}
			p.Containers = append(p.Containers, ct)
		}
	}
	add(a.Spec.Containers, a.Status.ContainerStatuses, false)
	add(a.Spec.InitContainers, a.Status.InitContainerStatuses, true)
	return p
}

// apiObject is the metadata of any object (core/v1 Node, Namespace).
type apiObject struct {
	Metadata struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
}

func (o *apiObject) meta() *ObjectMeta {
	return &ObjectMeta{Name: o.Metadata.Name, Labels: o.Metadata.Labels, Annotations: o.Metadata.Annotations}
}
