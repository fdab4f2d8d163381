package promtail

import (
	"net"
	"strconv"
	"strings"

	"github.com/logcapturer/logcapturer/config"

	"go.yaml.in/yaml/v3"
)

// Promtail's defaults of the push targets that the conversion writes out.
const (
	// journalMaxAge is Promtail's journal max_age default.
	journalMaxAge = "7h"
)

// journalFieldLabels are the journald source's default field labels,
// turned off in a converted journal: Promtail sets no label from a
// journal field unless relabel_configs map its __journal_* label.
var journalFieldLabels = []string{"hostname", "priority", "syslog_identifier", "transport", "unit"}

// target is what the conversion of one push or journal target needs from
// its scrape config.
type target struct {
	name       string
	job        *yaml.Node // the scrape config
	jobPath    string
	stages     *yaml.Node // pipeline_stages as written, or nil
	stagesKey  *yaml.Node
	relabel    *yaml.Node // relabel_configs as written (checked), or nil
	relabelKey *yaml.Node
	// encoding is the scrape config's encoding when the files it reads
	// are converted (checked, not UTF-8); encodingSet says so.
	encoding    entry
	encodingSet bool
}

// labels converts a map of labels (a target's labels, a client's
// external_labels), leaving out a label whose value is empty as written:
// Promtail sends no such label. One that comes from a ${VAR} reference the
// output keeps is kept: logcapturer leaves it out when it expands to
// nothing (config: an empty label value). nil when none is left.
func (c *conv) labels(e entry) *yaml.Node {
	ls, ok := c.stringMap(e)
	if !ok {
		return nil
	}
	m := mapping()
	for _, l := range ls {
		v := c.outStr(l.v)
		if v.Value == "" {
			c.note(l.k.Line, l.path, "promtail: %q has an empty value: left out (Promtail sends no label with an empty value)", l.k.Value)
			continue
		}
		c.put(m, l.k.Value, v, l.k, l.path)
	}
	if len(m.Content) == 0 {
		return nil
	}
	return m
}

// common adds the keys every converted source has: name, type, labels,
// relabel_configs and pipeline_stages (with the limit stage).
func (c *conv) common(s *yaml.Node, t target, typ string, e entry, labels *entry) {
	c.from(s, t.job, t.jobPath)
	c.put(s, "name", str(t.name), t.job, joinKey(t.jobPath, "job_name"))
	c.put(s, "type", str(typ), e.k, e.path)
	if labels != nil {
		if m := c.labels(*labels); m != nil {
			c.put(s, "labels", m, labels.k, labels.path)
		}
	}
	if t.relabel != nil {
		c.put(s, "relabel_configs", c.copyTree(t.relabel, joinKey(t.jobPath, "relabel_configs"), 0), t.relabelKey, joinKey(t.jobPath, "relabel_configs"))
	}
	var sl *yaml.Node
	if t.stages != nil {
		sl = c.copyStages(t.stages, joinKey(t.jobPath, "pipeline_stages"))
	}
	if c.limitStage != nil {
		if sl == nil {
			sl = list()
		}
		sl.Content = append(sl.Content, c.copyTree(c.limitStage, "limits_config", 0))
		sl.Content[len(sl.Content)-1].HeadComment = c.limitStage.HeadComment
	}
	if sl != nil {
		c.put(s, "pipeline_stages", sl, t.stagesKey, joinKey(t.jobPath, "pipeline_stages"))
	}
}

// targetSource starts the source of a journal, syslog, gelf or
// loki_push_api target: the target's keys checked against keys, and the
// common keys (name, type typ, labels, relabel_configs, pipeline_stages)
// put. nil when the target is not a mapping of those keys.
func (c *conv) targetSource(e entry, t target, typ string, keys ...string) (*yaml.Node, map[string]entry) {
	f, ok := c.fields(e.v, e.path, keys...)
	if !ok {
		return nil, nil
	}
	s := mapping()
	var labels *entry
	if l, ok := f["labels"]; ok {
		labels = &l
	}
	c.common(s, t, typ, e, labels)
	return s, f
}

