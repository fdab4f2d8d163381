package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources/kubepods"
	"github.com/logcapturer/logcapturer/sources/kubepods/kubetest"
	"github.com/logcapturer/logcapturer/wal"
)

// helmRules are the relabel_configs of the Promtail Helm chart's
// kubernetes-pods job (grafana/helm-charts charts/promtail values.yaml,
// config.snippets), with /var/log/pods replaced by ROOT.
const helmRules = `
- source_labels: [__meta_kubernetes_pod_controller_name]
  regex: ([0-9a-z-.]+?)(-[0-9a-f]{8,10})?
  action: replace
  target_label: __tmp_controller_name
- source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name, __meta_kubernetes_pod_label_app, __tmp_controller_name, __meta_kubernetes_pod_name]
  regex: ^;*([^;]+)(;.*)?$
  action: replace
  target_label: app
- source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_instance, __meta_kubernetes_pod_label_instance]
  regex: ^;*([^;]+)(;.*)?$
  action: replace
  target_label: instance
- source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component, __meta_kubernetes_pod_label_component]
  regex: ^;*([^;]+)(;.*)?$
  action: replace
  target_label: component
- {action: replace, source_labels: [__meta_kubernetes_pod_node_name], target_label: node_name}
- {action: replace, source_labels: [__meta_kubernetes_namespace], target_label: namespace}
- {action: replace, replacement: $1, separator: /, source_labels: [namespace, app], target_label: job}
- {action: replace, source_labels: [__meta_kubernetes_pod_name], target_label: pod}
- {action: replace, source_labels: [__meta_kubernetes_pod_container_name], target_label: container}
- action: replace
  replacement: ROOT/*$1/*.log
  separator: /
  source_labels: [__meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name]
  target_label: __path__
- action: replace
  replacement: ROOT/*$1/*.log
  regex: true/(.*)
  separator: /
  source_labels: [__meta_kubernetes_pod_annotationpresent_kubernetes_io_config_hash, __meta_kubernetes_pod_annotation_kubernetes_io_config_hash, __meta_kubernetes_pod_container_name]
  target_label: __path__
- {action: drop, source_labels: [__meta_kubernetes_namespace], regex: skipped}
`

// criLine is one full line in the CRI log format.
func criLine(stream, text string) string {
	return "2026-12-05T10:00:00.000000001Z " + stream + " F " + text + "\n"
}

// podLog writes lines to ROOT/<ns>_<pod>_<uid>/<container>/0.log.
func podLog(t testing.TB, root, dir, container string, lines ...string) string {
	t.Helper()
	p := filepath.Join(root, dir, container, "0.log")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, strings.Join(lines, ""))
	return p
}

type kubeHarness struct {
	src  *File
	rec  *recorder
	log  *logBuffer
	reg  *prometheus.Registry
	cond *condRecorder
}

// openKube opens and starts a kubernetes source on the pod logs under
// root, with a data directory (its pod list cache) shared by the test's
// sources.
func openKube(t *testing.T, api *kubetest.Server, root, rules string, positions map[string]wal.Position, tweak ...func(*FileConfig)) *kubeHarness {
	t.Helper()
	return openKubeData(t, api, root, filepath.Join(filepath.Dir(root), "data"), rules, positions, tweak...)
}

// openKubeData is openKube with the data directory dataDir ("": none).
func openKubeData(t *testing.T, api *kubetest.Server, root, dataDir, rules string, positions map[string]wal.Position, tweak ...func(*FileConfig)) *kubeHarness {
	t.Helper()
	c := NewFileConfig(TypeKubernetes)
	c.Paths = []string{filepath.Join(root, "*", "*", "*.log")}
	c.PollInterval = config.Duration(20 * time.Millisecond)
	c.Kubernetes.APIServer = api.URL
	c.Kubernetes.NodeName = "node-a"
	for _, f := range tweak {
		f(c)
	}
	h := &kubeHarness{rec: &recorder{t: t}, log: &logBuffer{}, reg: prometheus.NewRegistry(), cond: &condRecorder{}}
	deps := Deps{Logger: slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug})), Registerer: h.reg,
		Name: "pods", Emitter: h.rec, Conditions: h.cond, Positions: positions, DataDir: dataDir}
	if rules != "" {
		deps.RelabelConfigs = relabelRules(t, strings.ReplaceAll(rules, "ROOT", root))
	}
	src, err := c.Open(deps)
	if err != nil {
		t.Fatal(err)
	}
	h.src = src.(*File)
	t.Cleanup(func() {
		h.src.Close()
		if t.Failed() {
			t.Logf("source log:\n%s", h.log)
		}
	})
	if err := h.src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

