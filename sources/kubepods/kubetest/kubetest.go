package kubetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Container is one container of a Pod.
type Container struct {
	Name, Image string
	// ID is the container ID of its status ("containerd://..."); empty:
	// no status yet.
	ID    string
	Init  bool
	Ports []Port
}

// Port is a declared container port.
type Port struct {
	Name     string
	Number   int32
	Protocol string
}

// Pod is a pod the server lists.
type Pod struct {
	Namespace, Name, UID, Node string
	IP, HostIP                 string
	Phase                      string
	Ready                      bool
	Labels, Annotations        map[string]string
	// Controller is the kind and name of the controlling owner ("" none).
	ControllerKind, ControllerName string
	Containers                     []Container
}

// Object is a node or a namespace the server has (its metadata).
type Object struct {
	Name                string
	Labels, Annotations map[string]string
}

// Server is the fake API server.
type Server struct {
	*httptest.Server
	// PageSize, when set, cuts lists into pages of that many pods.
	PageSize int

	mu       sync.Mutex
	token    string // when set, the bearer token every request must carry
	pods     []Pod
	fail     int    // status code to answer with, 0: none
	failBody string // its body
	failNS   string // "": every list fails; else only this namespace's
	lists    int
	queries  []string
	node     *Object
	nss      []Object
	objFail  int    // status of node and namespace requests, 0: none
	objBody  string // its body
}

// SetNode sets the one node the server has (GET /api/v1/nodes/NAME).
func (s *Server) SetNode(o Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.node = &o
}

// SetNamespaces replaces the namespaces the server has (GET
// /api/v1/namespaces and /api/v1/namespaces/NAME).
func (s *Server) SetNamespaces(nss ...Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nss = append([]Object(nil), nss...)
}

// FailObjects makes node and namespace requests answer code with a Status
// naming message (a missing RBAC rule); FailObjects(0, "") ends it.
func (s *Server) FailObjects(code int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objFail, s.objBody = code, statusBody(code, message)
}

// statusBody is the shape of the API server's error answers
// (k8s.io/apimachinery/pkg/apis/meta/v1 Status, as written by
// k8s.io/apiserver's responsewriters.ErrorNegotiated).
func statusBody(code int, message string) string {
	b, _ := json.Marshal(map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": message, "reason": http.StatusText(code), "code": code})
	return string(b)
}

// serveObject answers a node or namespace request; false: not one.
func (s *Server) serveObject(w http.ResponseWriter, path string) bool {
	meta := func(o Object) map[string]any {
		return map[string]any{"name": o.Name, "labels": o.Labels, "annotations": o.Annotations, "resourceVersion": "1"}
	}
	kind, name, found := "", "", false
	var obj Object
	switch {
	case path == "/api/v1/namespaces":
		if s.objFail != 0 {
			w.WriteHeader(s.objFail)
			fmt.Fprint(w, s.objBody)
			return true
		}
		items := []any{}
		for _, o := range s.nss {
			items = append(items, map[string]any{"kind": "Namespace", "apiVersion": "v1", "metadata": meta(o)})
		}
		json.NewEncoder(w).Encode(map[string]any{"kind": "NamespaceList", "apiVersion": "v1", "metadata": map[string]any{"resourceVersion": "1"}, "items": items})
		return true
	case strings.HasPrefix(path, "/api/v1/nodes/"):
		kind, name = "nodes", strings.TrimPrefix(path, "/api/v1/nodes/")
		if s.node != nil && s.node.Name == name {
			obj, found = *s.node, true
		}
	case strings.HasPrefix(path, "/api/v1/namespaces/") && !strings.Contains(strings.TrimPrefix(path, "/api/v1/namespaces/"), "/"):
		kind, name = "namespaces", strings.TrimPrefix(path, "/api/v1/namespaces/")
		for _, o := range s.nss {
			if o.Name == name {
				obj, found = o, true
			}
		}
	default:
		return false
	}
	switch {
	case s.objFail != 0:
		w.WriteHeader(s.objFail)
		fmt.Fprint(w, s.objBody)
	case !found:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, statusBody(http.StatusNotFound, fmt.Sprintf("%s %q not found", kind, name)))
	default:
		k := map[string]string{"nodes": "Node", "namespaces": "Namespace"}[kind]
		json.NewEncoder(w).Encode(map[string]any{"kind": k, "apiVersion": "v1", "metadata": meta(obj)})
	}
	return true
}

