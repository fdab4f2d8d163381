package promtail

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// kubernetesSDKeys are the keys of a kubernetes_sd_configs item:
// Prometheus's Kubernetes discovery (discovery/kubernetes SDConfig), its
// HTTP client settings inline.
var kubernetesSDKeys = []string{"api_server", "role", "kubeconfig_file", "namespaces", "selectors", "attach_metadata"}

// kubernetesHTTPKeys are Prometheus's HTTP client settings a
// kubernetes_sd_configs item may hold.
var kubernetesHTTPKeys = []string{"basic_auth", "authorization", "oauth2", "bearer_token", "bearer_token_file", "tls_config",
	"proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header", "follow_redirects", "enable_http2", "http_headers"}

// DefaultPodLogDir is where the kubelet writes pods' logs, which a
// converted kubernetes_sd_configs reads (its __path__ must lie under it;
// Options.PodLogDir changes it).
const DefaultPodLogDir = "/var/log/pods"

// podLogDir is Options.PodLogDir or its default, with a trailing "/".
func (c *conv) podLogDir() string {
	d := c.opts.PodLogDir
	if d == "" {
		d = DefaultPodLogDir
	}
	return strings.TrimSuffix(d, "/") + "/"
}

// kubernetesSD converts one kubernetes_sd_configs item into a kubernetes
// source: the node's pods from the same API server, the job's
// relabel_configs run once per file on the pod's target labels, the
// lines read raw for the job's pipeline_stages (its cri stage). nil when a
// part is not covered. The caller checked the job's __path__ rules
// (kubePaths).
func (c *conv) kubernetesSD(n *yaml.Node, path string, t target) *yaml.Node {
	f, ok := c.fields(n, path, append(slices.Clone(kubernetesSDKeys), kubernetesHTTPKeys...)...)
	if !ok {
		return nil
	}
	left, problems := len(c.unsupported), len(c.problems)
	e := entry{k: n, v: n, path: path}
	kube := mapping()
	if r, ok := f["role"]; ok {
		if role, ok := c.scalar(r, "a role"); ok && role != "pod" {
			c.notCovered(r.k.Line, r.path, "role %q: logcapturer reads the log files of pods (role: pod); a %s has none", role, role)
		}
	} else {
		// Prometheus refuses it too.
		c.problem(n.Line, joinKey(path, "role"), "is required: role: pod (the role whose targets have log files)")
	}
	c.kubeConflicts(f)
	if v, ok := f["kubeconfig_file"]; ok {
		if s, ok := c.scalar(v, "a file name"); ok && s != "" {
			c.put(kube, "kubeconfig_file", c.outStr(v.v), v.k, v.path)
		}
	}
	if v, ok := f["api_server"]; ok {
		if s, ok := c.scalar(v, "a URL"); ok && s != "" {
			c.put(kube, "api_server", c.outStr(v.v), v.k, v.path)
		}
	}
	if v, ok := f["bearer_token_file"]; ok {
		if s, ok := c.scalar(v, "a file name"); ok && s != "" {
			c.put(kube, "bearer_token_file", c.outStr(v.v), v.k, v.path)
		}
	}
	if v, ok := f["authorization"]; ok {
		c.kubeAuthorization(v, kube)
	}
	if v, ok := f["tls_config"]; ok {
		c.kubeTLS(v, kube)
	}
	for _, k := range []string{"basic_auth", "oauth2", "bearer_token", "proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header", "http_headers"} {
		if v, ok := f[k]; ok {
			hint := ""
			if k == "bearer_token" {
				hint = " (write the token to a file and give bearer_token_file)"
			}
			c.notCovered(v.k.Line, v.path, "%s: not covered for the Kubernetes API%s", k, hint)
		}
	}
	for _, k := range []string{"follow_redirects", "enable_http2"} {
		if v, ok := f[k]; ok {
			c.note(v.k.Line, v.path, "promtail: %s is ignored", k)
		}
	}
	if v, ok := f["namespaces"]; ok {
		_, server := f["api_server"]
		_, kubeconfig := f["kubeconfig_file"]
		c.kubeNamespaces(v, kube, server || kubeconfig)
	}
	if v, ok := f["selectors"]; ok {
		attachNode := false
		if am, ok := f["attach_metadata"]; ok {
			if m := config.ResolveAlias(am.v); m != nil && m.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(m.Content); i += 2 {
					attachNode = attachNode || m.Content[i].Value == "node" && m.Content[i+1].Value == "true"
				}
			}
		}
		c.kubeSelectors(v, kube, attachNode)
	}
	if v, ok := f["attach_metadata"]; ok {
		if af, ok := c.fields(v.v, v.path, "node", "namespace", "deployment", "job", "cronjob"); ok {
			am := mapping()
			for _, k := range slices.Sorted(maps.Keys(af)) {
				on, ok := c.boolean(af[k])
				switch {
				case !ok || !on:
				case k == "node" || k == "namespace":
					c.put(am, k, plain("true"), af[k].k, af[k].path)
				default:
					c.notCovered(af[k].k.Line, af[k].path, "attach_metadata.%s: logcapturer attaches the node's and the namespace's metadata, not the %ss'", k, k)
				}
			}
			if len(am.Content) > 0 {
				c.put(kube, "attach_metadata", am, v.k, v.path)
			}
		}
	}
	if len(c.unsupported) > left || len(c.problems) > problems {
		return nil
	}
	s := mapping()
	c.common(s, t, "kubernetes", e, nil)
	k := c.put(s, "format", plain("raw"), nil, "")
	k.HeadComment = "promtail: lines as written, CRI prefix included, as Promtail reads them"
	if decodes(t.stages) {
		k.HeadComment = "promtail: lines as written, for the job's pipeline_stages (its cri or docker stage decodes them, as in Promtail)"
	}
	k = c.put(s, "paths", list(str(escape(c.podLogDir()+"*/*/*.log")), str(escape(c.podLogDir()+"*/*/*.log.*"))), nil, "")
	k.HeadComment = "promtail: also the kubelet's rotated logs (<n>.log.<time>), read only to finish one rotated while logcapturer was stopped"
	c.put(s, "exclude", list(str("*.gz"), str("*.tmp")), nil, "")
	if c.maxLineSize != "" {
		n, _ := parseSize(c.maxLineSize)
		n = min(max(n, int64(1<<10)), int64(64<<20))
		c.put(s, "max_line_bytes", plain(strconv.FormatInt(n, 10)), nil, "")
	}
	if t.encodingSet {
		c.put(s, "encoding", c.outStr(t.encoding.v), t.encoding.k, t.encoding.path)
	}
	if len(kube.Content) > 0 {
		c.put(s, "kubernetes", kube, n, path)
	}
	c.note(n.Line, path, "promtail: the node's pods are listed from the Kubernetes API (node: $HOSTNAME, else the host name, as Promtail), "+
		"which needs the same RBAC rule as Promtail's (list pods); relabel_configs run once per log file on the pod's target labels; "+
		"a pod's files are read to their end even once the pod is deleted (Promtail stops at once)")
	return s
}