// streams returns the lines by their stream's labels ("a=1,b=2").
func (r *recorder) streams() map[string][]string {
	got := map[string][]string{}
	for _, b := range r.all() {
		for i, l := range b.lines {
			ls := labelString(b.labels)
			if b.entryLabels[i] != "" {
				ls = b.entryLabels[i]
			}
			got[ls] = append(got[ls], l)
		}
	}
	return got
}

func webPod() kubetest.Pod {
	return kubetest.Pod{Namespace: "default", Name: "web-7d9f8b6c5d-x2x9z", UID: "0b1c2d3e-uid-web", Node: "node-a",
		IP: "10.42.0.7", HostIP: "192.168.1.10", Phase: "Running", Ready: true,
		Labels:         map[string]string{"app.kubernetes.io/name": "shop", "pod-template-hash": "7d9f8b6c5d"},
		ControllerKind: "ReplicaSet", ControllerName: "web-7d9f8b6c5d",
		Containers: []kubetest.Container{
			{Name: "web", Image: "nginx:1.27", ID: "containerd://aaa", Ports: []kubetest.Port{{Name: "http", Number: 8080, Protocol: "TCP"}, {Name: "metrics", Number: 9090, Protocol: "TCP"}}},
			{Name: "init-db", Image: "busybox", ID: "containerd://bbb", Init: true},
		}}
}

