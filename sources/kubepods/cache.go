package kubepods

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/internal/atomicfile"
)

// cacheVersion is the version of the cache file's layout.
const cacheVersion = 1

// GoneRetention is how long a pod that left the lists stays in the cache
// file: a restart in that time still labels the rest of its files with
// its labels (the kubelet removes a deleted pod's logs soon after).
const GoneRetention = time.Hour

// cacheFile is the JSON of Options.CacheFile.
type cacheFile struct {
	Version int `json:"version"`
	// Query names the server, node, namespaces and selectors listed: a
	// cache of another query is not used.
	Query string `json:"query"`
	// Written is when the file was written (UTC).
	Written time.Time `json:"written"`
	// Pods is cachedPods' JSON.
	Pods json.RawMessage `json:"pods"`
}

// cachedPods are the pods of the last good list of each namespace ("" when
// every namespace is listed at once), sorted by UID, and those that left
// the lists in the last GoneRetention.
type cachedPods struct {
	Listed map[string][]*Pod      `json:"listed"`
	Gone   map[string][]goneEntry `json:"gone,omitempty"`
	// Node and NamespaceMeta are attach_metadata's.
	Node          *ObjectMeta            `json:"node,omitempty"`
	NamespaceMeta map[string]*ObjectMeta `json:"namespace_metadata"`
}

// goneEntry is a pod that left the lists, and since when.
type goneEntry struct {
	Pod   *Pod      `json:"pod"`
	Since time.Time `json:"since"`
}

// podKey names a pod of a namespace in cacheState.
type podKey struct{ ns, uid string }

// cacheState is what the goroutine knows of the cache file: the listed
// pods it holds and the gone ones; loadedGone, the pods that were gone in
// the file loaded at New (they stay in d.cached, and in d.byNS for a
// namespace not listed since, but are never listed again).
type cacheState struct {
	listed     map[podKey]*Pod
	gone       map[podKey]goneEntry
	loadedGone map[podKey]bool
	written    []byte // the cachedPods JSON in the file
	failing    bool   // the last write failed
}

// maxCacheBytes bounds the cache file read at New: a larger one is not
// used (a node's pods take a few hundred KiB).
const maxCacheBytes = 64 << 20

// query names what d lists, for cacheFile.Query.
func (d *Discovery) query() string {
	nss := slices.Clone(d.opts.Namespaces)
	slices.Sort(nss)
	return fmt.Sprintf("server=%s node=%s namespaces=%s label_selector=%s field_selector=%s attach_metadata=%t,%t",
		d.c.base.Redacted(), d.node, strings.Join(slices.Compact(nss), ","), d.opts.LabelSelector, d.opts.FieldSelector,
		d.opts.AttachMetadata.Node, d.opts.AttachMetadata.Namespace)
}