// journal converts a journal target into a journald source.
func (c *conv) journal(e entry, t target) *yaml.Node {
	s, f := c.targetSource(e, t, "journald", "max_age", "json", "labels", "path", "matches")
	if s == nil {
		return nil
	}
	if p, ok := f["path"]; ok {
		if v, ok := c.scalar(p, "a directory"); ok && v != "" {
			c.put(s, "path", c.outStr(p.v), p.k, p.path)
		}
	}
	if m, ok := f["matches"]; ok {
		if v, ok := c.scalar(m, "journal matches"); ok && v != "" {
			c.put(s, "matches", c.outStr(m.v), m.k, m.path)
		}
	}
	maxAge := journalMaxAge
	var from *yaml.Node
	key := ""
	if m, ok := f["max_age"]; ok {
		if v, ok := c.duration(m); ok {
			maxAge, from, key = v, m.k, m.path
		}
	}
	k := c.put(s, "max_age", plain(maxAge), from, key)
	if from == nil {
		k.HeadComment = "promtail: Promtail's default max_age"
	}
	if j, ok := f["json"]; ok {
		if v, ok := c.boolean(j); ok && v {
			c.put(s, "json", plain("true"), j.k, j.path)
		}
	}
	fl := mapping()
	for _, l := range journalFieldLabels {
		c.put(fl, l, str(""), nil, "")
	}
	k = c.put(s, "field_labels", fl, nil, "")
	k.HeadComment = "promtail: no label from a journal field unless relabel_configs map its __journal_* label, as in Promtail"
	k = c.put(s, "promtail_job", str(t.jobName()), t.job, joinKey(t.jobPath, "job_name"))
	k.HeadComment = "promtail: the takeover starts after the journal cursor Promtail saved for this job"
	if !hasKey(s, "labels") {
		// With a static label every entry has one (relabel_configs seldom
		// remove those).
		c.note(e.k.Line, e.path, "promtail: Promtail drops a journal entry left without any label after relabeling; logcapturer ships it with no labels")
	}
	return s
}

// hasKey reports whether mapping m has key (false when m is not a
// mapping).
func hasKey(m *yaml.Node, key string) bool {
	if m == nil || m.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

// jobName is the scrape config's job_name as written.
func (t target) jobName() string {
	if m := config.ResolveAlias(t.job); m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "job_name" {
				return m.Content[i+1].Value
			}
		}
	}
	return ""
}

// syslog converts a syslog target into a syslog source.
func (c *conv) syslog(e entry, t target) *yaml.Node {
	s, f := c.targetSource(e, t, "syslog", "listen_address", "listen_protocol", "idle_timeout", "label_structured_data", "labels",
		"use_incoming_timestamp", "use_rfc5424_message", "max_message_length", "tls_config", "syslog_format")
	if s == nil {
		return nil
	}
	if a, ok := f["listen_address"]; ok {
		if _, ok := c.scalar(a, "host:port"); ok {
			c.put(s, "listen_address", c.outStr(a.v), a.k, a.path)
		}
	} else {
		c.problem(e.k.Line, joinKey(e.path, "listen_address"), "is required (Promtail refuses a syslog target without it too)")
	}
	for _, key := range []string{"listen_protocol", "syslog_format"} {
		if v, ok := f[key]; ok {
			if s2, ok := c.scalar(v, "a string"); ok && s2 != "" {
				c.put(s, key, str(strings.ToLower(s2)), v.k, v.path)
			}
		}
	}
	if v, ok := f["idle_timeout"]; ok {
		if d, ok := c.duration(v); ok {
			c.put(s, "idle_timeout", plain(d), v.k, v.path)
		}
	}
	for _, key := range []string{"label_structured_data", "use_incoming_timestamp", "use_rfc5424_message"} {
		if v, ok := f[key]; ok {
			if b, ok := c.boolean(v); ok && b {
				c.put(s, key, plain("true"), v.k, v.path)
			}
		}
	}
	if v, ok := f["max_message_length"]; ok {
		if n, ok := c.integer(v); ok && n > 0 {
			c.put(s, "max_message_length", plain(strconv.FormatInt(n, 10)), v.k, v.path)
		}
	}
	if v, ok := f["tls_config"]; ok {
		if tls := c.serverTLS(v); tls != nil {
			c.put(s, "tls_config", tls, v.k, v.path)
		}
	}
	k := c.put(s, "promtail_labels", plain("true"), nil, "")
	k.HeadComment = "promtail: no facility, severity, hostname or app_name label unless relabel_configs map __syslog_message_*, as in Promtail"
	return s
}