// TestKubernetesHelmChart: the Promtail Helm chart's rules label each
// pod's files as Promtail does (app from app.kubernetes.io/name, job
// namespace/app, the static pod's files through its config hash); a
// namespace the rules drop and a pod the API does not have are not read;
// a pod that appears later is read once its directory shows.
func TestKubernetesHelmChart(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	etcd := kubetest.Pod{Namespace: "kube-system", Name: "etcd-node-a", UID: "mirror-uid-1", Node: "node-a",
		IP: "192.168.1.10", HostIP: "192.168.1.10", Phase: "Running", Ready: true,
		Labels:      map[string]string{"component": "etcd", "tier": "control-plane"},
		Annotations: map[string]string{"kubernetes.io/config.hash": "5c3a9e1f0hash", "kubernetes.io/config.source": "file"},
		Containers:  []kubetest.Container{{Name: "etcd", Image: "registry.k8s.io/etcd:3.5"}}}
	skipped := kubetest.Pod{Namespace: "skipped", Name: "noise", UID: "uid-noise", Node: "node-a", IP: "10.42.0.9", Phase: "Running",
		Containers: []kubetest.Container{{Name: "noise"}}}
	api.SetPods(webPod(), etcd, skipped)
	podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "GET /"), criLine("stderr", "oops"))
	podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "init-db", criLine("stdout", "migrated"))
	podLog(t, root, "kube-system_etcd-node-a_5c3a9e1f0hash", "etcd", criLine("stderr", "etcd started"))
	podLog(t, root, "skipped_noise_uid-noise", "noise", criLine("stdout", "dropped by the rules"))
	podLog(t, root, "default_gone_uid-unknown", "app", criLine("stdout", "a pod the API does not have"))

	h := openKube(t, api, root, helmRules, nil)
	web := filepath.Join(root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web")
	webLabels := "app=shop,container=%s,filename=%s,job=default/shop,namespace=default,node_name=node-a,pod=web-7d9f8b6c5d-x2x9z,stream=%s"
	want := map[string][]string{
		fmt.Sprintf(webLabels, "web", filepath.Join(web, "web", "0.log"), "stdout"):         {"GET /"},
		fmt.Sprintf(webLabels, "web", filepath.Join(web, "web", "0.log"), "stderr"):         {"oops"},
		fmt.Sprintf(webLabels, "init-db", filepath.Join(web, "init-db", "0.log"), "stdout"): {"migrated"},
		"app=etcd-node-a,component=etcd,container=etcd,filename=" + filepath.Join(root, "kube-system_etcd-node-a_5c3a9e1f0hash", "etcd", "0.log") +
			",job=kube-system/etcd-node-a,namespace=kube-system,node_name=node-a,pod=etcd-node-a,stream=stderr": {"etcd started"},
	}
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 4 }, 5*time.Second, "4 lines")
	checkStreams(t, h.rec.streams(), want)

	// A new pod: its directory shows before the next periodic list, and
	// asks for one. The scan that reads it, after that list, has decided
	// the unknown pod's file too: the API does not have its pod, and it
	// is left alone (checked with the streams below).
	late := kubetest.Pod{Namespace: "default", Name: "late", UID: "uid-late", Node: "node-a", IP: "10.42.0.11", Phase: "Running",
		Labels: map[string]string{"app": "late"}, Containers: []kubetest.Container{{Name: "main"}}}
	api.SetPods(webPod(), etcd, skipped, late)
	lateLog := podLog(t, root, "default_late_uid-late", "main", criLine("stdout", "hello from late"))
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 5 }, 5*time.Second, "the late pod's line")
	want["app=late,container=main,filename="+lateLog+",job=default/late,namespace=default,node_name=node-a,pod=late,stream=stdout"] = []string{"hello from late"}
	checkStreams(t, h.rec.streams(), want)
	waitFor(t, func() bool { return testutil.ToFloat64(h.src.metrics.kubePods) == 4 }, 5*time.Second, "logcapturer_source_kubernetes_pods 4")
	for _, q := range api.Queries() {
		if !strings.Contains(q, "fieldSelector=spec.nodeName%3Dnode-a") {
			t.Errorf("list %q does not select the node's pods", q)
		}
	}
	// The status says why the files not read are not.
	want2 := map[string]string{
		filepath.Join(root, "skipped_noise_uid-noise", "noise", "0.log"):              FileSkipped + ": " + whyDropped,
		filepath.Join(root, "default_gone_uid-unknown", "app", "0.log"):               FileSkipped + ": " + whyNoPod,
		filepath.Join(web, "web", "0.log"):                                            FileOpen + ": ",
		filepath.Join(root, "default_late_uid-late", "main", "0.log"):                 FileOpen + ": ",
		filepath.Join(web, "init-db", "0.log"):                                        FileOpen + ": ",
		filepath.Join(root, "kube-system_etcd-node-a_5c3a9e1f0hash", "etcd", "0.log"): FileOpen + ": ",
	}
	waitFor(t, func() bool { return len(h.src.Files()) == len(want2) }, 5*time.Second, "the status of every file")
	for _, f := range h.src.Files() {
		if got := f.State + ": " + f.Error; got != want2[f.Path] {
			t.Errorf("%s: %q, want %q", f.Path, got, want2[f.Path])
		}
	}
	if h.src.Type() != TypeKubernetes {
		t.Errorf("Type() = %q", h.src.Type())
	}
}

func checkStreams(t *testing.T, got, want map[string][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d streams, want %d:\n got %q\nwant %q", len(got), len(want), got, want)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("stream {%s}: %q, want %q", k, got[k], w)
		}
	}
}

// TestKubernetesNoRules: without relabel_configs a file gets namespace,
// pod and container from its pod (and filename, stream), as type cri does
// from the path.
func TestKubernetesNoRules(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	api.SetPods(webPod())
	p := podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "GET /"))
	h := openKube(t, api, root, "", nil)
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 1 }, 5*time.Second, "a line")
	checkStreams(t, h.rec.streams(), map[string][]string{
		"container=web,filename=" + p + ",namespace=default,pod=web-7d9f8b6c5d-x2x9z,stream=stdout": {"GET /"},
	})
}

