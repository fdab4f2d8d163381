package sources

import (
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/internal/glob"
	"github.com/logcapturer/logcapturer/sources/kubepods"
	"github.com/logcapturer/logcapturer/wal"
)

// TypeKubernetes is the source type that reads the kubelet's pod logs
// (/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log) labelled from
// the pods' metadata in the Kubernetes API, as Promtail's
// kubernetes_sd_configs (role: pod) does.
const TypeKubernetes = "kubernetes"

// Formats of a kubernetes source (FileConfig.Format).
const (
	// FormatCRI decodes the CRI log format, as type cri does.
	FormatCRI = "cri"
	// FormatRaw hands the lines on as they are, for pipeline_stages that
	// decode them (a converted Promtail config's cri stage).
	FormatRaw = "raw"
)

// Promtail's target labels that steer a file target.
const (
	promtailPathLabel        = "__path__"
	promtailPathExcludeLabel = "__path_exclude__"
	promtailHostLabel        = "__host__"
)

// KubernetesSourceType registers type: kubernetes with config.
func KubernetesSourceType() config.SourceType { return fileSourceType(TypeKubernetes) }

// KubernetesCacheFile is where the kubernetes source named source keeps
// its last pod list in the data directory dataDir.
func KubernetesCacheFile(dataDir, source string) string {
	return filepath.Join(dataDir, "kubernetes", source+".json")
}

// KubernetesOptions (FileOptions.Kubernetes) make a file source find the
// pod of each file under the kubelet's pod log directory and label the
// file from it.
type KubernetesOptions struct {
	// Discovery is where the pods come from.
	Discovery kubepods.Options
	// Rules are the source's relabel_configs, run once per file on its
	// pod's target labels (Promtail's target relabeling) rather than on
	// each entry. Without rules a file gets namespace, pod and container.
	Rules []*relabel.Config
}

// rotatedRE matches the name the kubelet gives a rotated container log,
// <n>.log.<YYYYMMDD-HHMMSS> (pkg/kubelet/logs: the rotation renames the
// log with that suffix, then compresses older ones to .gz).
var rotatedRE = regexp.MustCompile(`^(.+\.log)\.\d{8}-\d{6}$`)

// kubeDecision is what kubeFiles decided about one path.
type kubeDecision struct {
	// gen is the discovery generation the decision was made at; seenGen
	// the one when the path was first seen.
	gen, seenGen uint64
	// key is the file the path led to when last decided; startup: that
	// file was first seen by the startup scan, so it is opened as that
	// scan opens files (FileOptions.StartAt) whenever its pod is known. A
	// new file at the path (the kubelet's rotation) is not a startup one.
	key     fileKey
	startup bool
	tail    bool
	labels  []wal.Label
	// why the file is not read ("" while waiting for a list), and since
	// when it was first seen.
	why   string
	since time.Time
}

// Reasons a kubernetes source does not read a matched file (FileSkipped).
const (
	whyNoPod     = "no such pod in the Kubernetes API (another node's, or not in the namespaces or selectors)"
	whyDropped   = "no target of its container is kept by relabel_configs and covers it (__path__, __host__)"
	whyHistory   = "a rotated log already there at the start: history, not read"
	whyNotPodDir = "not in a pod log directory (<namespace>_<pod>_<uid>/<container>/)"
)

// kubeFiles decides, for the tailer, which matched files to read and with
// which labels. Tailer goroutine only, except the Discovery it asks.
type kubeFiles struct {
	d     *kubepods.Discovery
	rules []*relabel.Config // ownRules
	// requirePath: a rule sets __path__, so a target without one reads
	// nothing, as in Promtail ("no path for target").
	requirePath bool
	decided     map[string]*kubeDecision
	b           *labels.Builder
	// warnedNoPods: noPods warned (until a list finds pods).
	warnedNoPods bool
}

func newKubeFiles(d *kubepods.Discovery, rules []*relabel.Config) *kubeFiles {
	k := &kubeFiles{d: d, rules: ownRules(rules), decided: make(map[string]*kubeDecision), b: labels.NewBuilder(labels.EmptyLabels())}
	for _, r := range rules {
		k.requirePath = k.requirePath || r.TargetLabel == promtailPathLabel
	}
	return k
}