// kubeConflicts reports the combinations Prometheus's
// SDConfig.UnmarshalYAML refuses (so Promtail does not start), with its
// messages.
func (c *conv) kubeConflicts(f map[string]entry) {
	_, server := f["api_server"]
	kc, kubeconfig := f["kubeconfig_file"]
	if kubeconfig && server {
		c.problem(kc.k.Line, kc.path, "cannot use 'kubeconfig_file' and 'api_server' simultaneously (Promtail refuses it too)")
	}
	for _, k := range kubernetesHTTPKeys {
		h, ok := f[k]
		if !ok || k == "follow_redirects" || k == "enable_http2" { // their defaults change nothing
			continue
		}
		switch {
		case kubeconfig:
			c.problem(h.k.Line, h.path, "cannot use a custom HTTP client configuration together with 'kubeconfig_file' (Promtail refuses it too)")
		case !server:
			c.problem(h.k.Line, h.path, "to use custom HTTP client configuration please provide the 'api_server' URL explicitly (Promtail refuses it too)")
		}
	}
}

// kubePaths checks the job's __path__ rules: without one, Promtail reads no
// file of any target ("no path for target") and the job's discovery is
// left out with a note (false); one whose replacement is not under the pod
// log directory is not covered.
func (c *conv) kubePaths(t target, rules []*relabel.Config) bool {
	rp := joinKey(t.jobPath, "relabel_configs")
	sets := false
	for i, r := range rules {
		if r.TargetLabel != "__path__" || (r.Action != relabel.Replace && r.Action != "") {
			continue
		}
		sets = true
		if !strings.HasPrefix(r.Replacement, c.podLogDir()) {
			line := t.job.Line
			if t.relabel != nil && i < len(t.relabel.Content) {
				line = t.relabel.Content[i].Line
			}
			c.notCovered(line, rp+"["+strconv.Itoa(i)+"].replacement", "__path__ %q: logcapturer reads the kubelet's pod logs under %s only "+
				"(--pod-log-dir changes it)", r.Replacement, c.podLogDir())
		}
	}
	if !sets {
		c.note(t.job.Line, t.jobPath, "promtail: left out: no relabel rule sets __path__, so Promtail reads no file of this job's pods "+
			"(it logs \"no path for target\"); add the Helm chart's rule (replacement: /var/log/pods/*$1/*.log, source_labels: "+
			"[__meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name], separator: /) to read them")
		return false
	}
	return true
}