// TestKubernetesAPIFailing: while the API refuses the lists, files of pods
// not known wait (nothing is read), the source reports ConditionStalled
// once with the API's message and counts the failures; when the API
// answers again the condition ends and the files are read.
func TestKubernetesAPIFailing(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	api.SetPods(webPod())
	// The message of a missing RBAC rule, as the API server words it
	// (k8s.io/apiserver's authorization filter).
	api.Fail(403, `pods is forbidden: User "system:serviceaccount:logging:logcapturer" cannot list resource "pods" in API group "" at the cluster scope`)
	podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "GET /"))
	h := openKube(t, api, root, helmRules, nil)
	// Counted when the client has the answer (the server's own count can
	// run ahead of it).
	waitFor(t, func() bool { return testutil.ToFloat64(h.src.metrics.errors.WithLabelValues(reasonKubernetes)) >= 2 }, 10*time.Second,
		"two refused lists counted in errors{reason=kubernetes_api}")
	if n := api.Lists(); n != 0 {
		t.Fatalf("%d lists answered", n)
	}
	if n := len(h.rec.lines("")); n != 0 {
		t.Fatalf("%d lines read while the pod is unknown", n)
	}
	waitFor(t, func() bool { fs := h.src.Files(); return len(fs) == 1 && fs[0].State == FileWaiting }, 5*time.Second, "the file shown waiting")
	c, ok := h.cond.last()
	if !ok || !c.on || c.reason != ConditionStalled || !strings.Contains(c.detail, "403 Forbidden: pods is forbidden") {
		t.Fatalf("condition %+v, want %s on with the API's message", c, ConditionStalled)
	}
	if n := h.log.count("cannot list the node's pods"); n != 1 {
		t.Errorf("%d warnings for the failing lists, want 1", n)
	}
	api.Fail(0, "")
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 1 }, 10*time.Second, "the line once the API answers")
	if c, _ := h.cond.last(); c.on {
		t.Errorf("condition still on: %+v", c)
	}
	if n := len(h.cond.all()); n != 2 {
		t.Errorf("%d condition calls, want 2 (on, off): %+v", n, h.cond.all())
	}
}

// TestKubernetesDeletedWhileStopped: a file read before a restart whose
// pod the API no longer has (deleted while logcapturer was stopped) is
// read to its end: with the labels of its pod in the pod list kept in the
// data directory, in the stream it had; without that list, labelled from
// its directory (a file of a pod the API does not have and that was never
// read is not: TestKubernetesHelmChart).
func TestKubernetesDeletedWhileStopped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cached bool
		stream string
	}{
		{"cached pod list", true, "app=shop,container=web,filename=FILE,job=default/shop,namespace=default,node_name=node-a,pod=web-7d9f8b6c5d-x2x9z,stream=stdout"},
		{"no pod list", false, "app=web-7d9f8b6c5d-x2x9z,container=web,filename=FILE,job=default/web-7d9f8b6c5d-x2x9z,namespace=default,pod=web-7d9f8b6c5d-x2x9z,stream=stdout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dataDir := ""
			if tc.cached {
				dataDir = t.TempDir()
			}
			api := kubetest.New(t)
			api.SetPods(webPod())
			dir := "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web"
			p := podLog(t, root, dir, "web", criLine("stdout", "before"))
			h := openKubeData(t, api, root, dataDir, helmRules, nil)
			waitFor(t, func() bool { return len(h.rec.lines("")) >= 1 }, 5*time.Second, "the first line")
			if tc.cached {
				waitFor(t, func() bool { _, err := os.Stat(KubernetesCacheFile(dataDir, "pods")); return err == nil }, 5*time.Second, "the pod list kept")
			}
			h.src.Close()
			pos, ok := h.rec.last(idOf(t, p))
			if !ok {
				t.Fatal("no position")
			}
			appendFile(t, p, criLine("stdout", "after the pod was deleted"))
			api.SetPods()
			// The directory comes back (same inode: the stored position
			// holds) only after a list without the pod: its file is
			// decided once the API has said the pod is gone.
			hold := filepath.Join(filepath.Dir(root), "hold")
			if err := os.Rename(filepath.Join(root, dir), hold); err != nil {
				t.Fatal(err)
			}
			h2 := openKubeData(t, api, root, dataDir, helmRules, map[string]wal.Position{pos.FileID: pos})
			kept := uint64(0)
			if tc.cached {
				kept = 1 // the kept list of the one namespace ""
			}
			waitFor(t, func() bool { return h2.src.kube.Generation() > kept }, 5*time.Second, "a list without the pod")
			if err := os.Rename(hold, filepath.Join(root, dir)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return len(h2.rec.lines("")) >= 1 }, 5*time.Second, "the line written after the stop")
			appendFile(t, p, criLine("stdout", "last words"))
			waitFor(t, func() bool { return len(h2.rec.lines("")) >= 2 }, 5*time.Second, "the line written after that list")
			checkStreams(t, h2.rec.streams(), map[string][]string{
				strings.ReplaceAll(tc.stream, "FILE", p): {"after the pod was deleted", "last words"},
			})
		})
	}
}