// decide says whether the file of m is to be read, and with which labels
// (the source's static labels added): the pod named by its directory,
// as the last list knows it (at start, the pod list kept in the data
// directory: so files are labelled at once, and while the API cannot be
// reached), gives the targets Prometheus's pod discovery makes for the
// container; the first that the rules keep, that has no __host__ other
// than this node and whose __path__ matches the file (one without
// __path__ only when no rule sets it), labels it. A pod in the kept list
// that a list since does not have was deleted while logcapturer was
// stopped: its files are read to their end with its labels. Another pod
// not known waits for a list made after the directory was first seen; if
// that list does not have it either, the file is left alone, unless it
// was read before (stored; the kept list does not have its pod): it is
// read to its end with the labels its directory names. A decision is made again after
// each list; a file decided for keeps its labels when its pod goes away.
func (k *kubeFiles) decide(t *tailer, m match, stored, startup bool) (labels []wal.Label, tail, atStartup bool) {
	dir := filepath.Dir(m.path)
	container := filepath.Base(dir)
	ns, name, uid, ok := kubepods.SplitLogDir(filepath.Base(filepath.Dir(dir)))
	if !ok {
		t.warnOnce(m.path, "kubernetes", "not in a pod log directory (<namespace>_<pod>_<uid>/<container>/); skipped")
		if k.decided[m.path] == nil {
			k.decided[m.path] = &kubeDecision{why: whyNotPodDir, since: time.Now()}
		}
		return nil, false, false
	}
	// A rotated log (read through the glob of rotated names) is read only
	// to resume it: a restart found it rotated since. One already there at
	// the start without a position is history from before logcapturer;
	// one rotated while logcapturer runs was open, and followed under its
	// new name, unless it was never read (its pod not known yet): then it
	// is read.
	pod, gen := k.d.Lookup(ns, uid)
	dec := k.decided[m.path]
	if dec != nil && dec.key != m.key {
		dec.key, dec.startup = m.key, false
	}
	if dec != nil && dec.gen == gen {
		return dec.labels, dec.tail, dec.startup
	}
	path := m.path
	if r := rotatedRE.FindStringSubmatch(filepath.Base(m.path)); r != nil {
		if !stored && (startup || dec != nil && dec.startup) {
			if dec == nil {
				dec = &kubeDecision{seenGen: gen, key: m.key, startup: true, why: whyHistory, since: time.Now()}
				k.decided[m.path] = dec
			}
			dec.gen = gen
			return nil, false, false
		}
		path = filepath.Join(dir, r[1])
	}
	if dec == nil {
		dec = &kubeDecision{seenGen: gen, key: m.key, startup: startup, since: time.Now()}
		k.decided[m.path] = dec
		if pod == nil {
			k.d.Refresh()
		}
	}
	if pod == nil && dec.tail {
		// Read before under its pod's labels (then closed idle): its pod
		// is gone, not its last lines.
		dec.gen = gen
		return dec.labels, true, dec.startup
	}
	dec.gen, dec.tail, dec.labels, dec.why = gen, false, nil, whyDropped
	var targets []map[string]string
	cached, cachedGen := k.d.Cached(ns, uid)
	switch {
	case pod != nil:
		targets = kubepods.Targets(pod, container)
	case cached != nil && gen > cachedGen:
		// In the pod list kept before the restart, not in a list since:
		// deleted while logcapturer was stopped.
		targets = kubepods.Targets(cached, container)
	case gen == dec.seenGen:
		dec.why = ""
		return nil, false, false // a list made since will tell
	case stored:
		targets = []map[string]string{kubepods.PathLabels(ns, name, uid, container)}
	default:
		dec.why = whyNoPod
		k.noPods(t)
	}
	if len(targets) > 0 {
		node, nsMeta := k.d.Metadata(ns)
		kubepods.AddMetadata(targets, node, nsMeta)
	}
	for _, tg := range targets {
		if lbls, ok := k.target(t, tg, path); ok {
			dec.tail, dec.labels, dec.why = true, lbls, ""
			break
		}
	}
	return dec.labels, dec.tail, dec.startup
}

