package promtail

import (
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/util/strutil"
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// DefaultDockerDataRoot is dockerd's default data-root, whose
// containers/<id>/<id>-json.log a converted docker_sd_configs reads
// (Options.DockerDataRoot changes it).
const DefaultDockerDataRoot = "/var/lib/docker"

// dockerSDKeys are the keys of a docker_sd_configs item: Prometheus's
// Docker discovery with its HTTP client settings inline.
var dockerSDKeys = []string{"host", "port", "filters", "host_networking_host", "refresh_interval", "match_first_network"}

// dockerHTTPKeys are Prometheus's HTTP client settings, which a docker
// discovery uses only for an http(s) host.
var dockerHTTPKeys = []string{"basic_auth", "authorization", "oauth2", "bearer_token", "bearer_token_file", "tls_config",
	"proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header", "follow_redirects", "enable_http2", "http_headers"}

// dockerAPILabels are the labels of Promtail's docker discovery that
// only the Docker API gives: a relabel rule reading one is not covered.
var dockerAPILabelRE = regexp.MustCompile(`^(__address__|__meta_docker_network_.*|__meta_docker_port_.*|__meta_docker_container_network_mode)$`)

// dockerSD converts one docker_sd_configs item into a docker source that
// reads the json-file logs under the data root with Promtail's labels
// (promtail_labels), the item's filters becoming relabel keep rules
// before the job's relabel_configs. nil when a part of it is not
// covered.
func (c *conv) dockerSD(n *yaml.Node, path string, t target) *yaml.Node {
	f, ok := c.fields(n, path, append(slices.Clone(dockerSDKeys), dockerHTTPKeys...)...)
	if !ok {
		return nil
	}
	e := entry{k: n, v: n, path: path}
	// A part not covered leaves the whole item out (with SkipUnsupported):
	// reading another daemon's containers, or more of them than a filter
	// lets through, is not the rest of the config.
	left := len(c.unsupported)
	if h, ok := f["host"]; ok {
		if s, ok := c.scalar(h, "a Docker host URL"); ok {
			u, err := url.Parse(s)
			switch {
			case err != nil:
				c.problem(h.k.Line, h.path, "%q is not a URL: %v", s, err)
			case u.Scheme != "unix" && c.opts.DockerProxyLocal:
				c.note(h.k.Line, h.path, "promtail: %q is read as a proxy of this host's Docker socket (--docker-proxy-local): "+
					"the containers' json-file logs on this host's disk", s)
			case u.Scheme != "unix":
				c.notCovered(h.k.Line, h.path, "%q: only a local Docker daemon (unix:///var/run/docker.sock) is covered: "+
					"logcapturer reads the containers' json-file logs on this host's disk, not through the Docker API; "+
					"if this is the host's own Docker behind a socket proxy, give --docker-proxy-local "+
					"(logcapturer needs the data-root, not the socket)", s)
			}
		}
	} else {
		c.problem(n.Line, joinKey(path, "host"), "is required (Promtail refuses a docker_sd_configs without it too)")
	}
	for _, k := range []string{"port", "host_networking_host", "match_first_network"} {
		if v, ok := f[k]; ok {
			c.note(v.k.Line, v.path, "promtail: %s is ignored: it only shapes __address__ and the network and port labels, which logcapturer does not set", k)
		}
	}
	for _, k := range dockerHTTPKeys {
		if v, ok := f[k]; ok {
			c.note(v.k.Line, v.path, "promtail: %s is ignored: logcapturer does not call the Docker API", k)
		}
	}
	var keep []*yaml.Node
	if fl, ok := f["filters"]; ok {
		keep = c.dockerFilters(fl)
	}

	s := mapping()
	c.common(s, target{name: t.name, job: t.job, jobPath: t.jobPath, stages: t.stages, stagesKey: t.stagesKey}, "docker", e, nil)
	root := c.opts.DockerDataRoot
	if root == "" {
		root = DefaultDockerDataRoot
	}
	k := c.put(s, "paths", list(str(escape(filepath.Join(root, "containers", "*", "*-json.log")))), nil, "")
	k.HeadComment = "promtail: the json-file logs of the containers of this host's Docker (data-root " + root + ")"
	if v, ok := f["refresh_interval"]; ok {
		if d, ok := c.duration(v); ok {
			c.put(s, "poll_interval", plain(d), v.k, v.path)
		}
	}
	if c.maxLineSize != "" {
		n, _ := parseSize(c.maxLineSize)
		n = min(max(n, int64(1<<10)), int64(64<<20))
		c.put(s, "max_line_bytes", plain(strconv.FormatInt(n, 10)), nil, "")
	}
	c.note(n.Line, path, "promtail: Promtail's docker positions (cursor-<container id>: the second of the last entry sent) are taken over "+
		"as Promtail's own restart uses them: each container's log resumes at its first record of that second or later, so that second's "+
		"entries are sent again, identical, and Loki drops them; a container without a position is read from its beginning "+
		"(Loki drops the exact duplicates; entries older than Loki accepts are refused and go to the dead-letter queue); "+
		"logcapturer reads the logs of stopped containers too, Promtail only of those running at a refresh")
	k = c.put(s, "promtail_labels", plain("true"), nil, "")
	k.HeadComment = "promtail: labels __meta_docker_container_id, _name, _label_<name> and _log_stream for relabel_configs, as docker_sd_configs"
	rules := list()
	rules.Content = append(rules.Content, keep...)
	if t.relabel != nil {
		rp := joinKey(t.jobPath, "relabel_configs")
		for i, r := range c.items(entry{k: t.relabelKey, v: t.relabel, path: rp}) {
			rules.Content = append(rules.Content, c.copyTree(r, rp+"["+strconv.Itoa(i)+"]", 0))
			c.dockerAPILabels(r, rp+"["+strconv.Itoa(i)+"]")
		}
	}
	if len(c.unsupported) > left {
		return nil
	}
	if len(rules.Content) > 0 {
		from, key := t.relabelKey, joinKey(t.jobPath, "relabel_configs")
		if from == nil {
			from, key = f["filters"].k, f["filters"].path
		}
		c.put(s, "relabel_configs", rules, from, key)
	}
	return s
}

// dockerAPILabels reports a relabel rule reading a label only the Docker
// API gives (network, port, __address__): not covered, since it would be
// empty here.
func (c *conv) dockerAPILabels(r *yaml.Node, path string) {
	m := config.ResolveAlias(r)
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "source_labels" {
			continue
		}
		v := config.ResolveAlias(m.Content[i+1])
		if v == nil || v.Kind != yaml.SequenceNode {
			return
		}
		for _, l := range v.Content {
			if dockerAPILabelRE.MatchString(l.Value) {
				c.notCovered(l.Line, path+".source_labels", "%s: only the Docker API gives it (logcapturer reads the logs from disk and sets only "+
					"__meta_docker_container_id, _name, _label_<name> and _log_stream)", l.Value)
			}
		}
	}
}