// TestKubernetesAPIDownAtRestart: after a restart while the API cannot
// be reached (an edge node cut off from its control plane), the files of
// the pods in the pod list kept in the data directory are read at once,
// in their streams: the rest of a log read before, the log the kubelet
// rotated it to, and the new log it started. A pod that list does not
// have waits for the API, shown waiting; the condition says the kept
// list is in use. Without the kept list every file waits, and a log the
// kubelet compresses or removes meanwhile is lost.
func TestKubernetesAPIDownAtRestart(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	api.SetPods(webPod())
	dir := "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web"
	p := podLog(t, root, dir, "web", criLine("stdout", "one"))
	withRotated := func(c *FileConfig) {
		c.Paths = []string{filepath.Join(root, "*", "*", "*.log"), filepath.Join(root, "*", "*", "*.log.*")}
	}
	h := openKube(t, api, root, helmRules, nil, withRotated)
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 1 }, 5*time.Second, "the first line")
	cache := KubernetesCacheFile(filepath.Join(filepath.Dir(root), "data"), "pods")
	waitFor(t, func() bool { _, err := os.Stat(cache); return err == nil }, 5*time.Second, "the pod list kept")
	h.src.Close()
	pos, ok := h.rec.last(idOf(t, p))
	if !ok {
		t.Fatal("no position")
	}

	// While stopped: more lines, a rotation, a pod the kept list lacks;
	// and the API goes away.
	appendFile(t, p, criLine("stdout", "two, before the rotation"))
	if err := os.Rename(p, filepath.Join(root, dir, "web", "0.log.20261206-001500")); err != nil {
		t.Fatal(err)
	}
	podLog(t, root, dir, "web", criLine("stdout", "three, in the new log"))
	late := kubetest.Pod{Namespace: "default", Name: "late", UID: "uid-late", Node: "node-a", IP: "10.42.0.8",
		Labels: map[string]string{"app.kubernetes.io/name": "late"}, Containers: []kubetest.Container{{Name: "app"}}}
	q := podLog(t, root, "default_late_uid-late", "app", criLine("stdout", "late pod"))
	// k8s.io/apimachinery/pkg/api/errors NewGenericServerResponse: the
	// message of a 503 (an API server behind a dead link's proxy).
	api.Fail(503, "the server is currently unable to handle the request")

	h2 := openKube(t, api, root, helmRules, map[string]wal.Position{pos.FileID: pos}, withRotated)
	waitFor(t, func() bool { return len(h2.rec.lines("")) >= 2 }, 5*time.Second, "the web pod's lines while the API is down")
	waitFor(t, func() bool {
		for _, f := range h2.src.Files() {
			if f.Path == q {
				return f.State == FileWaiting
			}
		}
		return false
	}, 5*time.Second, "the late pod's file shown waiting")
	waitFor(t, func() bool { c, _ := h2.cond.last(); return c.on }, 5*time.Second, "the source stalled") // at the first list's answer
	if c, _ := h2.cond.last(); !strings.Contains(c.detail, "503") || !strings.Contains(c.detail, "the pod list kept at") || !strings.Contains(c.detail, "(1 pods)") {
		t.Errorf("condition %+v, want the API's answer and the kept list", c)
	}
	// Two files of one stream, read side by side: compared sorted.
	sorted := func() map[string][]string {
		m := h2.rec.streams()
		for _, ls := range m {
			slices.Sort(ls)
		}
		return m
	}
	web := "app=shop,container=web,filename=" + p + ",job=default/shop,namespace=default,node_name=node-a,pod=web-7d9f8b6c5d-x2x9z,stream=stdout"
	checkStreams(t, sorted(), map[string][]string{web: {"three, in the new log", "two, before the rotation"}})
	if n := testutil.ToFloat64(h2.src.metrics.kubePods); n != 1 {
		t.Errorf("logcapturer_source_kubernetes_pods = %v while the kept list labels the files, want its 1 pod", n)
	}

	api.SetPods(webPod(), late)
	api.Fail(0, "")
	waitFor(t, func() bool { return len(h2.rec.lines("")) >= 3 }, 10*time.Second, "the late pod's line once the API answers")
	checkStreams(t, sorted(), map[string][]string{
		web: {"three, in the new log", "two, before the rotation"},
		"app=late,container=app,filename=" + q + ",job=default/late,namespace=default,node_name=node-a,pod=late,stream=stdout": {"late pod"},
	})
}