// New starts a server (plain HTTP), closed at the test's cleanup.
func New(t testing.TB) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// NewTLS starts a server on HTTPS with httptest's certificate
// (Server.Certificate), closed at the test's cleanup.
func NewTLS(t testing.TB) *Server {
	s := &Server{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// SetToken makes every request carry this bearer token ("": none).
func (s *Server) SetToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = tok
}

// SetPods replaces the pods the server has.
func (s *Server) SetPods(pods ...Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pods = append([]Pod(nil), pods...)
}

// Fail makes every list answer code with a Status body naming message;
// Fail(0, "") ends it.
func (s *Server) Fail(code int, message string) { s.FailNamespace("", code, message) }

// FailNamespace is Fail for the lists of one namespace only ("": all).
func (s *Server) FailNamespace(ns string, code int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.failNS = code, ns
	s.failBody = statusBody(code, message)
}

// Lists is how many list requests were answered.
func (s *Server) Lists() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

// Queries are the query strings of the requests so far.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, r.URL.Path+"?"+r.URL.RawQuery)
	w.Header().Set("Content-Type", "application/json")
	if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`)
		return
	}
	if s.fail != 0 && s.failNS == "" { // the whole API fails
		w.WriteHeader(s.fail)
		fmt.Fprint(w, s.failBody)
		return
	}
	if s.serveObject(w, r.URL.Path) {
		return
	}
	if s.fail != 0 && strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/"+s.failNS+"/") {
		w.WriteHeader(s.fail)
		fmt.Fprint(w, s.failBody)
		return
	}
	ns := ""
	switch {
	case r.URL.Path == "/api/v1/pods":
	case strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/") && strings.HasSuffix(r.URL.Path, "/pods"):
		ns = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/"), "/pods")
	default:
		http.NotFound(w, r)
		return
	}
	s.lists++
	fields := selector(r.URL.Query().Get("fieldSelector"))
	lbls := selector(r.URL.Query().Get("labelSelector"))
	items := []any{}
	for _, p := range s.pods {
		if ns != "" && p.Namespace != ns {
			continue
		}
		if n, ok := fields["spec.nodeName"]; ok && n != p.Node {
			continue
		}
		if n, ok := fields["metadata.namespace"]; ok && n != p.Namespace {
			continue
		}
		match := true
		for k, v := range lbls {
			if p.Labels[k] != v {
				match = false
			}
		}
		if match {
			items = append(items, p.json())
		}
	}
	// Pages of PageSize (or the request's limit, if smaller), the
	// continue token being the index of the next item.
	meta := map[string]any{"resourceVersion": "1"}
	from, _ := strconv.Atoi(r.URL.Query().Get("continue"))
	from = min(from, len(items))
	size := len(items) - from
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 && l < size {
		size = l
	}
	if s.PageSize > 0 && s.PageSize < size {
		size = s.PageSize
	}
	if from+size < len(items) {
		meta["continue"] = strconv.Itoa(from + size)
	}
	json.NewEncoder(w).Encode(map[string]any{"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items[from : from+size]})
}

// selector parses "a=b,c==d" (equality terms only).
func selector(s string) map[string]string {
	out := map[string]string{}
	for _, term := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(term, "=")
		if ok {
			out[k] = strings.TrimPrefix(v, "=")
		}
	}
	return out
}

// json renders the pod as the API does (core/v1 Pod, its JSON names).
func (p Pod) json() map[string]any {
	meta := map[string]any{"name": p.Name, "namespace": p.Namespace, "uid": p.UID, "resourceVersion": "1"}
	if p.Labels != nil {
		meta["labels"] = p.Labels
	}
	if p.Annotations != nil {
		meta["annotations"] = p.Annotations
	}
	if p.ControllerKind != "" {
		meta["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": p.ControllerKind,
			"name": p.ControllerName, "uid": "owner-uid", "controller": true, "blockOwnerDeletion": true}}
	}
	var containers, inits, statuses, initStatuses []any
	for _, c := range p.Containers {
		cj := map[string]any{"name": c.Name, "image": c.Image}
		var ports []any
		for _, port := range c.Ports {
			pj := map[string]any{"containerPort": port.Number, "protocol": port.Protocol}
			if port.Name != "" {
				pj["name"] = port.Name
			}
			ports = append(ports, pj)
		}
		if ports != nil {
			cj["ports"] = ports
		}
		st := map[string]any{"name": c.Name, "image": c.Image, "ready": p.Ready, "restartCount": 0}
		if c.ID != "" {
			st["containerID"] = c.ID
		}
		if c.Init {
			inits, initStatuses = append(inits, cj), append(initStatuses, st)
		} else {
			containers, statuses = append(containers, cj), append(statuses, st)
		}
	}
	spec := map[string]any{"nodeName": p.Node, "containers": containers}
	if inits != nil {
		spec["initContainers"] = inits
	}
	ready := "False"
	if p.Ready {
		ready = "True"
	}
	status := map[string]any{"phase": p.Phase, "conditions": []any{
		map[string]any{"type": "Initialized", "status": "True"},
		map[string]any{"type": "Ready", "status": ready},
	}, "containerStatuses": statuses}
	if initStatuses != nil {
		status["initContainerStatuses"] = initStatuses
	}
	if p.IP != "" {
		status["podIP"] = p.IP
		status["podIPs"] = []any{map[string]any{"ip": p.IP}}
	}
	if p.HostIP != "" {
		status["hostIP"] = p.HostIP
	}
	return map[string]any{"metadata": meta, "spec": spec, "status": status}
}
