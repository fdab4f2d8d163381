package promtail

import (
	"net"
	"strconv"

	"github.com/logcapturer/logcapturer/config"

	"go.yaml.in/yaml/v3"
)

// Promtail's defaults that the conversion writes out.
const (
	// DefaultPositionsFile is Promtail's positions.filename default.
	DefaultPositionsFile = "/var/log/positions.yaml"
)

// config converts the top-level mapping.
func (c *conv) config(root *yaml.Node) *yaml.Node {
	top, ok := c.fields(root, "", "server", "client", "clients", "positions", "scrape_configs",
		"target_config", "limits_config", "options", "tracing", "global", "wal")
	if !ok {
		return nil
	}
	out := mapping()
	out.HeadComment = "Converted from " + c.file + " (a Promtail configuration) by logcapturer convert.\n" +
		"Comments starting with \"promtail:\" say where logcapturer behaves differently."
	if c.opts.DataDir != "" {
		c.put(out, "data_dir", str(c.opts.DataDir), nil, "")
	}
	c.server(top, out)
	c.positions(top, out)
	c.globals(top)

	sources := list()
	problems, unsupported := len(c.problems), len(c.unsupported)
	if e, ok := top["scrape_configs"]; ok {
		items := c.items(e)
		shadowed := shadowedFileJobs(items)
		for i, sc := range items {
			path := e.path + "[" + strconv.Itoa(i) + "]"
			if later, ok := shadowed[i]; ok {
				c.note(sc.Line, path, "promtail: Promtail up to 3.2 runs only the last scrape config named %q of its file target manager "+
					"(one per job_name: scrape_configs[%d]), so it never read these files (Promtail 3.3 refuses the repeated name); "+
					"left out as well (rename its job_name to ship them)", scalarValue(sc, "job_name"), later)
				// Promtail built its stages all the same: a bad one stopped it.
				if st := config.ResolveAlias(sc); st != nil {
					for j := 0; j+1 < len(st.Content); j += 2 {
						if st.Content[j].Value == "pipeline_stages" {
							c.checkStages(entry{k: st.Content[j], v: st.Content[j+1], path: joinKey(path, "pipeline_stages")})
						}
					}
				}
				continue
			}
			c.scrapeConfig(sc, path, sources)
		}
	}
	if len(sources.Content) == 0 {
		line := 0
		if e, ok := top["scrape_configs"]; ok {
			line = e.k.Line
		}
		switch {
		case len(c.problems) > problems:
			// Said at the scrape config's own line.
		case len(c.unsupported) > unsupported && c.opts.SkipUnsupported:
			c.problem(line, "scrape_configs", "nothing is left to run: every scrape config is one logcapturer does not cover (listed)")
		case len(c.unsupported) == unsupported:
			c.problem(line, "scrape_configs", "no scrape config that logcapturer can run: give a static_configs target with a __path__ label, "+
				"a journal, syslog or loki_push_api target, docker_sd_configs on the local Docker daemon, "+
				"or kubernetes_sd_configs (role: pod) whose relabel_configs set __path__ (Promtail reads no file without it)")
		}
	}
	c.put(out, "sources", sources, nil, "")

	sinks := list()
	var clients []*yaml.Node
	var paths []string
	if e, ok := top["client"]; ok {
		clients, paths = append(clients, e.v), append(paths, e.path)
	}
	if e, ok := top["clients"]; ok {
		for i, it := range c.items(e) {
			clients, paths = append(clients, it), append(paths, e.path+"["+strconv.Itoa(i)+"]")
		}
	}
	if len(clients) == 0 {
		c.problem(0, "clients", "at least one client (a Loki URL) is required")
	}
	for i, cl := range clients {
		name := "loki"
		if len(clients) > 1 {
			name = "loki-" + strconv.Itoa(i+1)
		}
		if s := c.client(cl, paths[i], name); s != nil {
			sinks.Content = append(sinks.Content, s)
		}
	}
	c.put(out, "sinks", sinks, nil, "")

	for _, key := range []string{"options", "tracing", "wal"} {
		if e, ok := top[key]; ok {
			k := c.note(e.k.Line, e.path, "promtail: %s is ignored (%s)", key, map[string]string{
				"options": "stream lag labels are not exported",
				"tracing": "logcapturer has no tracing",
				"wal":     "logcapturer always writes every entry to its own WAL first",
			}[key])
			_ = k
		}
	}
	return out
}