// dockerFilters turns the filters of a docker_sd_configs item into
// relabel keep rules with Docker's semantics: name and id values are
// regular expressions matched anywhere in the name ("/" included) or the
// full ID, any value of one filter name matching; each label value
// ("key" or "key=value") must match. status "running" is what Promtail
// lists anyway; any other filter is not covered.
func (c *conv) dockerFilters(e entry) []*yaml.Node {
	values := map[string][]string{}
	lines := map[string]*yaml.Node{}
	for i, it := range c.items(e) {
		ip := e.path + "[" + strconv.Itoa(i) + "]"
		f, ok := c.fields(it, ip, "name", "values")
		if !ok {
			continue
		}
		nm, ok := f["name"]
		if !ok {
			c.problem(it.Line, joinKey(ip, "name"), "is required")
			continue
		}
		name, ok := c.scalar(nm, "a filter name")
		if !ok {
			continue
		}
		var vs []string
		if ve, ok := f["values"]; ok {
			for j, v := range c.items(ve) {
				if s, ok := c.scalar(entry{k: v, v: v, path: ve.path + "[" + strconv.Itoa(j) + "]"}, "a string"); ok {
					vs = append(vs, s)
				}
			}
		}
		switch name {
		case "name", "id":
			for _, v := range vs {
				if _, err := regexp.Compile(v); err != nil {
					c.problem(it.Line, joinKey(ip, "values"), "%q does not compile (Docker reads it as a regular expression): %v", v, err)
				}
			}
		case "label":
		case "status":
			if slices.ContainsFunc(vs, func(v string) bool { return v != "running" }) {
				c.notCovered(nm.k.Line, ip, "status filter %q: Promtail's discovery lists running containers; logcapturer reads every container's log on disk", strings.Join(vs, ","))
			} else {
				c.note(nm.k.Line, ip, "promtail: status running is ignored: logcapturer reads the logs of every container on disk, stopped ones included")
			}
			continue
		default:
			c.notCovered(nm.k.Line, ip, "filter %q: only name, id and label filters are covered (they become relabel keep rules); "+
				"write a keep rule on __meta_docker_container_name or _label_<name> instead", name)
			continue
		}
		if _, ok := lines[name]; !ok {
			lines[name] = it
		}
		values[name] = append(values[name], vs...)
	}
	var out []*yaml.Node
	rule := func(from *yaml.Node, label, re string) {
		r := mapping()
		c.put(r, "action", str("keep"), from, e.path)
		c.put(r, "source_labels", list(str(label)), from, e.path)
		c.put(r, "regex", str(escape(re)), from, e.path)
		out = append(out, r)
	}
	for _, f := range []struct{ name, label string }{{"name", "__meta_docker_container_name"}, {"id", "__meta_docker_container_id"}} {
		vs := values[f.name]
		if len(vs) == 0 {
			continue
		}
		// Docker: a value equal to the name, or a regular expression
		// matching part of it.
		alts := []string{".*(?:" + strings.Join(vs, "|") + ").*"}
		for _, v := range vs {
			alts = append(alts, regexp.QuoteMeta(v))
		}
		rule(lines[f.name], f.label, strings.Join(alts, "|"))
	}
	for _, v := range values["label"] {
		k, val, hasValue := strings.Cut(v, "=")
		re := ".+" // present; an empty value reads as absent (noted)
		if hasValue {
			re = regexp.QuoteMeta(val)
		}
		rule(lines["label"], "__meta_docker_container_label_"+strutil.SanitizeLabelName(k), re)
	}
	if slices.ContainsFunc(values["label"], func(v string) bool { return !strings.Contains(v, "=") }) {
		c.note(lines["label"].Line, e.path, "promtail: a label filter without a value keeps containers whose label is set and not empty (Docker also keeps an empty one)")
	}
	return out
}