// kubeAuthorization converts an authorization section: a Bearer
// credentials_file becomes bearer_token_file.
func (c *conv) kubeAuthorization(v entry, kube *yaml.Node) {
	af, ok := c.fields(v.v, v.path, "type", "credentials", "credentials_file")
	if !ok {
		return
	}
	if ty, ok := af["type"]; ok {
		if s, ok := c.scalar(ty, "an authorization type"); ok && s != "" && !strings.EqualFold(s, "bearer") {
			c.notCovered(ty.k.Line, ty.path, "authorization type %q: only Bearer is covered for the Kubernetes API", s)
		}
	}
	if cr, ok := af["credentials"]; ok {
		c.notCovered(cr.k.Line, cr.path, "credentials: write the token to a file and give credentials_file")
	}
	if cf, ok := af["credentials_file"]; ok {
		if s, ok := c.scalar(cf, "a file name"); ok && s != "" {
			c.put(kube, "bearer_token_file", c.outStr(cf.v), cf.k, cf.path)
		}
	}
}

// kubeTLS converts a tls_config section into the source's tls.
func (c *conv) kubeTLS(v entry, kube *yaml.Node) {
	tf, ok := c.fields(v.v, v.path, "ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify", "ca", "cert", "key",
		"min_version", "max_version")
	if !ok {
		return
	}
	tls := mapping()
	for _, k := range []string{"ca_file", "cert_file", "key_file", "server_name"} {
		if x, ok := tf[k]; ok {
			if s, ok := c.scalar(x, "a string"); ok && s != "" {
				c.put(tls, k, c.outStr(x.v), x.k, x.path)
			}
		}
	}
	if x, ok := tf["insecure_skip_verify"]; ok {
		if b, ok := c.boolean(x); ok && b {
			c.put(tls, "insecure_skip_verify", plain("true"), x.k, x.path)
		}
	}
	for _, k := range []string{"ca", "cert", "key"} {
		if x, ok := tf[k]; ok {
			c.notCovered(x.k.Line, x.path, "tls_config.%s: give the PEM in a file (%s_file)", k, k)
		}
	}
	for _, k := range []string{"min_version", "max_version"} {
		if x, ok := tf[k]; ok {
			c.note(x.k.Line, x.path, "promtail: tls_config.%s is ignored: logcapturer speaks TLS 1.2 or later", k)
		}
	}
	if len(tls.Content) > 0 {
		c.put(kube, "tls", tls, v.k, v.path)
	}
}

// kubeNamespaces converts namespaces: names and own_namespace carry over
// (own_namespace only from inside the cluster, as Prometheus checks).
func (c *conv) kubeNamespaces(v entry, kube *yaml.Node, outside bool) {
	nf, ok := c.fields(v.v, v.path, "own_namespace", "names")
	if !ok {
		return
	}
	if own, ok := nf["own_namespace"]; ok {
		if b, ok := c.boolean(own); ok && b {
			c.put(kube, "own_namespace", plain("true"), own.k, own.path)
			if outside {
				c.problem(own.k.Line, own.path, "cannot use 'api_server' or 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously (Promtail refuses it too)")
			}
		}
	}
	if names, ok := nf["names"]; ok {
		out := list()
		for i, it := range c.items(names) {
			if s, ok := c.scalar(entry{k: it, v: it, path: names.path + "[" + strconv.Itoa(i) + "]"}, "a namespace"); ok && s != "" {
				out.Content = append(out.Content, c.outStr(it))
			}
		}
		if len(out.Content) > 0 {
			c.put(kube, "namespaces", out, names.k, names.path)
		}
	}
}

// kubeSelectors converts the selectors of role pod into the source's
// label_selector and field_selector (several joined with ","); those of
// other roles select nothing a pod discovery lists, except role node with
// attach_metadata node (attachNode), which filters the pods by their node
// in Prometheus: not covered.
func (c *conv) kubeSelectors(v entry, kube *yaml.Node, attachNode bool) {
	var lbl, fld []string
	for i, it := range c.items(v) {
		ip := v.path + "[" + strconv.Itoa(i) + "]"
		sf, ok := c.fields(it, ip, "role", "label", "field")
		if !ok {
			continue
		}
		if r, ok := sf["role"]; ok {
			if role, ok := c.scalar(r, "a role"); ok && role == "node" && attachNode {
				c.notCovered(r.k.Line, r.path, "a selector of role node with attach_metadata node (it selects the pods by their node's labels): "+
					"logcapturer reads the pods of its own node; drop the selector, or run logcapturer only on the nodes it selects")
				continue
			} else if ok && role != "pod" {
				c.note(r.k.Line, r.path, "promtail: a selector of role %s is ignored: it selects no pod", role)
				continue
			}
		}
		if l, ok := sf["label"]; ok {
			if s, ok := c.scalar(l, "a label selector"); ok && s != "" {
				lbl = append(lbl, s)
			}
		}
		if fl, ok := sf["field"]; ok {
			if s, ok := c.scalar(fl, "a field selector"); ok && s != "" {
				fld = append(fld, s)
			}
		}
	}
	if len(lbl) > 0 {
		c.put(kube, "label_selector", str(escape(strings.Join(lbl, ","))), v.k, v.path)
	}
	if len(fld) > 0 {
		c.put(kube, "field_selector", str(escape(strings.Join(fld, ","))), v.k, v.path)
	}
}

