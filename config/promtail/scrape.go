package promtail

import (
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/stages"
)

// Labels Promtail's file targets read.
const (
	pathLabel        = "__path__"
	pathExcludeLabel = "__path_exclude__"
	hostLabel        = "__host__"
	addressLabel     = "__address__"
	filenameLabel    = "filename"
)

// checkStages reports the problems of a pipeline_stages list at their
// lines. The files a stage names (geoip's database) are on the machine
// that runs the converted file: not opened here.
func (c *conv) checkStages(e entry) {
	pl, problems := stages.Parse(e.v, stages.Env{Source: "check", NoFiles: true})
	if pl != nil {
		pl.Close()
	}
	for _, p := range problems {
		line := p.Line
		if line == 0 {
			line = e.k.Line
		}
		c.problem(line, e.path+p.Key, "%s", p.Msg)
	}
}

// targetKinds are the kinds of target a scrape config can have, in the
// order Promtail picks the one it runs (targets/manager.go: the first
// present; the others in the same scrape config are never read). "" is the
// file target manager's: static_configs or a service discovery other than
// docker_sd_configs.
var targetKinds = []string{"", "journal", "syslog", "gcplog", "loki_push_api", "windows_events", "kafka", "gelf", "cloudflare",
	"docker_sd_configs"}

// fileKind reports whether scrape config key k is for Promtail's file
// target manager.
func fileKind(k string) bool {
	return k == "static_configs" || strings.HasSuffix(k, "_sd_configs") && k != "docker_sd_configs"
}

// oneKind keeps in f the one kind of target Promtail runs of the scrape
// config, noting and removing the others, and returns the not covered
// keys left of sds.
func (c *conv) oneKind(f map[string]entry, sds []string) []string {
	kindOf := func(k string) string {
		if fileKind(k) {
			return ""
		}
		return k
	}
	present := map[string]bool{}
	for k := range f {
		if fileKind(k) || slices.Contains(targetKinds, k) {
			present[kindOf(k)] = true
		}
	}
	run := ""
	for _, k := range targetKinds {
		if present[k] {
			run = k
			break
		}
	}
	// A key left null is not in f: not a target at all.
	sds = slices.DeleteFunc(sds, func(k string) bool { _, ok := f[k]; return !ok })
	if len(present) < 2 {
		return sds
	}
	name := run
	if run == "" {
		name = "static_configs or a service discovery"
	}
	for _, k := range slices.Sorted(maps.Keys(f)) {
		if (fileKind(k) || slices.Contains(targetKinds, k)) && kindOf(k) != run {
			c.note(f[k].k.Line, f[k].path, "promtail: ignored, as Promtail ignores it: a scrape config runs one kind of target, here %s", name)
			delete(f, k)
		}
	}
	return slices.DeleteFunc(sds, func(k string) bool { _, ok := f[k]; return !ok })
}

// coveredSD reports whether k is a service discovery logcapturer converts.
func coveredSD(k string) bool { return k == "docker_sd_configs" || k == "kubernetes_sd_configs" }

// notCoveredTargets are the scrape config keys of targets logcapturer does
// not cover, with what to do instead.
var notCoveredTargets = map[string]string{
	"windows_events":   "logcapturer does not read the Windows event log",
	"gcplog":           "logcapturer does not pull from Google Cloud Pub/Sub",
	"cloudflare":       "logcapturer does not pull Cloudflare logs",
	"heroku_drain":     "logcapturer has no Heroku drain receiver",
	"kafka":            "logcapturer does not consume Kafka",
	"azure_event_hubs": "logcapturer does not consume Azure Event Hubs",
}

var relabelKeys = []string{"source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"}

