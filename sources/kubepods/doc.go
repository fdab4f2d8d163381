// Package kubepods lists the pods of one Kubernetes node from the API
// server, for the kubernetes source: the metadata Promtail's
// kubernetes_sd_configs (role: pod) gives a pod's log files, without
// client-go.
//
// # What it asks
//
// One goroutine (Discovery.run) lists the node's pods with plain HTTP
// and JSON: GET /api/v1/pods (or /api/v1/namespaces/NS/pods for each of
// Options.Namespaces) with fieldSelector spec.nodeName=NODE (joined with
// Options.FieldSelector) and Options.LabelSelector, 500 a page, following
// the list's continue token. Promtail adds the same node selector to its
// pod discovery. NODE is Options.NodeName, else $HOSTNAME, else the host
// name (Promtail's rule). The server is Options.APIServer (with
// BearerTokenFile and TLS), else the one of Options.KubeconfigFile's
// current context with its credentials (kubeconfig.go: CA, client
// certificate, token, tokenFile read at each list, or basic auth; exec
// and auth-provider plugins are refused), else the cluster's API from
// inside a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT,
// the service account's token (read again at each list: the kubelet
// rotates it) and CA. A list runs at Start, every RefreshInterval (one
// minute) for label and annotation changes, and about a second after
// Refresh, which the source calls when it finds the log directory of a
// pod it does not know. There is no watch: a list of one node's pods is
// small, and a new pod asks for one.
//
// # What it keeps
//
// The pods of each namespace's last good list (one list for all when
// Options.Namespaces is empty), by UID and, for the mirror pod of a
// static pod, by its kubernetes.io/config.hash annotation too (a static
// pod's log directory carries that hash, not the mirror pod's UID). Each
// namespace is listed on its own, as Prometheus runs an informer per
// namespace: one that is refused keeps its last pods and does not hold
// the others back. Lookup(namespace, uid) returns a pod with a generation
// that grows with each good list of its namespace, so that the caller
// can tell "not listed yet" from "the API does not have it".
// Targets builds the label sets Prometheus's pod discovery gives a
// container (one per declared port, or one without port labels; also for
// a pod without an IP, which Prometheus leaves out: a finished pod's logs
// are still on disk), with Prometheus's label names
// (__meta_kubernetes_namespace, __meta_kubernetes_pod_label_<name>, ...).
// With Options.AttachMetadata, each list round first gets the node's
// metadata (GET /api/v1/nodes/NODE) and the namespaces' (GET each of
// Options.Namespaces, or LIST /api/v1/namespaces); Metadata returns it and
// AddMetadata adds Prometheus's __meta_kubernetes_node_name,
// _node_label_<name>, _node_labelpresent_, _node_annotation_,
// _node_annotationpresent_ and the namespace's _namespace_label_<name> ...
// to the targets. No pod is known without it: the pods of a namespace are
// installed only once the node's and that namespace's metadata were got
// (or loaded from the cache, whose query names the attach_metadata
// flags), as Prometheus waits for its informers; a file decided without
// them would keep that decision until closed. What cannot be got later
// keeps its last value and fails the round like a refused list. A
// configured namespace the API does not have (404) has no metadata and is
// no failure. The deployment, job and cronjob names of attach_metadata
// are not listed.
//
// # The kept list
//
// With Options.CacheFile (a kubernetes source sets it in the data
// directory), the pods of the last good lists, and for GoneRetention (an
// hour) those that left them, are written there after a list that
// changed them (JSON, cache.go: a temporary file fsynced and renamed, the
// directory fsynced, mode 0600) and loaded by New, as the
// first generation of their namespaces: after a restart Lookup knows
// them before the first list, and while lists fail. Cached gives a pod
// of that loaded list, so that the source tells a pod deleted while
// logcapturer was stopped (in it, not in a list since) from one it never
// knew. A namespace kept without pods is restored as listed. A pod that
// was gone in the loaded file is never written back as listed, even while
// its namespace's lists fail, and leaves the file GoneRetention after it
// left the lists. A file of another version or query (API server, node,
// namespaces, selectors), larger than 64MiB, or one that cannot be
// parsed, is logged and not used; temporary files of a write killed
// before its rename are removed at New. A failed write calls
// Hooks.CacheFailed (a metric) and is logged once when writes start
// failing and once when they work again.
//
// # Failures
//
// A failed list (of any namespace) keeps the pods of the last good one and is retried after
// a backoff (1 s doubling to 30 s). Hooks.Failing is called once when
// lists start failing and once when one succeeds again (the source turns
// it into ConditionStalled, a readiness reason), Hooks.Listed after each
// list (a metric), and one log line marks each edge: never a line per
// retry. An error names the HTTP status and the message of the API's
// Status answer ("pods is forbidden: User ... cannot list resource").
//
// # Lifecycle
//
// New checks the options and reads the TLS files; Start starts the
// goroutine, Close stops it and waits. The source owns its Discovery.
package kubepods