// TestKubernetesPodGoneWhileIdle: a file closed idle (close_inactive)
// whose pod then leaves the API keeps its labels (those of its pod, not
// only those of its directory) when it grows again: its last lines are
// read in the same stream.
func TestKubernetesPodGoneWhileIdle(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	api.SetPods(webPod())
	p := podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "first"))
	h := openKube(t, api, root, helmRules, nil, func(c *FileConfig) {
		c.CloseInactive = config.Duration(50 * time.Millisecond)
		c.Kubernetes.RefreshInterval = 50 * time.Millisecond
	})
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 1 }, 5*time.Second, "the first line")
	waitFor(t, func() bool { return testutil.ToFloat64(h.src.metrics.filesOpen) == 0 }, 5*time.Second, "the file closed idle")
	api.SetPods()
	waitFor(t, func() bool { return testutil.ToFloat64(h.src.metrics.kubePods) == 0 }, 5*time.Second, "a list without the pod")
	appendFile(t, p, criLine("stdout", "last words"))
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 2 }, 5*time.Second, "the line written after the pod left")
	checkStreams(t, h.rec.streams(), map[string][]string{
		"app=shop,container=web,filename=" + p + ",job=default/shop,namespace=default,node_name=node-a,pod=web-7d9f8b6c5d-x2x9z,stream=stdout": {"first", "last words"},
	})
}

// TestKubernetesWrongNode: with a node name the API has no pod on (a
// DaemonSet whose HOSTNAME is the pod's name), no file is read and one
// warning says what to check.
func TestKubernetesWrongNode(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	api.SetPods(webPod())
	podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "GET /"))
	h := openKube(t, api, root, "", nil, func(c *FileConfig) { c.Kubernetes.NodeName = "logcapturer-x7k2p" })
	waitFor(t, func() bool { return h.log.count("lists no pod on this node") == 1 }, 5*time.Second, "the warning")
	scans := h.src.scans.Load()
	waitFor(t, func() bool { return h.src.scans.Load() > scans+3 }, 5*time.Second, "more scans")
	if n := len(h.rec.lines("")); n != 0 {
		t.Errorf("%d lines read", n)
	}
	if n := h.log.count("lists no pod on this node"); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
}