// server maps the HTTP listen address to admin.listen.
func (c *conv) server(top map[string]entry, out *yaml.Node) {
	e, ok := top["server"]
	if !ok {
		return
	}
	m := config.ResolveAlias(e.v)
	if m == nil || m.Kind != yaml.MappingNode {
		c.problem(e.k.Line, e.path, "must be a mapping, got %s", config.NodeKind(e.v))
		return
	}
	var addr, port string
	var portLine int
	disabled := false
	var ignored []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], config.ResolveAlias(m.Content[i+1])
		kp := joinKey(e.path, k.Value)
		ent := entry{k: k, v: v, path: kp}
		switch k.Value {
		case "http_listen_address":
			addr, _ = c.scalar(ent, "an address")
		case "http_listen_port":
			n, ok := c.integer(ent)
			if ok && n > 65535 {
				c.problem(k.Line, kp, "must be a port 0-65535, got %d", n)
			}
			port, portLine = strconv.FormatInt(n, 10), k.Line
		case "disable":
			disabled, _ = c.boolean(ent)
		case "log_level", "log_format":
			c.note(k.Line, kp, "promtail: %s is not part of the config file in logcapturer: give --log-level or --log-format to logcapturer run", k.Value)
		case "grpc_listen_port", "grpc_listen_address", "grpc_listen_network":
			c.note(k.Line, kp, "promtail: logcapturer serves no gRPC; %s is ignored", k.Value)
		default:
			ignored = append(ignored, k.Value)
			c.note(k.Line, kp, "promtail: ignored (the admin server's own settings are admin.*)")
		}
	}
	admin := mapping()
	switch {
	case disabled:
		c.put(admin, "listen", str(""), e.k, e.path+".disable").HeadComment = "promtail: server.disable: the admin server is off"
	case port == "" && addr == "":
	case port == "0":
		c.put(admin, "listen", str(""), e.k, e.path+".http_listen_port").HeadComment = "promtail: http_listen_port 0 picks a random port; the admin server is off"
	default:
		if port == "" {
			port = "80" // Promtail's default
		}
		host := addr
		k := c.put(admin, "listen", str(""), &yaml.Node{Line: portLine}, e.path+".http_listen_port")
		if host == "" || host == "0.0.0.0" || host == "::" || !isLoopback(host) {
			k.HeadComment = c.note(portLine, e.path+".http_listen_port",
				"promtail: Promtail listened on %s; logcapturer's admin API on a non-loopback address requires admin.token_file (it can reveal log contents), so this listens on loopback: set token_file and listen: %s to serve it as before",
				net.JoinHostPort(host, port), net.JoinHostPort(host, port))
			host = "127.0.0.1"
		}
		admin.Content[len(admin.Content)-1].Value = net.JoinHostPort(host, port)
	}
	if len(admin.Content) > 0 {
		c.put(out, "admin", admin, e.k, e.path)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// positions maps positions.filename to the takeover section.
func (c *conv) positions(top map[string]entry, out *yaml.Node) {
	t := mapping()
	file, line, key := DefaultPositionsFile, 0, "positions.filename"
	ignoreInvalid := false
	if e, ok := top["positions"]; ok {
		f, ok := c.fields(e.v, e.path, "filename", "sync_period", "ignore_invalid_yaml")
		if !ok {
			return
		}
		line = e.k.Line
		if fe, ok := f["filename"]; ok {
			if s, ok := c.scalar(fe, "a path"); ok {
				file, line = s, fe.k.Line
			}
		}
		if se, ok := f["sync_period"]; ok {
			if _, ok := c.duration(se); ok {
				c.note(se.k.Line, se.path, "promtail: logcapturer keeps its positions in its WAL with each block, not on a timer; sync_period is ignored")
			}
		}
		if ie, ok := f["ignore_invalid_yaml"]; ok {
			ignoreInvalid, _ = c.boolean(ie)
		}
	}
	from := &yaml.Node{Line: line}
	k := c.put(t, "promtail_positions", str(file), from, key)
	k.HeadComment = "promtail: on its first start logcapturer starts each file Promtail recorded (and that is still\n" +
		"the same file) at Promtail's offset; it records the handover in its state.db and never writes this file"
	if ignoreInvalid {
		c.put(t, "ignore_invalid", plain("true"), from, "positions.ignore_invalid_yaml")
	}
	c.put(out, "takeover", t, from, key)
}

// globals reads target_config, limits_config and global, which apply to
// every scrape config.
func (c *conv) globals(top map[string]entry) {
	if e, ok := top["target_config"]; ok {
		if f, ok := c.fields(e.v, e.path, "sync_period"); ok {
			if se, ok := f["sync_period"]; ok {
				if d, ok := c.duration(se); ok {
					c.syncPeriod = d
				}
			}
		}
	}
	if e, ok := top["global"]; ok {
		if f, ok := c.fields(e.v, e.path, "file_watch_config"); ok {
			if fw, ok := f["file_watch_config"]; ok {
				if w, ok := c.fields(fw.v, fw.path, "min_poll_frequency", "max_poll_frequency"); ok {
					for _, k := range []string{"min_poll_frequency", "max_poll_frequency"} {
						if pe, ok := w[k]; ok {
							if _, ok := c.duration(pe); ok {
								c.note(pe.k.Line, pe.path, "promtail: logcapturer reads a file when inotify says it grew, and rescans every poll_interval (target_config.sync_period); %s is not needed", k)
							}
						}
					}
				}
			}
		}
	}
	e, ok := top["limits_config"]
	if !ok {
		return
	}
	f, ok := c.fields(e.v, e.path, "readline_rate_enabled", "readline_rate", "readline_burst", "readline_rate_drop",
		"max_streams", "max_streams_update_period", "max_line_size", "max_line_size_truncate")
	if !ok {
		return
	}
	enabled := false
	if re, ok := f["readline_rate_enabled"]; ok {
		enabled, _ = c.boolean(re)
	}
	rate, burst, drop := "10000", "10000", "true" // Promtail's defaults
	for key, dst := range map[string]*string{"readline_rate": &rate, "readline_burst": &burst} {
		if re, ok := f[key]; ok {
			if s, ok := c.scalar(re, "a number"); ok {
				if _, err := strconv.ParseFloat(s, 64); err != nil {
					c.problem(re.k.Line, re.path, "must be a number, got %q", s)
				}
				*dst = s
			}
		}
	}
	if re, ok := f["readline_rate_drop"]; ok {
		if b, ok := c.boolean(re); ok {
			drop = strconv.FormatBool(b)
		}
	}
	if enabled {
		opts := mapping()
		c.put(opts, "rate", plain(rate), e.k, e.path+".readline_rate")
		c.put(opts, "burst", plain(burst), e.k, e.path+".readline_burst")
		c.put(opts, "drop", plain(drop), e.k, e.path+".readline_rate_drop")
		stage := mapping()
		c.put(stage, "limit", opts, e.k, e.path)
		stage.HeadComment = c.note(e.k.Line, e.path,
			"promtail: limits_config.readline_rate is one limit for all of Promtail; logcapturer applies it to each source (a limit stage at the end of its pipeline_stages)")
		c.limitStage = stage
	}
	if me, ok := f["max_streams"]; ok {
		if n, ok := c.integer(me); ok && n > 0 {
			c.note(me.k.Line, me.path, "promtail: max_streams is not enforced: logcapturer does not drop entries of new streams")
		}
	}
	if me, ok := f["max_streams_update_period"]; ok {
		c.note(me.k.Line, me.path, "promtail: ignored (max_streams is not enforced)")
	}
	if me, ok := f["max_line_size"]; ok {
		if s, ok := c.scalar(me, "a size"); ok && s != "0" {
			if _, err := parseSize(s); err != nil {
				c.problem(me.k.Line, me.path, "must be a size like 256KB, got %q", s)
			} else {
				c.maxLineSize = s
				c.note(me.k.Line, me.path, "promtail: Promtail drops (or with max_line_size_truncate cuts) a longer line; logcapturer's max_line_bytes splits it into entries of at most that size")
			}
		}
	}
	if te, ok := f["max_line_size_truncate"]; ok {
		c.boolean(te)
	}
}

// shadowedFileJobs returns the scrape configs (by index) that Promtail's
// file target manager never runs (up to Promtail 3.2; 3.3 refuses a
// repeated job_name): it keeps one syncer and one discovery config per
// job_name, the last one's, of the scrape configs it runs (static_configs
// or a service discovery other than docker's, which come before any other
// kind of target). The value is the index of the last one.
func shadowedFileJobs(items []*yaml.Node) map[int]int {
	file := func(it *yaml.Node) bool {
		m := config.ResolveAlias(it)
		if m == nil || m.Kind != yaml.MappingNode {
			return false
		}
		for i := 0; i < len(m.Content); i += 2 {
			if fileKind(m.Content[i].Value) {
				return true
			}
		}
		return false
	}
	last := map[string]int{}
	for i, it := range items {
		if file(it) {
			last[scalarValue(it, "job_name")] = i
		}
	}
	out := map[int]int{}
	for i, it := range items {
		// A job without a name is a problem of its own (job_name is required).
		if name := scalarValue(it, "job_name"); name != "" && file(it) && last[name] != i {
			out[i] = last[name]
		}
	}
	return out
}

// scalarValue is the value of the scalar key of mapping n ("" when n is
// not a mapping or key is not a scalar in it).
func scalarValue(n *yaml.Node, key string) string {
	n = config.ResolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v := config.ResolveAlias(n.Content[i+1]); n.Content[i].Value == key && v != nil && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}
