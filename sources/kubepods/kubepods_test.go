package kubepods

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources/kubepods/kubetest"
)

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTargets: the label sets of a container are Prometheus's pod
// discovery's (discovery/kubernetes/pod.go): one per port, the pod's
// labels and annotations sanitised with their "present" twins, the
// controller, the container's ID, image and init flag; none for a
// container not in the spec.
func TestTargets(t *testing.T) {
	p := &Pod{UID: "u1", Name: "web-1", Namespace: "shop", Node: "n1", IP: "10.0.0.5", HostIP: "192.168.0.2", Phase: "Running",
		Ready: "true", Labels: map[string]string{"app.kubernetes.io/name": "web"}, Annotations: map[string]string{"prometheus.io/scrape": "true"},
		ControllerKind: "StatefulSet", ControllerName: "web",
		Containers: []Container{{Name: "web", Image: "nginx", ID: "containerd://c1", Ports: []Port{{"http", 80, "TCP"}, {"", 9090, "TCP"}}},
			{Name: "setup", Image: "busybox", Init: true}}}
	common := map[string]string{
		"__meta_kubernetes_namespace": "shop", "__meta_kubernetes_pod_name": "web-1", "__meta_kubernetes_pod_ip": "10.0.0.5",
		"__meta_kubernetes_pod_ready": "true", "__meta_kubernetes_pod_phase": "Running", "__meta_kubernetes_pod_node_name": "n1",
		"__meta_kubernetes_pod_host_ip": "192.168.0.2", "__meta_kubernetes_pod_uid": "u1",
		"__meta_kubernetes_pod_controller_kind": "StatefulSet", "__meta_kubernetes_pod_controller_name": "web",
		"__meta_kubernetes_pod_label_app_kubernetes_io_name": "web", "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
		"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true", "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape": "true",
	}
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(common)
		maps.Copy(m, extra)
		return m
	}
	got := Targets(p, "web")
	want := []map[string]string{
		with(map[string]string{"__address__": "10.0.0.5:80", "__meta_kubernetes_pod_container_name": "web", "__meta_kubernetes_pod_container_id": "containerd://c1",
			"__meta_kubernetes_pod_container_image": "nginx", "__meta_kubernetes_pod_container_init": "false",
			"__meta_kubernetes_pod_container_port_name": "http", "__meta_kubernetes_pod_container_port_number": "80", "__meta_kubernetes_pod_container_port_protocol": "TCP"}),
		with(map[string]string{"__address__": "10.0.0.5:9090", "__meta_kubernetes_pod_container_name": "web", "__meta_kubernetes_pod_container_id": "containerd://c1",
			"__meta_kubernetes_pod_container_image": "nginx", "__meta_kubernetes_pod_container_init": "false",
			"__meta_kubernetes_pod_container_port_name": "", "__meta_kubernetes_pod_container_port_number": "9090", "__meta_kubernetes_pod_container_port_protocol": "TCP"}),
	}
	if len(got) != len(want) || !maps.Equal(got[0], want[0]) || !maps.Equal(got[1], want[1]) {
		t.Errorf("Targets(web):\n got %v\nwant %v", got, want)
	}
	init := Targets(p, "setup")
	if len(init) != 1 || init[0]["__meta_kubernetes_pod_container_init"] != "true" || init[0]["__address__"] != "10.0.0.5" ||
		init[0]["__meta_kubernetes_pod_container_id"] != "" {
		t.Errorf("Targets(setup) = %v", init)
	}
	if got := Targets(p, "debugger"); got != nil {
		t.Errorf("a container not in the spec has targets: %v", got)
	}
	// Prometheus makes no target for a pod without an IP; its files are
	// read all the same (a finished pod's, say).
	p.IP = ""
	if got := Targets(p, "setup"); len(got) != 1 || got[0]["__address__"] != "" || got[0]["__meta_kubernetes_pod_ip"] != "" {
		t.Errorf("a pod without an IP: %v", got)
	}
}

