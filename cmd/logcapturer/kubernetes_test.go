package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/sources/kubepods/kubetest"
)

// TestPromtailKubernetes: the Promtail Helm chart's kubernetes-pods job
// (its relabel_configs and cri stage; the API server given, as from
// outside the cluster) converts, checks and runs against an API server:
// Loki gets the streams Promtail sends for the node's pods, the lines
// decoded by the cri stage (stream label, partial lines joined); a log
// directory of a pod the API does not list for this node and a namespace
// the rules drop send nothing; Promtail's positions are taken over (what
// it shipped is not sent again).
func TestPromtailKubernetes(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	api := kubetest.New(t)
	t.Setenv("TEST_KUBE_URL", api.URL)
	t.Setenv("HOSTNAME", "node-a")
	dir := t.TempDir()
	pods := filepath.Join(dir, "pods")
	api.SetPods(
		kubetest.Pod{Namespace: "shop", Name: "web-7d9f8b6c5d-x2x9z", UID: "uid-web", Node: "node-a", IP: "10.42.0.7", Phase: "Running", Ready: true,
			Labels:         map[string]string{"app.kubernetes.io/name": "storefront", "app.kubernetes.io/instance": "prod"},
			ControllerKind: "ReplicaSet", ControllerName: "web-7d9f8b6c5d",
			Containers: []kubetest.Container{{Name: "nginx", Image: "nginx:1.27", Ports: []kubetest.Port{{Name: "http", Number: 80, Protocol: "TCP"}}}}},
		kubetest.Pod{Namespace: "shop", Name: "worker-0", UID: "uid-worker", Node: "node-a", IP: "10.42.0.8", Phase: "Running",
			ControllerKind: "StatefulSet", ControllerName: "worker", Containers: []kubetest.Container{{Name: "worker"}}},
		kubetest.Pod{Namespace: "noise", Name: "chatty", UID: "uid-chatty", Node: "node-a", IP: "10.42.0.9", Phase: "Running",
			Containers: []kubetest.Container{{Name: "chatty"}}},
	)
	write := func(dirName, container, content string) string {
		p := filepath.Join(pods, dirName, container, "0.log")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	web := write("shop_web-7d9f8b6c5d-x2x9z_uid-web", "nginx",
		"2026-12-05T10:00:00.000000001Z stdout F GET / 200\n"+
			"2026-12-05T10:00:01.000000001Z stderr P upstream timed \n"+
			"2026-12-05T10:00:01.000000002Z stderr F out\n")
	worker := write("shop_worker-0_uid-worker", "worker", "2026-12-05T10:00:02.000000001Z stdout F job done\n")
	write("noise_chatty_uid-chatty", "chatty", "2026-12-05T10:00:03.000000001Z stdout F dropped by the rules\n")
	write("shop_elsewhere_uid-elsewhere", "app", "2026-12-05T10:00:04.000000001Z stdout F a pod the API does not list here\n")
	// Promtail shipped the web pod's first line and the worker's log: its
	// positions file hands them over.
	webFirst := len("2026-12-05T10:00:00.000000001Z stdout F GET / 200\n")
	workerAll, _ := os.ReadFile(worker)
	posFile := filepath.Join(dir, "positions.yaml")
	os.WriteFile(posFile, []byte(fmt.Sprintf("positions:\n  %s: \"%d\"\n  %s: \"%d\"\n", web, webFirst, worker, len(workerAll))), 0o644)
	savedAt := time.Now()
	os.Chtimes(posFile, savedAt, savedAt)

	convertCheckRun(t, rcv, dir, promtailHead(posFile)+`  - job_name: kubernetes-pods
    pipeline_stages:
      - cri: {}
    kubernetes_sd_configs:
      - role: pod
        api_server: ${TEST_KUBE_URL}
    relabel_configs:
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
      - {action: replace, source_labels: [__meta_kubernetes_pod_node_name], target_label: node_name}
      - {action: replace, source_labels: [__meta_kubernetes_namespace], target_label: namespace}
      - {action: replace, replacement: $1, separator: /, source_labels: [namespace, app], target_label: job}
      - {action: replace, source_labels: [__meta_kubernetes_pod_name], target_label: pod}
      - {action: replace, source_labels: [__meta_kubernetes_pod_container_name], target_label: container}
      - {action: drop, source_labels: [namespace], regex: noise}
      - action: replace
        replacement: `+pods+`/*$1/*.log
        separator: /
        source_labels: [__meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name]
        target_label: __path__
`, "--pod-log-dir", pods)
	// Promtail's streams: the target's labels, filename, and the cri
	// stage's stream.
	webLabels := `app="storefront", container="nginx", filename="` + web + `", instance="prod", job="shop/storefront", namespace="shop", node_name="node-a", pod="web-7d9f8b6c5d-x2x9z", stream="%s"}`
	sameStreams(t, rcv, "{"+strings.Replace(webLabels, "%s", "stderr", 1)+" upstream timed out")
	appendFile(t, worker, "2026-12-05T10:00:05.000000001Z stdout F second job\n")
	sameStreams(t, rcv, "{"+strings.Replace(webLabels, "%s", "stderr", 1)+" upstream timed out",
		`{app="worker", container="worker", filename="`+worker+`", job="shop/worker", namespace="shop", node_name="node-a", pod="worker-0", stream="stdout"} second job`)
}