// gelf converts a gelf target into a gelf source: Promtail's keys
// (listen_address, default :12201; use_incoming_timestamp; labels), and
// promtail_labels, so that only relabel_configs make labels from
// __gelf_message_*.
func (c *conv) gelf(e entry, t target) *yaml.Node {
	s, f := c.targetSource(e, t, "gelf", "listen_address", "labels", "use_incoming_timestamp")
	if s == nil {
		return nil
	}
	if a, ok := f["listen_address"]; ok {
		if v, ok := c.scalar(a, "host:port"); ok && v != "" {
			c.put(s, "listen_address", c.outStr(a.v), a.k, a.path)
		}
	}
	if v, ok := f["use_incoming_timestamp"]; ok {
		if b, ok := c.boolean(v); ok && b {
			c.put(s, "use_incoming_timestamp", plain("true"), v.k, v.path)
		}
	}
	k := c.put(s, "promtail_labels", plain("true"), nil, "")
	k.HeadComment = "promtail: no host, level or facility label unless relabel_configs map __gelf_message_*, as in Promtail"
	return s
}

// serverTLS converts a listener's tls_config (cert_file, key_file,
// ca_file: client certificates are then required, as Promtail does).
func (c *conv) serverTLS(e entry) *yaml.Node {
	f, ok := c.fields(e.v, e.path, "cert_file", "key_file", "ca_file", "client_ca_file", "client_auth_type", "server_name", "insecure_skip_verify")
	if !ok {
		return nil
	}
	out := mapping()
	for _, key := range []string{"cert_file", "key_file", "ca_file"} {
		if v, ok := f[key]; ok {
			if _, ok := c.scalar(v, "a path"); ok {
				c.put(out, key, c.outStr(v.v), v.k, v.path)
			}
		}
	}
	if v, ok := f["client_ca_file"]; ok {
		if _, ok := c.scalar(v, "a path"); ok {
			c.put(out, "ca_file", c.outStr(v.v), v.k, v.path)
		}
	}
	for _, key := range []string{"client_auth_type", "server_name", "insecure_skip_verify"} {
		if v, ok := f[key]; ok {
			c.note(v.k.Line, v.path, "promtail: %s is ignored: with ca_file logcapturer requires and verifies client certificates", key)
		}
	}
	return out
}

// lokiPush converts a loki_push_api target into a loki_push source.
func (c *conv) lokiPush(e entry, t target) *yaml.Node {
	s, f := c.targetSource(e, t, "loki_push", "server", "labels", "use_incoming_timestamp")
	if s == nil {
		return nil
	}
	host, port := "", ""
	var from *yaml.Node
	key := ""
	if sv, ok := f["server"]; ok {
		if m := sv.v; m.Kind != yaml.MappingNode {
			c.problem(sv.k.Line, sv.path, "must be a mapping, got %s", config.NodeKind(m))
		} else {
			for i := 0; i+1 < len(m.Content); i += 2 {
				ent := entry{k: m.Content[i], v: config.ResolveAlias(m.Content[i+1]), path: joinKey(sv.path, m.Content[i].Value)}
				switch ent.k.Value {
				case "http_listen_address":
					host, _ = c.scalar(ent, "an address")
				case "http_listen_port":
					if n, ok := c.integer(ent); ok {
						port, from, key = strconv.FormatInt(n, 10), ent.k, ent.path
					}
				default:
					c.note(ent.k.Line, ent.path, "promtail: server.%s of the push target is ignored", ent.k.Value)
				}
			}
		}
	}
	if port == "" || port == "0" {
		c.problem(e.k.Line, joinKey(e.path, "server.http_listen_port"),
			"is required: logcapturer's loki_push source listens on one fixed port (Promtail's default, 80, would need root)")
		return nil
	}
	c.put(s, "listen_address", str(net.JoinHostPort(host, port)), from, key)
	if v, ok := f["use_incoming_timestamp"]; ok {
		if b, ok := c.boolean(v); ok && b {
			c.put(s, "use_incoming_timestamp", plain("true"), v.k, v.path)
		}
	}
	k := c.put(s, "ignore_tenant_header", plain("true"), e.k, e.path)
	k.LineComment = "promtail: pushes go out under the client's tenant, whatever X-Scope-OrgID they carry"
	return s
}
