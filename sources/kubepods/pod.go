package kubepods

import (
	"net"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/util/strutil"
)

// Pod is what the discovery keeps of one pod: the fields Prometheus's pod
// discovery turns into labels.
// The JSON names are those of the cache file (cache.go).
type Pod struct {
	UID       string `json:"uid"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Node      string `json:"node,omitempty"`
	IP        string `json:"ip,omitempty"`
	HostIP    string `json:"host_ip,omitempty"`
	Phase     string `json:"phase,omitempty"`
	// Ready is the status of the pod's Ready condition in lower case
	// ("true", "false"), "unknown" without one.
	Ready       string            `json:"ready,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// ControllerKind and ControllerName are those of the owner reference
	// marked controller; empty without one.
	ControllerKind string `json:"controller_kind,omitempty"`
	ControllerName string `json:"controller_name,omitempty"`
	// Containers are the spec's containers, then its init containers.
	Containers []Container `json:"containers,omitempty"`
}

// Container is one container of a pod's spec.
type Container struct {
	Name  string `json:"name"`
	Image string `json:"image,omitempty"`
	// ID is the runtime's ID from the pod's status ("containerd://..."),
	// empty before the container started.
	ID    string `json:"id,omitempty"`
	Init  bool   `json:"init,omitempty"`
	Ports []Port `json:"ports,omitempty"`
}

// Port is one declared port of a container.
type Port struct {
	Name     string `json:"name,omitempty"`
	Number   int32  `json:"number"`
	Protocol string `json:"protocol,omitempty"`
}

// configHashAnnotation is set by the kubelet on the mirror pod of a static
// pod: the static pod's own UID, which names its log directory.
const configHashAnnotation = "kubernetes.io/config.hash"

// Names of the labels Prometheus's Kubernetes pod discovery gives a target
// (discovery/kubernetes/pod.go and kubernetes.go in
// github.com/prometheus/prometheus, the version Promtail 3 vendors).
const (
	metaPrefix             = "__meta_kubernetes_"
	LabelNamespace         = metaPrefix + "namespace"
	LabelPodName           = metaPrefix + "pod_name"
	LabelPodIP             = metaPrefix + "pod_ip"
	LabelPodReady          = metaPrefix + "pod_ready"
	LabelPodPhase          = metaPrefix + "pod_phase"
	LabelPodNodeName       = metaPrefix + "pod_node_name"
	LabelPodHostIP         = metaPrefix + "pod_host_ip"
	LabelPodUID            = metaPrefix + "pod_uid"
	LabelControllerKind    = metaPrefix + "pod_controller_kind"
	LabelControllerName    = metaPrefix + "pod_controller_name"
	LabelContainerName     = metaPrefix + "pod_container_name"
	LabelContainerID       = metaPrefix + "pod_container_id"
	LabelContainerImage    = metaPrefix + "pod_container_image"
	LabelContainerInit     = metaPrefix + "pod_container_init"
	LabelPortName          = metaPrefix + "pod_container_port_name"
	LabelPortNumber        = metaPrefix + "pod_container_port_number"
	LabelPortProtocol      = metaPrefix + "pod_container_port_protocol"
	labelPrefix            = metaPrefix + "pod_label_"
	labelPresentPrefix     = metaPrefix + "pod_labelpresent_"
	annotationPrefix       = metaPrefix + "pod_annotation_"
	annotationPresentPrefx = metaPrefix + "pod_annotationpresent_"
	addressLabel           = "__address__"
)