// scrapeConfig converts one scrape_configs entry into sources appended to
// out.
func (c *conv) scrapeConfig(n *yaml.Node, path string, out *yaml.Node) {
	known := []string{"job_name", "pipeline_stages", "static_configs", "relabel_configs", "encoding", "decompression",
		"journal", "syslog", "loki_push_api", "gelf", "docker_sd_configs", "kubernetes_sd_configs"}
	var sds []string
	if m := config.ResolveAlias(n); m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i < len(m.Content); i += 2 {
			k := m.Content[i].Value
			if _, ok := notCoveredTargets[k]; ok || strings.HasSuffix(k, "_sd_configs") && !coveredSD(k) {
				sds = append(sds, k)
			}
		}
	}
	f, ok := c.fields(n, path, append(known, sds...)...)
	if !ok {
		return
	}
	sds = c.oneKind(f, sds)
	job := ""
	if e, ok := f["job_name"]; ok {
		job, _ = c.scalar(e, "a string")
	} else {
		c.problem(n.Line, joinKey(path, "job_name"), "is required")
	}
	for _, k := range sds {
		e := f[k]
		why, ok := notCoveredTargets[k]
		if !ok {
			why = "service discovery is not covered: list the files in static_configs, or use a native docker, cri or kubernetes source"
		}
		c.notCovered(e.k.Line, e.path, "%s: %s", k, why)
	}
	if len(sds) > 0 && c.opts.SkipUnsupported && !slices.ContainsFunc([]string{"static_configs", "journal", "syslog", "loki_push_api", "gelf", "docker_sd_configs",
		"kubernetes_sd_configs"},
		func(k string) bool { _, ok := f[k]; return ok }) {
		return // the whole job is left out: what else is wrong in it does not matter
	}
	var stagesNode *yaml.Node
	if e, ok := f["pipeline_stages"]; ok {
		stagesNode = e.v
		c.checkStages(e)
	}
	var rules []*relabel.Config
	if e, ok := f["relabel_configs"]; ok {
		rules = c.relabelConfigs(e)
	}
	var enc entry
	var encSet bool
	if e, ok := f["encoding"]; ok {
		if s, ok := c.scalar(e, "an encoding name"); ok {
			// Promtail fails to tail the files of a name it does not
			// know (and crashes on UTF-32 or UTF-7).
			switch convert, err := sources.CheckEncoding(s); {
			case err != nil:
				c.problem(e.k.Line, e.path, "%v", err)
			case convert:
				enc, encSet = e, true
				if f["static_configs"].v == nil && f["kubernetes_sd_configs"].v == nil {
					c.note(e.k.Line, e.path, "promtail: encoding applies to the files of static_configs and kubernetes_sd_configs: left out here, as Promtail ignores it")
				}
			}
		}
	}
	if e, ok := f["decompression"]; ok {
		c.notCovered(e.k.Line, e.path, "decompression: logcapturer does not read compressed files")
	}
	var pushed []*yaml.Node
	t := target{job: n, jobPath: path, encoding: enc, encodingSet: encSet}
	if e, ok := f["pipeline_stages"]; ok {
		t.stages, t.stagesKey = e.v, e.k
	}
	if e, ok := f["relabel_configs"]; ok {
		t.relabel, t.relabelKey = e.v, e.k
	}
	for _, kind := range []string{"journal", "syslog", "loki_push_api", "gelf"} {
		e, ok := f[kind]
		if !ok {
			continue
		}
		t.name = sourceName(job, 0, 1)
		if len(pushed) > 0 || f["static_configs"].v != nil {
			t.name = sourceName(job+"-"+kind, 0, 1)
		}
		var s *yaml.Node
		switch kind {
		case "journal":
			s = c.journal(e, t)
		case "syslog":
			s = c.syslog(e, t)
		case "gelf":
			s = c.gelf(e, t)
		default:
			s = c.lokiPush(e, t)
		}
		if s != nil {
			pushed = append(pushed, s)
		}
	}
	// Each discovery item is a source, named after the job (and the kind,
	// when the job makes other sources too).
	for _, sd := range []struct {
		key, kind string
		conv      func(*yaml.Node, string, target) *yaml.Node
	}{{"docker_sd_configs", "docker", c.dockerSD}, {"kubernetes_sd_configs", "kubernetes", c.kubernetesSD}} {
		e, ok := f[sd.key]
		if !ok || sd.key == "kubernetes_sd_configs" && !c.kubePaths(t, rules) {
			continue
		}
		items := c.items(e)
		if sd.key == "kubernetes_sd_configs" {
			items = c.mergeKubeItems(e, items)
		}
		for i, it := range items {
			t.name = sourceName(job, i, len(items))
			// pushed holds this discovery's earlier items too (job-1,
			// then job-<kind>-2): kept so, since positions are stored by
			// source name and a converted config converted again must
			// keep its names.
			if len(pushed) > 0 || f["static_configs"].v != nil {
				t.name = sourceName(job+"-"+sd.kind, i, len(items))
			}
			if s := sd.conv(it, e.path+"["+strconv.Itoa(i)+"]", t); s != nil {
				pushed = append(pushed, s)
			}
		}
	}
	out.Content = append(out.Content, pushed...)
	e, ok := f["static_configs"]
	if !ok {
		return
	}
	seen := map[string]bool{}
	var targets []fileTarget
	for i, sc := range c.items(e) {
		for _, t := range c.staticConfig(sc, e.path+"["+strconv.Itoa(i)+"]", rules) {
			if k := t.key(); !seen[k] {
				seen[k] = true
				targets = append(targets, t)
			}
		}
	}
	for i, t := range targets {
		name := sourceName(job, i, len(targets))
		out.Content = append(out.Content, c.fileSource(name, t, n, path, stagesNode, f))
	}
}