// loadCache installs the pods of Options.CacheFile, listed and gone alike,
// as the last good lists of their namespaces, so that Lookup knows them
// before the first list (and while lists fail), and keeps them for
// Cached. A missing file is no cache; a file that cannot be read or is of
// another query is logged and ignored.
func (d *Discovery) loadCache() {
	path := d.opts.CacheFile
	removeTemps(path)
	data, err := readLimited(path, maxCacheBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var cf cacheFile
	var cp cachedPods
	if err == nil {
		if err = json.Unmarshal(data, &cf); err == nil && cf.Version != cacheVersion {
			err = fmt.Errorf("version %d, want %d", cf.Version, cacheVersion)
		}
		if err == nil {
			err = json.Unmarshal(cf.Pods, &cp)
		}
	}
	if err != nil {
		d.log.Warn("the cached pod list cannot be read; it is not used (it is written again after the next list)", "file", path, "err", err)
		return
	}
	if q := d.query(); cf.Query != q {
		d.log.Info("the cached pod list is of another query (api server, node, namespaces or selectors changed); not used",
			"file", path, "cached", cf.Query, "now", q)
		return
	}
	listed := func(ns string) bool {
		return len(d.opts.Namespaces) == 0 && ns == "" || len(d.opts.Namespaces) > 0 && slices.Contains(d.opts.Namespaces, ns)
	}
	all := map[string][]*Pod{}
	for ns, pods := range cp.Listed {
		if !listed(ns) {
			continue
		}
		if all[ns] == nil {
			all[ns] = []*Pod{} // a namespace listed without pods is restored too
		}
		for _, p := range pods {
			if p != nil && p.UID != "" {
				d.cache.listed[podKey{ns, p.UID}] = p
				all[ns] = append(all[ns], p)
			}
		}
	}
	for ns, gone := range cp.Gone {
		if !listed(ns) {
			continue
		}
		for _, g := range gone {
			if g.Pod != nil && g.Pod.UID != "" && d.cache.listed[podKey{ns, g.Pod.UID}] == nil {
				d.cache.gone[podKey{ns, g.Pod.UID}] = g
				d.cache.loadedGone[podKey{ns, g.Pod.UID}] = true
				all[ns] = append(all[ns], g.Pod)
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.opts.AttachMetadata.Node && cp.Node != nil {
		d.nodeMeta = cp.Node
	}
	if d.opts.AttachMetadata.Namespace && cp.NamespaceMeta != nil {
		for ns, m := range cp.NamespaceMeta {
			if m != nil {
				d.nsMeta[ns] = m
			}
		}
		d.nsKnown[""] = true
		for _, ns := range d.opts.Namespaces {
			d.nsKnown[ns] = d.nsMeta[ns] != nil
		}
	}
	for ns, pods := range all {
		d.gen++
		d.byNS[ns] = &nsPods{byUID: indexPods(pods), gen: d.gen}
		d.cached[ns] = d.byNS[ns]
	}
	d.countPods()
	d.cachedListed = len(d.cache.listed)
	d.cachedAt = cf.Written
	d.cache.written = cf.Pods
	d.log.Debug("pods loaded from the cached list", "file", path, "pods", d.pods, "written", cf.Written)
}

// Cached returns the pod of namespace whose UID (or config hash) is uid
// as the cache loaded at New had it, and the generation it was loaded at
// (nil, 0 without one): when Lookup gives nil at a later generation, the
// pod was deleted while logcapturer was stopped (or had left the lists in
// the GoneRetention before), and its files are still to be read to their
// end with its labels.
func (d *Discovery) Cached(namespace, uid string) (*Pod, uint64) {
	if len(d.opts.Namespaces) == 0 {
		namespace = ""
	}
	ns := d.cached[namespace] // written by New only
	if ns == nil {
		return nil, 0
	}
	return ns.byUID[uid], ns.gen
}

// writeCache writes the pods kept, and those that left the lists in the
// last GoneRetention, to Options.CacheFile when they differ from what it
// holds. A failure is logged when it starts and when writes work again;
// it costs only the cache's use after a restart.
func (d *Discovery) writeCache(now time.Time) {
	c := &d.cache
	listed := map[podKey]*Pod{}
	byNS := map[string][]*Pod{}
	d.mu.Lock()
	for ns, p := range d.byNS {
		pods := make([]*Pod, 0, len(p.byUID))
		for uid, pod := range p.byUID {
			if uid == pod.UID && !(c.loadedGone[podKey{ns, uid}] && d.cached[ns] == p) { // not the entry by config hash, nor a gone one loaded
				pods = append(pods, pod)
				listed[podKey{ns, uid}] = pod
			}
		}
		slices.SortFunc(pods, func(a, b *Pod) int { return strings.Compare(a.UID, b.UID) })
		byNS[ns] = pods
	}
	node := d.nodeMeta
	var nsMeta map[string]*ObjectMeta // null: not attached, or not got yet
	if d.opts.AttachMetadata.Namespace && len(d.nsKnown) > 0 {
		nsMeta = maps.Clone(d.nsMeta)
	}
	d.mu.Unlock()
	for k, p := range c.listed {
		if listed[k] == nil {
			if _, ok := c.gone[k]; !ok {
				c.gone[k] = goneEntry{Pod: p, Since: now.UTC()}
			}
		}
	}
	c.listed = listed
	gone := map[string][]goneEntry{}
	for k, g := range c.gone {
		if listed[k] != nil || now.Sub(g.Since) > GoneRetention {
			delete(c.gone, k)
			continue
		}
		gone[k.ns] = append(gone[k.ns], g)
	}
	for _, gs := range gone {
		slices.SortFunc(gs, func(a, b goneEntry) int { return strings.Compare(a.Pod.UID, b.Pod.UID) })
	}
	pods, err := json.Marshal(cachedPods{Listed: byNS, Gone: gone, Node: node, NamespaceMeta: nsMeta})
	if err == nil && bytes.Equal(pods, c.written) {
		return
	}
	var data []byte
	if err == nil {
		data, err = json.Marshal(cacheFile{Version: cacheVersion, Query: d.query(), Written: now.UTC(), Pods: pods})
	}
	if err == nil {
		err = d.mkCacheDir()
	}
	if err == nil {
		err = atomicfile.Write(d.opts.CacheFile, data, 0o600)
	}
	if err != nil {
		if d.hooks.CacheFailed != nil {
			d.hooks.CacheFailed()
		}
		if !c.failing {
			c.failing = true
			d.log.Warn("cannot keep the pod list on disk; after a restart while the API cannot be reached, the files wait for a list",
				"file", d.opts.CacheFile, "err", err)
		}
		return
	}
	if c.failing {
		c.failing = false
		d.log.Info("the pod list is kept on disk again", "file", d.opts.CacheFile)
	}
	c.written = pods
}

// mkCacheDir creates the cache file's directory, durably, if it is not
// there.
func (d *Discovery) mkCacheDir() error {
	dir := filepath.Dir(d.opts.CacheFile)
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dir))
}

// indexPods indexes pods by UID and, for the mirror pod of a static pod,
// by its config hash too.
func indexPods(pods []*Pod) map[string]*Pod {
	byUID := make(map[string]*Pod, len(pods))
	for _, p := range pods {
		if p == nil || p.UID == "" {
			continue
		}
		byUID[p.UID] = p
		if h := p.Annotations[configHashAnnotation]; h != "" && h != p.UID {
			if _, taken := byUID[h]; !taken {
				byUID[h] = p
			}
		}
	}
	return byUID
}

// readLimited reads the file at path, refusing one of more than limit
// bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("larger than %d MiB", limit>>20)
	}
	return data, err
}

// removeTemps removes the temporary files a write of path that died before
// its rename left (atomicfile's ".<name>.*").
func removeTemps(path string) {
	olds, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".*"))
	for _, o := range olds {
		_ = os.Remove(o)
	}
}