// Targets returns the label sets Prometheus's pod discovery makes for the
// container named container of p: one per declared port, or one without
// port labels when it declares none. Label and annotation names are
// sanitised as Prometheus does. A container not in the spec (an ephemeral
// one) has none. Unlike Prometheus, a pod without an IP has targets too
// (with an empty or port-only __address__): Prometheus makes none for it,
// so Promtail does not read the logs of a pod that finished and lost its
// IP before a list saw it; its log files are still there to read.
func Targets(p *Pod, container string) []map[string]string {
	var c *Container
	for i := range p.Containers {
		if p.Containers[i].Name == container {
			c = &p.Containers[i]
			break
		}
	}
	if c == nil {
		return nil
	}
	common := podLabels(p)
	common[LabelContainerName] = c.Name
	common[LabelContainerID] = c.ID
	common[LabelContainerImage] = c.Image
	common[LabelContainerInit] = strconv.FormatBool(c.Init)
	if len(c.Ports) == 0 {
		common[addressLabel] = p.IP
		return []map[string]string{common}
	}
	out := make([]map[string]string, 0, len(c.Ports))
	for _, port := range c.Ports {
		t := make(map[string]string, len(common)+4)
		for k, v := range common {
			t[k] = v
		}
		num := strconv.FormatInt(int64(port.Number), 10)
		t[addressLabel] = net.JoinHostPort(p.IP, num)
		t[LabelPortName] = port.Name
		t[LabelPortNumber] = num
		t[LabelPortProtocol] = port.Protocol
		out = append(out, t)
	}
	return out
}

// PathLabels returns the labels of a pod that only its log directory names
// (<namespace>_<name>_<uid>/<container>): for the files of a pod the API
// no longer knows, which were being read before a restart.
func PathLabels(namespace, name, uid, container string) map[string]string {
	return map[string]string{
		LabelNamespace:     namespace,
		LabelPodName:       name,
		LabelPodUID:        uid,
		LabelContainerName: container,
	}
}

func podLabels(p *Pod) map[string]string {
	ls := make(map[string]string, 16+2*len(p.Labels)+2*len(p.Annotations))
	ls[LabelNamespace] = p.Namespace
	ls[LabelPodName] = p.Name
	ls[LabelPodIP] = p.IP
	ls[LabelPodReady] = p.Ready
	ls[LabelPodPhase] = p.Phase
	ls[LabelPodNodeName] = p.Node
	ls[LabelPodHostIP] = p.HostIP
	ls[LabelPodUID] = p.UID
	if p.ControllerKind != "" {
		ls[LabelControllerKind] = p.ControllerKind
	}
	if p.ControllerName != "" {
		ls[LabelControllerName] = p.ControllerName
	}
	for k, v := range p.Labels {
		n := strutil.SanitizeLabelName(k)
		ls[labelPrefix+n] = v
		ls[labelPresentPrefix+n] = "true"
	}
	for k, v := range p.Annotations {
		n := strutil.SanitizeLabelName(k)
		ls[annotationPrefix+n] = v
		ls[annotationPresentPrefx+n] = "true"
	}
	return ls
}

// SplitLogDir splits the name of a pod's log directory under the kubelet's
// /var/log/pods, <namespace>_<name>_<uid>; false for another shape.
// Neither a namespace nor a pod name can hold "_".
func SplitLogDir(dir string) (namespace, name, uid string, ok bool) {
	parts := strings.SplitN(dir, "_", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// ObjectMeta is what attach_metadata keeps of a node or a namespace.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Label names attach_metadata adds (discovery/kubernetes addNodeLabels and
// addNamespaceLabels in Prometheus).
const (
	LabelNodeName = metaPrefix + "node_name"
)

// addMeta adds the labels and annotations of m to t as Prometheus names
// them for resource (node, namespace): __meta_kubernetes_<resource>_label_<name>,
// _labelpresent_, _annotation_, _annotationpresent_.
func addMeta(t map[string]string, resource string, m *ObjectMeta) {
	for k, v := range m.Labels {
		n := strutil.SanitizeLabelName(k)
		t[metaPrefix+resource+"_label_"+n] = v
		t[metaPrefix+resource+"_labelpresent_"+n] = "true"
	}
	for k, v := range m.Annotations {
		n := strutil.SanitizeLabelName(k)
		t[metaPrefix+resource+"_annotation_"+n] = v
		t[metaPrefix+resource+"_annotationpresent_"+n] = "true"
	}
}

// AddMetadata adds to each target the labels of attach_metadata: the
// node's (its name, labels and annotations) and those of the namespace
// the pod is in, when they are attached and known.
func AddMetadata(targets []map[string]string, node, namespace *ObjectMeta) {
	for _, t := range targets {
		if node != nil {
			t[LabelNodeName] = node.Name
			addMeta(t, "node", node)
		}
		if namespace != nil {
			addMeta(t, "namespace", namespace)
		}
	}
}