// fileTarget is one static target, relabeled: the files to tail and their
// labels.
type fileTarget struct {
	path, exclude string
	labels        map[string]string
	from          *yaml.Node // the static_configs item
	key0          string     // its path
	labelLines    map[string]*yaml.Node
	// refs are the labels (__path__ included) written with their ${VAR}
	// references (Options.KeepEnv): the value as written, which relabeling
	// left as it was.
	refs map[string]*yaml.Node
}

func (t fileTarget) key() string {
	var b strings.Builder
	b.WriteString(t.path + "\x00" + t.exclude)
	for _, k := range slices.Sorted(maps.Keys(t.labels)) {
		b.WriteString("\x00" + k + "=" + t.labels[k])
	}
	return b.String()
}

// staticConfig reads one static_configs item and returns its targets after
// relabeling, as Promtail's file target manager makes them: each target
// is __address__ plus the labels; relabel_configs run on that set; a
// target without __path__ is skipped; labels starting with "__" are
// removed.
func (c *conv) staticConfig(n *yaml.Node, path string, rules []*relabel.Config) []fileTarget {
	f, ok := c.fields(n, path, "targets", "labels")
	if !ok {
		return nil
	}
	addrs := []string{"localhost"} // Promtail's default when targets is left out
	if e, ok := f["targets"]; ok {
		addrs = nil
		for i, it := range c.items(e) {
			if s, ok := c.scalar(entry{k: it, v: it, path: e.path + "[" + strconv.Itoa(i) + "]"}, "a string"); ok {
				addrs = append(addrs, s)
			}
		}
	}
	base := map[string]string{}
	lines := map[string]*yaml.Node{}
	values := map[string]*yaml.Node{}
	if e, ok := f["labels"]; ok {
		ls, _ := c.stringMap(e)
		for _, l := range ls {
			base[l.k.Value] = l.v.Value
			lines[l.k.Value] = l.k
			values[l.k.Value] = l.v
		}
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if base[k] == "" && !c.keepsRef(values[k]) && !strings.HasPrefix(k, "__") {
			c.note(lineOf(lines, k, n), joinKey(path, "labels."+k), "promtail: %q has an empty value: left out (Promtail sends no label with an empty value)", k)
		}
	}
	var out []fileTarget
	for _, addr := range addrs {
		set := maps.Clone(base)
		set[addressLabel] = addr
		lb := labels.NewBuilder(labels.FromMap(set))
		if len(rules) > 0 && !relabel.ProcessBuilder(lb, rules...) {
			c.note(n.Line, path, "promtail: target %q is dropped by relabel_configs", addr)
			continue
		}
		final := lb.Labels().Map()
		p := final[pathLabel]
		if p == "" {
			c.note(n.Line, path, "promtail: target %q has no __path__ label: Promtail tails nothing for it, and neither does logcapturer", addr)
			continue
		}
		// Promtail excludes a file when its exclude's glob gives the
		// same string as the match (sync, before the matches are made
		// absolute) or when the exclude matches the file's absolute path
		// (startTailing, doublestar.Match). A relative exclude of a
		// relative __path__ is resolved with it; an absolute one matches
		// as logcapturer's full-path match does; a name alone (*.gz) with
		// an absolute __path__ matched nothing, where logcapturer's
		// exclude matches base names too: it is left out.
		ex := final[pathExcludeLabel]
		relative := !filepath.IsAbs(p)
		if ex != "" && !relative && !filepath.IsAbs(ex) && !strings.Contains(ex, "/") && !strings.HasPrefix(ex, "**") {
			c.note(lineOf(lines, pathExcludeLabel, n), joinKey(path, "labels.__path_exclude__"),
				"promtail: left out: Promtail matches %q against each file's absolute path, which a name alone never matches, so it excluded nothing with it "+
					"(logcapturer's exclude matches base names too); to exclude those files now, add exclude to the converted source", ex)
			ex = ""
		}
		if relative {
			abs := filepath.Join(c.workDir(), p)
			c.note(lineOf(lines, pathLabel, n), joinKey(path, "labels.__path__"),
				"promtail: %q is relative: Promtail reads it in its working directory and labels the files with absolute paths; converted as %q", p, abs)
			p = abs
			if ex != "" && !filepath.IsAbs(ex) {
				ex = filepath.Join(c.workDir(), ex)
			}
		}
		if h, ok := final[hostLabel]; ok && h != "" {
			c.note(lineOf(lines, hostLabel, n), joinKey(path, "labels.__host__"),
				"promtail: __host__ %q: Promtail tails the target only on that host; logcapturer tails it wherever it runs", h)
		}
		t := fileTarget{path: p, exclude: ex, labels: map[string]string{}, from: n, key0: path, labelLines: lines,
			refs: map[string]*yaml.Node{}}
		for k, v := range final {
			switch {
			case strings.HasPrefix(k, "__"):
			case k == filenameLabel:
				c.note(lineOf(lines, k, n), joinKey(path, "labels."+k),
					"promtail: the filename label is set to each file's path, as in Promtail; the static value is not used")
			default:
				t.labels[k] = v
			}
		}
		// A value written with ${VAR} references keeps them (KeepEnv) when
		// relabeling did not change it: the converted file then reads the
		// variable where it runs, not where it was converted (a fleet's
		// ${HOSTNAME}). One that expanded to nothing here is kept too when
		// no rule could have used it.
		for k, vn := range values {
			if !c.keepsRef(vn) || k == filenameLabel || strings.HasPrefix(k, "__") && k != pathLabel && k != pathExcludeLabel {
				continue
			}
			if v, ok := final[k]; ok && v == base[k] || !ok && base[k] == "" && len(rules) == 0 {
				t.refs[k] = vn
				if !strings.HasPrefix(k, "__") {
					t.labels[k] = base[k]
				}
			}
		}
		if p != final[pathLabel] {
			delete(t.refs, pathLabel) // made absolute
		}
		if ex != final[pathExcludeLabel] {
			delete(t.refs, pathExcludeLabel)
		}
		out = append(out, t)
	}
	return out
}