// TestKubernetesConfigProblems: the kubernetes keys are checked at their
// lines, and refused on the other file types.
func TestKubernetesConfigProblems(t *testing.T) {
	types := []config.SourceType{FileSourceType(), CRISourceType(), KubernetesSourceType()}
	_, err := config.ParseWith("s.yaml", []byte(`sources:
  - name: pods
    type: kubernetes
    format: json
    kubernetes:
      api_server: "10.0.0.1:6443"
      tls: {cert_file: /c.pem}
      refresh_interval: -1s
      namespaces: [a, ""]
  - name: c
    type: cri
    format: raw
    kubernetes: {node_name: n}
sinks: [{name: out, type: stdout}]
`), &config.ParseOptions{SinkTypes: []config.SinkType{{Name: "stdout"}}, SourceTypes: types, SkipDirCheck: true})
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err %v, want a *config.Error", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want := []string{
		`s.yaml:4: sources[0].format: must be cri or raw, got "json"`,
		`s.yaml:6: sources[0].kubernetes.api_server: "10.0.0.1:6443" is not an http or https URL (https://host:6443)`,
		`s.yaml:7: sources[0].kubernetes.tls: cert_file and key_file must be given together`,
		`s.yaml:8: sources[0].kubernetes.refresh_interval: must not be negative, got -1s`,
		`s.yaml:9: sources[0].kubernetes.namespaces[1]: must not be empty`,
		`s.yaml:12: sources[1].format: is for a kubernetes source only (type: kubernetes)`,
		`s.yaml:13: sources[1].kubernetes: is for a kubernetes source only (type: kubernetes)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestKubernetesRotatedWhileStopped: a pod log the kubelet rotated while
// logcapturer was stopped (renamed 0.log.<YYYYMMDD-HHMMSS>) is read on
// from its stored position, its lines in the stream of 0.log, as is the
// new 0.log; a rotated log already there at the first start, never read,
// is history and is not read.
func TestKubernetesRotatedWhileStopped(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	api.SetPods(webPod())
	dir := "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web"
	old := filepath.Join(root, dir, "web", "0.log.20261205-090000")
	p := podLog(t, root, dir, "web", criLine("stdout", "one"), criLine("stdout", "two"))
	appendFile(t, old, criLine("stdout", "history"))
	h := openKube(t, api, root, helmRules, nil, func(c *FileConfig) {
		c.Paths = []string{filepath.Join(root, "*", "*", "*.log"), filepath.Join(root, "*", "*", "*.log.*")}
	})
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 2 }, 5*time.Second, "the first lines")
	h.src.Close()
	pos, ok := h.rec.last(idOf(t, p))
	if !ok {
		t.Fatal("no position")
	}
	appendFile(t, p, criLine("stdout", "three, before the rotation"))
	rotated := filepath.Join(root, dir, "web", "0.log.20261205-101010")
	if err := os.Rename(p, rotated); err != nil {
		t.Fatal(err)
	}
	podLog(t, root, dir, "web", criLine("stdout", "four, in the new log"))
	h2 := openKube(t, api, root, helmRules, map[string]wal.Position{pos.FileID: pos}, func(c *FileConfig) {
		c.Paths = []string{filepath.Join(root, "*", "*", "*.log"), filepath.Join(root, "*", "*", "*.log.*")}
	})
	waitFor(t, func() bool { return len(h2.rec.lines("")) >= 2 }, 5*time.Second, "the lines written while stopped")
	scans := h2.src.scans.Load()
	waitFor(t, func() bool { return h2.src.scans.Load() > scans+3 }, 5*time.Second, "more scans")
	stream := "app=shop,container=web,filename=" + p + ",job=default/shop,namespace=default,node_name=node-a,pod=web-7d9f8b6c5d-x2x9z,stream=stdout"
	got := h2.rec.streams()[stream]
	slices.Sort(got)
	if want := []string{"four, in the new log", "three, before the rotation"}; !slices.Equal(got, want) || len(h2.rec.streams()) != 1 {
		t.Errorf("after the restart: %q, want %q in stream {%s}", h2.rec.streams(), want, stream)
	}
	if got, want := h.rec.lines(""), []string{"one", "two"}; !slices.Equal(got, want) {
		t.Errorf("first run: %q, want %q (the history file is not read)", got, want)
	}
}

// TestKubernetesSkippedWritesNoRescan: writes to a file the source does
// not read (a namespace its rules drop) call for no rescan each: a chatty
// pod in a dropped namespace would keep a core busy with globbing.
func TestKubernetesSkippedWritesNoRescan(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	skipped := kubetest.Pod{Namespace: "skipped", Name: "noise", UID: "uid-noise", Node: "node-a", IP: "10.42.0.9", Containers: []kubetest.Container{{Name: "noise"}}}
	api.SetPods(webPod(), skipped)
	web := podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "first"))
	noise := podLog(t, root, "skipped_noise_uid-noise", "noise", criLine("stdout", "dropped"))
	h := openKube(t, api, root, helmRules, nil, func(c *FileConfig) { c.PollInterval = config.Duration(time.Hour) })
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 1 }, 5*time.Second, "the first line")
	waitFor(t, func() bool { fs := h.src.Files(); return len(fs) == 2 }, 5*time.Second, "both files decided")
	scans := h.src.scans.Load()
	for i := range 50 {
		appendFile(t, noise, criLine("stdout", fmt.Sprint("noise ", i)))
		time.Sleep(2 * time.Millisecond) // paced as a chatty pod writes
	}
	appendFile(t, web, criLine("stdout", "marker"))
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 2 }, 5*time.Second, "the marker")
	if n := h.src.scans.Load() - scans; n > 5 {
		t.Errorf("%d rescans for 50 writes to a skipped file", n)
	}
}

// TestKubernetesTargetWithoutPath: when the rules set __path__ (here only
// for pods that opt in by annotation), a target they give none reads
// nothing, as Promtail drops it ("no path for target").
func TestKubernetesTargetWithoutPath(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	in := webPod()
	in.Annotations = map[string]string{"logs": "true"}
	out := kubetest.Pod{Namespace: "default", Name: "quiet", UID: "uid-quiet", Node: "node-a", IP: "10.42.0.10", Containers: []kubetest.Container{{Name: "app"}}}
	api.SetPods(in, out)
	p := podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "opted in"))
	q := podLog(t, root, "default_quiet_uid-quiet", "app", criLine("stdout", "not opted in"))
	h := openKube(t, api, root, `
- {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
- source_labels: [__meta_kubernetes_pod_annotationpresent_logs, __meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name]
  regex: true/(.*)
  separator: /
  replacement: ROOT/*$1/*.log
  target_label: __path__
`, nil)
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 1 }, 5*time.Second, "the opted-in line")
	waitFor(t, func() bool {
		for _, f := range h.src.Files() {
			if f.Path == q {
				return f.State == FileSkipped
			}
		}
		return false
	}, 5*time.Second, "the other file skipped")
	checkStreams(t, h.rec.streams(), map[string][]string{"filename=" + p + ",namespace=default,stream=stdout": {"opted in"}})
}

// TestKubernetesRotationStartAtEnd: with start_at: end, the log the kubelet
// starts after a rotation is read from its beginning: start_at is for the
// files there at the start, and the path's decision is kept across the
// rotation.
func TestKubernetesRotationStartAtEnd(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	api.SetPods(webPod())
	p := podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "before the start"))
	h := openKube(t, api, root, "", nil, func(c *FileConfig) { c.StartAt = StartAtEnd })
	waitFor(t, func() bool { return testutil.ToFloat64(h.src.metrics.filesOpen) == 1 }, 5*time.Second, "the log open")
	appendFile(t, p, criLine("stdout", "after the start"))
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 1 }, 5*time.Second, "the new line")
	// The kubelet's rotation: rename, then a new file at once (before a
	// scan sees the path empty).
	if err := os.Rename(p, p+".20261205-101010"); err != nil {
		t.Fatal(err)
	}
	podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "first of the new log"), criLine("stdout", "second"))
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 3 }, 5*time.Second, "the new log's lines")
	if got, want := h.rec.lines(""), []string{"after the start", "first of the new log", "second"}; !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
}

// TestKubernetesAttachMetadata: with attach_metadata, relabel_configs see
// the node's and the namespace's labels (Prometheus's names), as a
// Promtail job with attach_metadata does.
func TestKubernetesAttachMetadata(t *testing.T) {
	root := t.TempDir()
	api := kubetest.New(t)
	api.SetPods(webPod())
	api.SetNode(kubetest.Object{Name: "node-a", Labels: map[string]string{"topology.kubernetes.io/zone": "eu-1"}})
	api.SetNamespaces(kubetest.Object{Name: "default", Labels: map[string]string{"team": "checkout"}})
	p := podLog(t, root, "default_web-7d9f8b6c5d-x2x9z_0b1c2d3e-uid-web", "web", criLine("stdout", "GET /"))
	h := openKube(t, api, root, `
- {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
- {source_labels: [__meta_kubernetes_node_label_topology_kubernetes_io_zone], target_label: zone}
- {source_labels: [__meta_kubernetes_namespace_label_team], target_label: team}
`, nil, func(c *FileConfig) {
		c.Kubernetes.AttachMetadata = kubepods.AttachMetadata{Node: true, Namespace: true}
	})
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 1 }, 5*time.Second, "the line")
	checkStreams(t, h.rec.streams(), map[string][]string{
		"filename=" + p + ",pod=web-7d9f8b6c5d-x2x9z,stream=stdout,team=checkout,zone=eu-1": {"GET /"},
	})
}