// TestDiscovery: the discovery lists the node's pods (every page, each
// namespace asked for, with the label selector and the token from its
// file, read at each list), decodes them, and finds a static pod by its
// config hash.
func TestDiscovery(t *testing.T) {
	api := kubetest.New(t)
	api.PageSize = 1
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api.SetToken("first")
	api.SetPods(
		kubetest.Pod{Namespace: "a", Name: "p1", UID: "u1", Node: "n1", IP: "10.0.0.1", Phase: "Running", Ready: true,
			Labels: map[string]string{"team": "x"}, ControllerKind: "DaemonSet", ControllerName: "agent",
			Containers: []kubetest.Container{{Name: "c", Image: "img", ID: "containerd://1", Ports: []kubetest.Port{{Name: "m", Number: 9, Protocol: "UDP"}}}}},
		kubetest.Pod{Namespace: "b", Name: "p2", UID: "u2", Node: "n1", IP: "10.0.0.2", Labels: map[string]string{"team": "x"},
			Annotations: map[string]string{"kubernetes.io/config.hash": "h2"}},
		kubetest.Pod{Namespace: "a", Name: "p3", UID: "u3", Node: "n1", IP: "10.0.0.3", Labels: map[string]string{"team": "x"}},
		kubetest.Pod{Namespace: "a", Name: "elsewhere", UID: "u4", Node: "n2", IP: "10.0.0.4", Labels: map[string]string{"team": "x"}},
		kubetest.Pod{Namespace: "c", Name: "other-ns", UID: "u5", Node: "n1", IP: "10.0.0.5", Labels: map[string]string{"team": "x"}},
		kubetest.Pod{Namespace: "a", Name: "other-team", UID: "u6", Node: "n1", IP: "10.0.0.6", Labels: map[string]string{"team": "y"}},
	)
	listed := make(chan int, 4) // after each list of every namespace
	d, err := New(nil, Options{APIServer: api.URL, BearerTokenFile: tokenFile, NodeName: "n1", Namespaces: []string{"a", "b"},
		LabelSelector: "team=x", RefreshInterval: time.Hour}, Hooks{Listed: func(n int, err error) {
		if err != nil {
			t.Errorf("list: %v", err)
		}
		select { // never blocks the discovery's goroutine (Close waits for it)
		case listed <- n:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.Start(context.Background())
	defer d.Close()
	if n := <-listed; n != 3 {
		t.Errorf("first list: %d pods, want 3", n)
	}
	for uid, ns := range map[string]string{"u1": "a", "u2": "b", "h2": "b", "u3": "a"} {
		if p, _ := d.Lookup(ns, uid); p == nil {
			t.Errorf("pod %s not found", uid)
		}
	}
	for uid, ns := range map[string]string{"u4": "a", "u5": "c", "u6": "a"} {
		if p, _ := d.Lookup(ns, uid); p != nil {
			t.Errorf("pod %s (%s/%s) kept: another node, namespace or team", uid, p.Namespace, p.Name)
		}
	}
	p, _ := d.Lookup("a", "u1")
	want := Pod{UID: "u1", Name: "p1", Namespace: "a", Node: "n1", IP: "10.0.0.1", Phase: "Running", Ready: "true",
		ControllerKind: "DaemonSet", ControllerName: "agent"}
	if p.UID != want.UID || p.Name != want.Name || p.Namespace != want.Namespace || p.Node != want.Node || p.IP != want.IP ||
		p.Phase != want.Phase || p.Ready != want.Ready || p.ControllerKind != want.ControllerKind || p.ControllerName != want.ControllerName ||
		p.Labels["team"] != "x" || len(p.Containers) != 1 || p.Containers[0].ID != "containerd://1" ||
		len(p.Containers[0].Ports) != 1 || p.Containers[0].Ports[0] != (Port{"m", 9, "UDP"}) {
		t.Errorf("pod u1 = %+v", p)
	}
	// The token is read at each list: a rotated one is sent.
	if err := os.WriteFile(tokenFile, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	api.SetToken("second")
	d.Refresh()
	<-listed // with the rotated token (the hook fails the test otherwise)
	for _, q := range api.Queries() {
		if !strings.Contains(q, "fieldSelector=spec.nodeName%3Dn1") || !strings.Contains(q, "labelSelector=team%3Dx") ||
			!strings.HasPrefix(q, "/api/v1/namespaces/") {
			t.Errorf("request %q", q)
		}
	}
}

// TestInClusterNeedsPod: without api_server outside a pod, New says what
// to set.
func TestInClusterNeedsPod(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err := New(nil, Options{NodeName: "n"}, Hooks{})
	if err == nil || !strings.Contains(err.Error(), "give kubeconfig_file, or api_server") {
		t.Fatalf("err = %v", err)
	}
}

// TestKubeconfig: with kubeconfig_file the discovery reaches the API
// server of its current context, trusting the cluster's
// certificate-authority-data and sending the user's tokenFile (relative
// to the kubeconfig's directory); credentials it does not cover are
// refused with what to give instead.
func TestKubeconfig(t *testing.T) {
	api := kubetest.NewTLS(t)
	api.SetToken("k3s-token")
	api.SetPods(kubetest.Pod{Namespace: "a", Name: "p1", UID: "u1", Node: "edge-1", IP: "10.0.0.1"})
	dir := t.TempDir()
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw}))
	os.WriteFile(filepath.Join(dir, "token"), []byte("k3s-token\n"), 0o600)
	write := func(user string) string {
		p := filepath.Join(dir, "k3s.yaml")
		os.WriteFile(p, []byte(`apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://192.0.2.1:6443"}
- name: default
  cluster:
    server: `+api.URL+`
    certificate-authority-data: `+ca+`
contexts:
- name: default
  context: {cluster: default, user: default}
current-context: default
users:
- name: default
  user: `+user+`
`), 0o600)
		return p
	}
	d, err := New(nil, Options{KubeconfigFile: write("{tokenFile: token}"), NodeName: "edge-1"}, Hooks{Listed: func(_ int, err error) {
		if err != nil {
			t.Errorf("list: %v", err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.Start(context.Background())
	defer d.Close()
	waitFor(t, func() bool { return d.Generation() >= 1 }, "a list")
	if p, _ := d.Lookup("a", "u1"); p == nil {
		t.Error("pod u1 not listed")
	}
	_, err = New(nil, Options{KubeconfigFile: write("{exec: {command: aws, args: [eks, get-token]}}"), NodeName: "edge-1"}, Hooks{})
	if err == nil || !strings.Contains(err.Error(), "exec and auth-provider credentials are not covered") {
		t.Errorf("exec user: %v", err)
	}
}

// TestOwnNamespace: own_namespace lists the pods of the namespace in the
// service account's namespace file, with the other names.
func TestOwnNamespace(t *testing.T) {
	api := kubetest.New(t)
	api.SetPods(kubetest.Pod{Namespace: "logging", Name: "p1", UID: "u1", Node: "n1", IP: "10.0.0.1"},
		kubetest.Pod{Namespace: "shop", Name: "p2", UID: "u2", Node: "n1", IP: "10.0.0.2"},
		kubetest.Pod{Namespace: "other", Name: "p3", UID: "u3", Node: "n1", IP: "10.0.0.3"})
	f := filepath.Join(t.TempDir(), "namespace")
	os.WriteFile(f, []byte("logging"), 0o600)
	old := namespaceFile
	namespaceFile = f
	defer func() { namespaceFile = old }()
	listed := make(chan error, 4) // after each list of every namespace
	d, err := New(nil, Options{APIServer: api.URL, NodeName: "n1", Namespaces: []string{"shop"}, OwnNamespace: true},
		Hooks{Listed: func(_ int, err error) {
			select { // never blocks the discovery's goroutine (Close waits for it)
			case listed <- err:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	d.Start(context.Background())
	defer d.Close()
	if err := <-listed; err != nil {
		t.Fatal(err)
	}
	for uid, want := range map[string]bool{"u1": true, "u2": true, "u3": false} {
		ns := map[string]string{"u1": "logging", "u2": "shop", "u3": "other"}[uid]
		if p, _ := d.Lookup(ns, uid); (p != nil) != want {
			t.Errorf("pod %s listed: %v, want %v", uid, p != nil, want)
		}
	}
}

// TestListNotPodList: an answer that is not a PodList (a proxy's HTML
// page, say) is a failed list with what was wrong, never a panic, and
// the pods of the last good list are kept.
func TestListNotPodList(t *testing.T) {
	var mu sync.Mutex
	body := `{"kind":"PodList","items":[{"metadata":{"name":"p1","namespace":"a","uid":"u1"},"status":{"podIP":"10.0.0.1"}}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(w, body)
	}))
	defer srv.Close()
	errs := make(chan error, 16)
	d, err := New(nil, Options{APIServer: srv.URL, NodeName: "n1"}, Hooks{Listed: func(_ int, err error) {
		select {
		case errs <- err:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.Start(context.Background())
	defer d.Close()
	if err := <-errs; err != nil {
		t.Fatalf("first list: %v", err)
	}
	mu.Lock()
	body = "<html><body>502 Bad Gateway</body></html>"
	mu.Unlock()
	d.Refresh()
	err = <-errs
	if err == nil || !strings.Contains(err.Error(), "the answer is not a PodList") {
		t.Fatalf("err = %v", err)
	}
	if p, _ := d.Lookup("a", "u1"); p == nil {
		t.Error("the last good list's pod is gone")
	}
}

// TestOneNamespaceRefused: a namespace whose list is refused (a Role
// missing there) fails the list, once reported, while the other
// namespaces' pods are listed and kept current, as Prometheus's
// informers are one per namespace.
func TestOneNamespaceRefused(t *testing.T) {
	api := kubetest.New(t)
	api.SetPods(kubetest.Pod{Namespace: "a", Name: "p1", UID: "u1", Node: "n1", IP: "10.0.0.1"},
		kubetest.Pod{Namespace: "b", Name: "p2", UID: "u2", Node: "n1", IP: "10.0.0.2"})
	// The API server's message for a missing Role (k8s.io/apiserver's
	// authorization filter).
	api.FailNamespace("b", 403, `pods is forbidden: User "system:serviceaccount:logging:logcapturer" cannot list resource "pods" in API group "" in the namespace "b"`)
	failing := make(chan string, 4)
	d, err := New(nil, Options{APIServer: api.URL, NodeName: "n1", Namespaces: []string{"a", "b"}}, Hooks{Failing: func(on bool, detail string) {
		if on {
			failing <- detail
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.Start(context.Background())
	defer d.Close()
	detail := <-failing
	if !strings.Contains(detail, "namespace b: list pods: 403 Forbidden: pods is forbidden") {
		t.Errorf("detail %q", detail)
	}
	if p, _ := d.Lookup("a", "u1"); p == nil {
		t.Error("namespace a's pod not listed while b is refused")
	}
	api.SetPods(kubetest.Pod{Namespace: "a", Name: "p1", UID: "u1", Node: "n1", IP: "10.0.0.1"},
		kubetest.Pod{Namespace: "a", Name: "p3", UID: "u3", Node: "n1", IP: "10.0.0.3"})
	waitFor(t, func() bool { p, _ := d.Lookup("a", "u3"); return p != nil }, "a new pod of namespace a, with b still refused")
}
