package kubepods

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources/kubepods/kubetest"
)

// logBuffer is a slog text sink safe for the discovery's goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// cachedDiscovery starts a Discovery of node n1 in namespaces a and b that
// keeps its pods in file, and returns a channel that gets each list's error.
func cachedDiscovery(t *testing.T, api *kubetest.Server, file string, log *logBuffer, start bool) (*Discovery, chan error) {
	t.Helper()
	lists := make(chan error, 16)
	d, err := New(slog.New(slog.NewTextHandler(log, nil)), Options{APIServer: api.URL, NodeName: "n1", Namespaces: []string{"b", "a"},
		RefreshInterval: 20 * time.Millisecond, CacheFile: file}, Hooks{Listed: func(_ int, err error) {
		select {
		case lists <- err:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if start {
		d.Start(t.Context())
	}
	return d, lists
}

// TestCache: the pods of the last good lists are kept in the cache file,
// written again only when they change, and a new Discovery knows them at
// New, before any list and while lists fail (a static pod by its config
// hash too). A cache of another query, or one that cannot be read, is not
// used, and says so once.
func TestCache(t *testing.T) {
	api := kubetest.New(t)
	static := kubetest.Pod{Namespace: "b", Name: "etcd-n1", UID: "mirror-uid", Node: "n1", IP: "10.0.0.2",
		Annotations: map[string]string{"kubernetes.io/config.hash": "hash2"}, Containers: []kubetest.Container{{Name: "etcd"}}}
	web := kubetest.Pod{Namespace: "a", Name: "web", UID: "u1", Node: "n1", IP: "10.0.0.1", Labels: map[string]string{"app": "shop"},
		Containers: []kubetest.Container{{Name: "web", Image: "nginx", Ports: []kubetest.Port{{Name: "http", Number: 80, Protocol: "TCP"}}}}}
	api.SetPods(web, static)
	file := filepath.Join(t.TempDir(), "kubernetes", "pods.json") // its directory is created
	var log logBuffer
	d, lists := cachedDiscovery(t, api, file, &log, true)
	if err := <-lists; err != nil {
		t.Fatal(err)
	}
	<-lists // written after the first list: the second one finds it
	first, err := os.Stat(file)
	if err != nil {
		t.Fatalf("no cache after a list: %v", err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("cache mode %v, want 0600 (pod annotations may be private)", fi.Mode())
	}
	for range 3 {
		<-lists
	}
	if fi, _ := os.Stat(file); !os.SameFile(first, fi) {
		t.Error("the cache was written again by lists that changed nothing")
	}
	web.Labels = map[string]string{"app": "shop-v2"} // a new map: the server reads the old one
	api.SetPods(web, static)
	waitFor(t, func() bool { fi, _ := os.Stat(file); return fi != nil && !os.SameFile(first, fi) }, "the cache written after a change")
	d.Close()

	api.Fail(503, "the server is currently unable to handle the request") // apimachinery's message for a 503
	temp := filepath.Join(filepath.Dir(file), ".pods.json.123456")        // left by a write killed before its rename
	if err := os.WriteFile(temp, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	d2, lists2 := cachedDiscovery(t, api, file, &log, false)
	if _, err := os.Stat(temp); err == nil {
		t.Error("a temporary file left by a killed write is still there")
	}
	p, gen := d2.Lookup("a", "u1")
	if p == nil || gen == 0 || p.Labels["app"] != "shop-v2" || len(p.Containers) != 1 || p.Containers[0].Ports[0].Number != 80 {
		t.Fatalf("before any list: Lookup(a, u1) = %+v, %d; want the cached pod", p, gen)
	}
	if p, _ := d2.Lookup("b", "hash2"); p == nil || p.UID != "mirror-uid" {
		t.Errorf("the static pod by its config hash: %+v", p)
	}
	if n := d2.Pods(); n != 2 {
		t.Errorf("Pods() = %d, want the 2 cached", n)
	}
	d2.Start(t.Context())
	if err := <-lists2; err == nil {
		t.Fatal("the list succeeded")
	}
	if p, _ := d2.Lookup("a", "u1"); p == nil {
		t.Error("a failed list dropped the cached pod")
	}
	d2.Close()

	// Another query: the namespaces changed.
	d3, err := New(slog.New(slog.NewTextHandler(&log, nil)), Options{APIServer: api.URL, NodeName: "n1", Namespaces: []string{"a"}, CacheFile: file}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer d3.Close()
	if p, _ := d3.Lookup("a", "u1"); p != nil || log.count("cached pod list is of another query") != 1 {
		t.Errorf("a cache of other namespaces was used: %+v", p)
	}

	// A damaged cache (a power cut cannot make one, a hand can).
	if err := os.WriteFile(file, []byte(`{"version":1,"query":`), 0o600); err != nil {
		t.Fatal(err)
	}
	d4, lists4 := cachedDiscovery(t, api, file, &log, false)
	if p, _ := d4.Lookup("a", "u1"); p != nil || log.count("cached pod list cannot be read") != 1 {
		t.Fatalf("a damaged cache: %+v\n%s", p, log.buf.String())
	}
	api.Fail(0, "")
	d4.Start(t.Context())
	if err := <-lists4; err != nil {
		t.Fatal(err)
	}
	<-lists4
	d4.Close()
	d5, _ := cachedDiscovery(t, api, file, &log, false)
	if p, _ := d5.Lookup("a", "u1"); p == nil {
		t.Error("the damaged cache was not written again by a good list")
	}
}

// TestCacheWriteFails: a cache that cannot be written is counted at each
// failed write (Hooks.CacheFailed) and logged once when writes start
// failing, not at each list, and once when they work again.
func TestCacheWriteFails(t *testing.T) {
	api := kubetest.New(t)
	api.SetPods(kubetest.Pod{Namespace: "a", Name: "web", UID: "u1", Node: "n1"})
	dir := filepath.Join(t.TempDir(), "kubernetes")
	if err := os.WriteFile(dir, nil, 0o600); err != nil { // a file where the directory goes
		t.Fatal(err)
	}
	var log logBuffer
	var failed atomic.Int64
	lists := make(chan error, 16)
	d, err := New(slog.New(slog.NewTextHandler(&log, nil)), Options{APIServer: api.URL, NodeName: "n1", RefreshInterval: 20 * time.Millisecond,
		CacheFile: filepath.Join(dir, "pods.json")}, Hooks{
		Listed: func(_ int, err error) {
			select { // never blocks the discovery's goroutine
			case lists <- err:
			default:
			}
		},
		CacheFailed: func() { failed.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Start(t.Context())
	defer d.Close()
	for range 5 {
		if err := <-lists; err != nil {
			t.Fatal(err)
		}
		api.SetPods(kubetest.Pod{Namespace: "a", Name: "web", UID: "u1", Node: "n1", IP: time.Now().String()}) // a change each time
	}
	<-lists // the fifth list's write is done
	if n := log.count("cannot keep the pod list on disk"); n != 1 {
		t.Fatalf("%d warnings for 5 failed writes, want 1:\n%s", n, log.buf.String())
	}
	if n := failed.Load(); n < 5 {
		t.Errorf("CacheFailed called %d times for 5 failed writes", n)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return log.count("the pod list is kept on disk again") == 1 }, "the end of the failure logged")
}

// TestCacheFailingNamespace: while one namespace's lists keep failing,
// a pod that had left it before the restart is dropped from the cache
// after GoneRetention like any gone pod, never written back as listed;
// and a namespace whose last list had no pod is restored as listed (a
// pod not in it is not known, at the generation of that list).
func TestCacheFailingNamespace(t *testing.T) {
	api := kubetest.New(t)
	web := kubetest.Pod{Namespace: "a", Name: "web", UID: "u1", Node: "n1", Containers: []kubetest.Container{{Name: "web"}}}
	job := kubetest.Pod{Namespace: "b", Name: "job", UID: "u2", Node: "n1", Containers: []kubetest.Container{{Name: "job"}}}
	api.SetPods(web, job)
	file := filepath.Join(t.TempDir(), "pods.json")
	var log logBuffer
	d, lists := cachedDiscovery(t, api, file, &log, true)
	<-lists
	<-lists
	api.SetPods(web) // job leaves b, which is now empty
	waitFor(t, func() bool {
		b, _ := os.ReadFile(file)
		return bytes.Contains(b, []byte(`"gone":{"b":[{"pod":{"uid":"u2"`))
	}, "job kept as gone")
	d.Close()

	api.FailNamespace("b", 403, `pods is forbidden: User "system:serviceaccount:logging:logcapturer" cannot list resource "pods" in the namespace "b"`)
	d2, _ := cachedDiscovery(t, api, file, &log, false)
	d2.writeCache(time.Now().Add(2 * GoneRetention)) // a list of a, two hours on; b still refused
	if b, _ := os.ReadFile(file); bytes.Contains(b, []byte(`"u2"`)) {
		t.Errorf("the gone pod is still in the cache after %s: %s", GoneRetention, b)
	}
	d2.Close()

	// b is now kept as listed without pods: restored as such.
	d3, _ := cachedDiscovery(t, api, file, &log, false)
	_, genB3 := d3.Lookup("b", "u-new")
	if genB3 == 0 {
		t.Fatal("the namespace listed without pods is not restored")
	}
	d3.Start(t.Context())
	waitFor(t, func() bool { return d3.Generation() > genB3+1 }, "lists of a")
	if p, gen := d3.Lookup("b", "u-new"); p != nil || gen != genB3 {
		t.Errorf("Lookup in the refused namespace: %v at %d, want nil at the kept list's %d (a pod created meanwhile waits)", p, gen, genB3)
	}
}

// TestCacheKeepsGonePods: a pod that left the lists stays in the cache
// file for GoneRetention, so that a restart soon after still has its
// labels (Cached, and Lookup before the first list); then it is dropped.
func TestCacheKeepsGonePods(t *testing.T) {
	api := kubetest.New(t)
	web := kubetest.Pod{Namespace: "a", Name: "web", UID: "u1", Node: "n1", Labels: map[string]string{"app": "web"}, Containers: []kubetest.Container{{Name: "web"}}}
	job := kubetest.Pod{Namespace: "a", Name: "job", UID: "u2", Node: "n1", Labels: map[string]string{"app": "job"}, Containers: []kubetest.Container{{Name: "job"}}}
	api.SetPods(web, job)
	file := filepath.Join(t.TempDir(), "pods.json")
	var log logBuffer
	d, lists := cachedDiscovery(t, api, file, &log, true)
	<-lists
	<-lists // the first list's pods written
	api.SetPods(web)
	waitFor(t, func() bool {
		b, _ := os.ReadFile(file)
		return bytes.Contains(b, []byte(`"gone":{"a":[{"pod":{"uid":"u2"`))
	}, "the job pod kept as gone")
	d.Close()

	d2, lists2 := cachedDiscovery(t, api, file, &log, false)
	if p, _ := d2.Lookup("a", "u2"); p == nil || p.Labels["app"] != "job" {
		t.Fatalf("before the first list: Lookup(u2) = %+v, want the gone pod", p)
	}
	d2.Start(t.Context())
	<-lists2
	p, gen := d2.Lookup("a", "u2")
	c, cgen := d2.Cached("a", "u2")
	if p != nil || c == nil || c.Labels["app"] != "job" || gen <= cgen {
		t.Fatalf("after a list: Lookup = %+v at %d, Cached = %+v at %d; want nil, and the pod at an earlier generation", p, gen, c, cgen)
	}
	d2.Close()

	d3, _ := cachedDiscovery(t, api, file, &log, false)
	d3.writeCache(time.Now().Add(2 * GoneRetention)) // as a list would, two hours on
	d4, _ := cachedDiscovery(t, api, file, &log, false)
	if c, _ := d4.Cached("a", "u2"); c != nil {
		t.Errorf("a pod gone for longer than %s is still kept", GoneRetention)
	}
	if c, _ := d4.Cached("a", "u1"); c == nil {
		t.Error("the listed pod was dropped with the gone one")
	}
}
