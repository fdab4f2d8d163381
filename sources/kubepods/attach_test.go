package kubepods

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources/kubepods/kubetest"
)

// TestAttachMetadata: with attach_metadata the targets carry the node's
// name, labels and annotations and those of the pod's namespace, named as
// Prometheus names them (discovery/kubernetes addNodeLabels and
// addNamespaceLabels); they are kept in the cache; a request the RBAC
// refuses fails the list (a readiness reason) without losing the pods.
func TestAttachMetadata(t *testing.T) {
	api := kubetest.New(t)
	api.SetPods(kubetest.Pod{Namespace: "shop", Name: "web", UID: "u1", Node: "n1", Containers: []kubetest.Container{{Name: "web"}}})
	api.SetNode(kubetest.Object{Name: "n1", Labels: map[string]string{"topology.kubernetes.io/zone": "eu-1"},
		Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"}})
	api.SetNamespaces(kubetest.Object{Name: "shop", Labels: map[string]string{"team": "checkout"}}, kubetest.Object{Name: "other"})
	file := filepath.Join(t.TempDir(), "pods.json")
	for _, nss := range [][]string{nil, {"shop"}} { // all namespaces listed, or one got
		lists := make(chan error, 16)
		d, err := New(nil, Options{APIServer: api.URL, NodeName: "n1", Namespaces: nss, RefreshInterval: time.Hour, CacheFile: file,
			AttachMetadata: AttachMetadata{Node: true, Namespace: true}}, Hooks{Listed: func(_ int, err error) {
			select {
			case lists <- err:
			default:
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		d.Start(t.Context())
		if err := <-lists; err != nil {
			t.Fatal(err)
		}
		p, _ := d.Lookup("shop", "u1")
		tg := Targets(p, "web")
		node, nsMeta := d.Metadata("shop")
		AddMetadata(tg, node, nsMeta)
		want := map[string]string{
			"__meta_kubernetes_node_name":                                           "n1",
			"__meta_kubernetes_node_label_topology_kubernetes_io_zone":              "eu-1",
			"__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone":       "true",
			"__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl":        "0",
			"__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl": "true",
			"__meta_kubernetes_namespace_label_team":                                "checkout",
			"__meta_kubernetes_namespace_labelpresent_team":                         "true",
			"__meta_kubernetes_namespace":                                           "shop",
		}
		for k, v := range want {
			if tg[0][k] != v {
				t.Errorf("namespaces %v: %s = %q, want %q", nss, k, tg[0][k], v)
			}
		}
		d.Close()
	}

	// Kept in the cache: known at once after a restart with the API down.
	api.Fail(503, "the server is currently unable to handle the request")
	d, err := New(nil, Options{APIServer: api.URL, NodeName: "n1", Namespaces: []string{"shop"}, CacheFile: file,
		AttachMetadata: AttachMetadata{Node: true, Namespace: true}}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if node, ns := d.Metadata("shop"); node == nil || node.Labels["topology.kubernetes.io/zone"] != "eu-1" || ns == nil || ns.Labels["team"] != "checkout" {
		t.Errorf("from the cache: node %+v, namespace %+v", node, ns)
	}
	d.Close()

	// RBAC without get on nodes: the list fails with the API's message,
	// and the pods wait for the node (as Prometheus waits for its
	// informers): a file decided without the node's labels would keep
	// them until closed.
	api.Fail(0, "")
	// k8s.io/apiserver's authorization filter words a refusal so.
	api.FailObjects(403, `nodes "n1" is forbidden: User "system:serviceaccount:logging:logcapturer" cannot get resource "nodes" in API group "" at the cluster scope`)
	lists := make(chan error, 16)
	d2, err := New(slog.New(slog.DiscardHandler), Options{APIServer: api.URL, NodeName: "n1", RefreshInterval: time.Hour,
		AttachMetadata: AttachMetadata{Node: true}}, Hooks{Listed: func(_ int, err error) {
		select {
		case lists <- err:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	d2.Start(t.Context())
	if err := <-lists; err == nil || !strings.Contains(err.Error(), `get node n1: 403 Forbidden: nodes "n1" is forbidden`) {
		t.Errorf("list error %v, want the node's refusal", err)
	}
	if p, _ := d2.Lookup("", "u1"); p != nil {
		t.Error("a pod is known without its node's metadata")
	}
	api.FailObjects(0, "")
	if err := <-lists; err != nil { // the retry, a second later
		t.Fatal(err)
	}
	node, _ := d2.Metadata("shop")
	if p, _ := d2.Lookup("", "u1"); p == nil || node == nil {
		t.Errorf("once the node is got: pod %v, node %v", p, node)
	}
}

// TestAttachMetadataMissingNamespace: a configured namespace the API does
// not have (not created yet) has no metadata and is no failure, as in
// Prometheus; the other namespaces' pods are listed.
func TestAttachMetadataMissingNamespace(t *testing.T) {
	api := kubetest.New(t)
	api.SetPods(kubetest.Pod{Namespace: "shop", Name: "web", UID: "u1", Node: "n1", Containers: []kubetest.Container{{Name: "web"}}})
	api.SetNamespaces(kubetest.Object{Name: "shop", Labels: map[string]string{"team": "checkout"}})
	lists := make(chan error, 16)
	d, err := New(nil, Options{APIServer: api.URL, NodeName: "n1", Namespaces: []string{"shop", "later"}, RefreshInterval: time.Hour,
		AttachMetadata: AttachMetadata{Namespace: true}}, Hooks{Listed: func(_ int, err error) {
		select {
		case lists <- err:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Start(t.Context())
	if err := <-lists; err != nil {
		t.Fatalf("a missing namespace failed the list: %v", err)
	}
	if p, _ := d.Lookup("shop", "u1"); p == nil {
		t.Error("the pod of the existing namespace is not listed")
	}
	if _, ns := d.Metadata("later"); ns != nil {
		t.Errorf("metadata of a missing namespace: %+v", ns)
	}
}