// decodes reports whether a pipeline_stages list has a top-level cri or
// docker stage.
func decodes(stages *yaml.Node) bool {
	if stages = config.ResolveAlias(stages); stages == nil || stages.Kind != yaml.SequenceNode {
		return false
	}
	for _, st := range stages.Content {
		m := config.ResolveAlias(st)
		if m == nil || m.Kind != yaml.MappingNode || len(m.Content) < 2 {
			continue
		}
		if k := m.Content[0].Value; k == "cri" || k == "docker" {
			return true
		}
	}
	return false
}

// mergeKubeItems makes one item of the kubernetes_sd_configs items of a
// job that differ only in their namespaces: Promtail reads a pod two items
// select once (its targets are keyed by their labels), while two sources
// would each read it. The merged item lists the union of the namespaces
// (every namespace when one item has none). Items that differ otherwise
// are kept, with a note on each after the first.
func (c *conv) mergeKubeItems(e entry, items []*yaml.Node) []*yaml.Node {
	if len(items) < 2 {
		return items
	}
	// without returns the item's YAML without its namespaces key.
	without := func(n *yaml.Node) (string, *yaml.Node, bool) {
		if n.Kind != yaml.MappingNode {
			return "", nil, false
		}
		cp := *n
		cp.Content = nil
		var ns *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "namespaces" {
				ns = config.ResolveAlias(n.Content[i+1])
				continue
			}
			cp.Content = append(cp.Content, n.Content[i], n.Content[i+1])
		}
		b, err := yaml.Marshal(&cp)
		return string(b), ns, err == nil
	}
	first, _, ok := without(items[0])
	same := ok
	for _, it := range items[1:] {
		k, _, ok := without(it)
		same = same && ok && k == first
	}
	if !same {
		for i := range items[1:] {
			c.note(items[i+1].Line, fmt.Sprintf("%s[%d]", e.path, i+1),
				"promtail: a pod that two of these items select is read by the source of each (Promtail reads it once): make the items select different pods")
		}
		return items
	}
	var names []*yaml.Node
	seen := map[string]bool{}
	all := false
	var ownK, ownV, firstNS *yaml.Node // the first own_namespace: true, and namespaces mapping: their lines
	for _, it := range items {
		_, ns, _ := without(it)
		if ns == nil || ns.Kind != yaml.MappingNode {
			all = true
			continue
		}
		if firstNS == nil {
			firstNS = ns
		}
		got := false
		for i := 0; i+1 < len(ns.Content); i += 2 {
			v := config.ResolveAlias(ns.Content[i+1])
			switch ns.Content[i].Value {
			case "names":
				if v != nil && v.Kind == yaml.SequenceNode {
					for _, n := range v.Content {
						got = true
						if !seen[n.Value] {
							seen[n.Value] = true
							names = append(names, n)
						}
					}
				}
			case "own_namespace":
				if v != nil && v.Value == "true" {
					got = true
					if ownK == nil {
						ownK, ownV = ns.Content[i], v
					}
				}
			}
		}
		all = all || !got
	}
	merged := *items[0]
	merged.Content = nil
	for i := 0; i+1 < len(items[0].Content); i += 2 {
		if items[0].Content[i].Value != "namespaces" {
			merged.Content = append(merged.Content, items[0].Content[i], items[0].Content[i+1])
		}
	}
	if !all {
		ns := mapping()
		ns.Line, ns.Column = firstNS.Line, firstNS.Column // problems name a line the user wrote
		if len(names) > 0 {
			ns.Content = append(ns.Content, str("names"), &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: names, Line: names[0].Line})
		}
		if ownK != nil {
			ns.Content = append(ns.Content, ownK, ownV)
		}
		merged.Content = append(merged.Content, str("namespaces"), ns)
	}
	c.note(items[1].Line, e.path, "promtail: its %d items differ only in their namespaces: one source lists them all, "+
		"so that a pod two items select is read once, as in Promtail", len(items))
	return []*yaml.Node{&merged}
}