// value is the output node of label k (v after relabeling): as written,
// with its references, when t.refs has it.
func (t fileTarget) value(c *conv, k, v string) *yaml.Node {
	if n, ok := t.refs[k]; ok {
		return c.outStr(n)
	}
	return str(escape(v))
}

func lineOf(lines map[string]*yaml.Node, key string, def *yaml.Node) int {
	if n, ok := lines[key]; ok {
		return n.Line
	}
	return def.Line
}

// fileSource builds the native file source of one target.
func (c *conv) fileSource(name string, t fileTarget, job *yaml.Node, jobPath string, stagesNode *yaml.Node, f map[string]entry) *yaml.Node {
	s := mapping()
	c.from(s, job, jobPath)
	c.put(s, "name", str(name), job, joinKey(jobPath, "job_name"))
	c.put(s, "type", str("file"), t.from, t.key0)
	c.put(s, "paths", list(c.from(t.value(c, pathLabel, t.path), t.from, t.key0+".labels.__path__")), t.from, t.key0+".labels.__path__")
	if t.exclude != "" || t.refs[pathExcludeLabel] != nil {
		c.put(s, "exclude", list(c.from(t.value(c, pathExcludeLabel, t.exclude), t.from, t.key0+".labels.__path_exclude__")), t.from, t.key0+".labels.__path_exclude__")
	}
	if len(t.labels) > 0 {
		m := mapping()
		for _, k := range slices.Sorted(maps.Keys(t.labels)) {
			from := t.from
			if n, ok := t.labelLines[k]; ok {
				from = n
			}
			c.put(m, k, t.value(c, k, t.labels[k]), from, t.key0+".labels."+k)
		}
		c.put(s, "labels", m, t.from, t.key0+".labels")
	}
	if c.syncPeriod != "" {
		c.put(s, "poll_interval", plain(c.syncPeriod), nil, "")
	}
	if c.maxLineSize != "" {
		n, _ := parseSize(c.maxLineSize)
		n = min(max(n, int64(1<<10)), int64(64<<20))
		c.put(s, "max_line_bytes", plain(strconv.FormatInt(n, 10)), nil, "")
	}
	if e, ok := f["encoding"]; ok {
		if convert, err := sources.CheckEncoding(e.v.Value); convert && err == nil {
			c.put(s, "encoding", c.outStr(e.v), e.k, e.path)
		}
	}
	var sl *yaml.Node
	if stagesNode != nil {
		sl = c.copyStages(stagesNode, joinKey(jobPath, "pipeline_stages"))
	}
	if c.limitStage != nil {
		if sl == nil {
			sl = list()
		}
		sl.Content = append(sl.Content, c.copyTree(c.limitStage, "limits_config", 0))
		sl.Content[len(sl.Content)-1].HeadComment = c.limitStage.HeadComment
	}
	if sl != nil {
		c.put(s, "pipeline_stages", sl, f["pipeline_stages"].k, joinKey(jobPath, "pipeline_stages"))
	}
	return s
}