// target relabels one target and says whether it covers the log named
// name (a rotated log's current name: __path__ globs name the current
// logs, and its lines continue that log's stream), with the file's
// labels if it does.
func (k *kubeFiles) target(t *tailer, tg map[string]string, name string) ([]wal.Label, bool) {
	out := append(make([]wal.Label, 0, len(t.src.labels)+8), t.src.labels...)
	file := wal.Label{Name: filenameLabel, Value: name}
	if len(k.rules) == 0 {
		out = append(out,
			wal.Label{Name: namespaceLabel, Value: tg[kubepods.LabelNamespace]},
			wal.Label{Name: podLabel, Value: tg[kubepods.LabelPodName]},
			wal.Label{Name: containerLabel, Value: tg[kubepods.LabelContainerName]}, file)
		return sortLabels(out), true
	}
	k.b.Reset(labels.FromMap(tg))
	if !relabel.ProcessBuilder(k.b, k.rules...) {
		return nil, false
	}
	res := k.b.Labels()
	if h := res.Get(promtailHostLabel); h != "" && h != k.d.NodeName() {
		return nil, false
	}
	p := res.Get(promtailPathLabel)
	if p == "" && k.requirePath {
		return nil, false
	}
	if p != "" {
		if !glob.Match(p, name) {
			return nil, false
		}
		if ex := res.Get(promtailPathExcludeLabel); ex != "" && glob.Match(ex, name) {
			return nil, false
		}
	}
	res.Range(func(l labels.Label) {
		if !strings.HasPrefix(l.Name, "__") && l.Value != "" {
			out = append(out, wal.Label{Name: l.Name, Value: l.Value})
		}
	})
	// Promtail's file target sets filename over the target's labels.
	return sortLabels(append(out, file)), true
}

// noPods warns, once until a list finds pods again, when the API lists no
// pod on the node while pod log directories are there: the node name
// (HOSTNAME) is most likely the pod's own name, not spec.nodeName.
func (k *kubeFiles) noPods(t *tailer) {
	if n := k.d.Pods(); n > 0 || k.warnedNoPods {
		k.warnedNoPods = k.warnedNoPods && n == 0
		return
	}
	k.warnedNoPods = true
	t.log.Warn("the Kubernetes API lists no pod on this node, yet its pod log directories are there: their files are not read; "+
		"is the node name right? (node_name, else $HOSTNAME: in a DaemonSet set HOSTNAME from spec.nodeName)",
		"node", k.d.NodeName(), "dir", filepath.Dir(filepath.Dir(filepath.Dir(t.opts.Paths[0]))))
}

// appendStatus adds the matched files it does not read, waiting or
// skipped, to a source's status (those that are open are there already).
func (k *kubeFiles) appendStatus(files []FileStatus, open map[string]*tailedFile) []FileStatus {
	for p, dec := range k.decided {
		if dec.tail || open[p] != nil {
			continue
		}
		since := dec.since.UTC()
		fs := FileStatus{Path: p, State: FileSkipped, Error: dec.why, Since: &since}
		if dec.why == "" {
			fs.State, fs.Error = FileWaiting, "its pod is not in the pods listed so far"
		}
		files = append(files, fs)
	}
	return files
}

// passedOver reports whether the file at path was decided against (or
// waits for its pod): a write to it calls for no rescan.
func (k *kubeFiles) passedOver(path string) bool {
	dec := k.decided[path]
	return dec != nil && !dec.tail
}

// forget drops the decisions of paths no longer matched.
func (k *kubeFiles) forget(matched map[string]struct{}) {
	for p := range k.decided {
		if _, ok := matched[p]; !ok {
			delete(k.decided, p)
		}
	}
}

// sortLabels sorts by name; a later label of the same name wins (relabel
// output over the static and file labels).
func sortLabels(ls []wal.Label) []wal.Label {
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	out := ls[:0]
	for _, l := range ls {
		if n := len(out); n > 0 && out[n-1].Name == l.Name {
			out[n-1] = l
			continue
		}
		out = append(out, l)
	}
	return out
}