// escape makes an expanded value safe from logcapturer's own expansion:
// a "$" before "{" or "$" is doubled (logcapturer keeps any other "$" as
// it is, so a regex's "$" stays readable).
func escape(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '$') {
			b.WriteByte('$')
		}
	}
	return b.String()
}

var nameRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// sourceName derives a source's name from its job's: invalid characters
// become "_", and the i-th of n targets gets a suffix.
func sourceName(job string, i, n int) string {
	name := strings.Trim(nameRE.ReplaceAllString(job, "_"), "_")
	if name == "" {
		name = "job"
	}
	if len(name) > config.MaxNameLen-4 {
		name = name[:config.MaxNameLen-4]
	}
	if n > 1 {
		name += "-" + strconv.Itoa(i+1)
	}
	return name
}

// relabelConfigs reads and checks a relabel_configs list.
func (c *conv) relabelConfigs(e entry) []*relabel.Config {
	var out []*relabel.Config
	for i, it := range c.items(e) {
		ip := e.path + "[" + strconv.Itoa(i) + "]"
		f, ok := c.fields(it, ip, relabelKeys...)
		if !ok {
			continue
		}
		if re, ok := f["regex"]; ok {
			if s, ok := c.scalar(re, "a regular expression"); ok {
				if _, err := regexp.Compile("^(?s:" + s + ")$"); err != nil {
					c.problem(re.k.Line, re.path, "does not compile: %v", err)
					continue
				}
			}
		}
		var rc relabel.Config
		if err := it.Decode(&rc); err != nil {
			c.problem(it.Line, ip, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			continue
		}
		if err := rc.Validate(model.LegacyValidation); err != nil {
			c.problem(it.Line, ip, "%v", err)
			continue
		}
		out = append(out, &rc)
	}
	return out
}
