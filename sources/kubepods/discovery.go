package kubepods

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults and limits of Options.
const (
	DefaultRefreshInterval = time.Minute
	// minListGap is the least time between two lists asked for by Refresh:
	// a burst of new pods costs one list.
	minListGap = time.Second
	// Backoff after a failed list: doubling from minBackoff to maxBackoff.
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// TLS is the tls section of Options: TLS as a client of the API server.
type TLS struct {
	// CAFile is a PEM bundle of CAs to trust; in a pod, default the
	// service account's ca.crt.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate and its key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name to verify the server's certificate against
	// (default: the host of api_server).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables the check of the server's certificate.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Options say which API server to ask and which pods to keep. They are the
// kubernetes section of a source of type kubernetes.
type Options struct {
	// APIServer is the API server's URL. Empty: in a pod, the cluster's
	// (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT), with the
	// service account's token and CA.
	APIServer string `yaml:"api_server"`
	// KubeconfigFile is a kubeconfig file (kubectl's): its current
	// context's server, CA, client certificate, token or tokenFile, or
	// user name and password. Not with api_server, bearer_token_file or
	// tls.
	KubeconfigFile string `yaml:"kubeconfig_file"`
	// BearerTokenFile holds the token sent on each list (read at each
	// list: the kubelet rotates it in place).
	BearerTokenFile string `yaml:"bearer_token_file"`
	TLS             TLS    `yaml:"tls"`
	// NodeName is the node whose pods are listed (fieldSelector
	// spec.nodeName). Empty: $HOSTNAME, else the host name, as Promtail.
	NodeName string `yaml:"node_name"`
	// Namespaces limit the pods to these namespaces (empty: all).
	Namespaces []string `yaml:"namespaces"`
	// OwnNamespace adds logcapturer's own namespace (in a pod: the
	// service account's namespace file) to Namespaces, as Prometheus's
	// own_namespace.
	OwnNamespace bool `yaml:"own_namespace"`
	// LabelSelector and FieldSelector are added to the list requests (the
	// API's selector syntax); FieldSelector is joined to the node's.
	LabelSelector string `yaml:"label_selector"`
	FieldSelector string `yaml:"field_selector"`
	// RefreshInterval is how often the pods are listed again, for label
	// and annotation changes; a log directory of a pod not known yet
	// asks for a list at once. Default DefaultRefreshInterval.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// AttachMetadata adds the node's and the namespaces' metadata to the
	// targets, as Prometheus's attach_metadata (the node: RBAC get on
	// nodes; namespaces: get, or list without namespaces, on namespaces).
	AttachMetadata AttachMetadata `yaml:"attach_metadata"`
	// CacheFile, when set, keeps the pods of the last good lists there
	// (written after a list that changed them) and loads them at New, so
	// that after a restart the files of the pods in it are labelled at
	// once, and while the API cannot be reached too. Not a config key: a
	// kubernetes source keeps it in the data directory.
	CacheFile string `yaml:"-"`
}

// AttachMetadata is Options.AttachMetadata.
type AttachMetadata struct {
	// Node adds __meta_kubernetes_node_name and the node's labels and
	// annotations (__meta_kubernetes_node_label_<name>, ...).
	Node bool `yaml:"node"`
	// Namespace adds the labels and annotations of the pod's namespace
	// (__meta_kubernetes_namespace_label_<name>, ...).
	Namespace bool `yaml:"namespace"`
}

// Node returns the node name the options select: NodeName, else $HOSTNAME,
// else os.Hostname (Promtail's hostname rule).
func (o *Options) Node() (string, error) {
	if o.NodeName != "" {
		return o.NodeName, nil
	}
	if h := os.Getenv("HOSTNAME"); h != "" {
		return h, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("find the node name (set node_name): %w", err)
	}
	return h, nil
}

// namespaceFile is InClusterNamespaceFile, replaced by tests.
var namespaceFile = InClusterNamespaceFile

// Discovery keeps the pods of one node, listed from the API server by one
// goroutine (run): at Start, every RefreshInterval, and soon after Refresh.
// A failed list keeps the pods of the last good one and is retried with a
// backoff; the failure is reported once when it starts and once when it
// ends (Hooks.Failing), never per retry.
type Discovery struct {
	opts   Options
	node   string
	log    *slog.Logger
	c      *client
	hooks  Hooks
	want   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// byNS are the pods of each listed namespace ("" when every
	// namespace is listed at once), as its last good list found them.
	byNS map[string]*nsPods
	gen  uint64 // good lists of any namespace so far (and cached ones)
	pods int
	// nodeMeta and nsMeta are attach_metadata's, as last fetched (or
	// cached).
	nodeMeta *ObjectMeta
	nsMeta   map[string]*ObjectMeta
	// nsKnown: the namespace's metadata (every namespace's: "") was got
	// or cached at least once.
	nsKnown map[string]bool

	// cachedAt is when the cache loaded at New was written (zero without
	// one), cached its pods by namespace; both written by New only.
	cachedAt     time.Time
	cached       map[string]*nsPods
	cachedListed int // pods listed (not gone) in it
	// cache is the goroutine's (and New's).
	cache cacheState
}

// nsPods are the pods of one namespace's last good list.
type nsPods struct {
	byUID map[string]*Pod // by UID and by config hash (static pods)
	gen   uint64          // Discovery.gen after that list
}

// Hooks receive what a Discovery's goroutine sees, from that goroutine.
// Each may be nil.
type Hooks struct {
	// Listed follows each list: the pods it found, or its error.
	Listed func(pods int, err error)
	// Failing is called when lists start failing (on, with the error)
	// and when one succeeds again (off).
	Failing func(on bool, detail string)
	// CacheFailed follows each failed write of Options.CacheFile.
	CacheFailed func()
}

// New checks the options and builds the client (reading the CA and the
// client certificate); it does not call the API server.
func New(logger *slog.Logger, opts Options, hooks Hooks) (*Discovery, error) {
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	node, err := opts.Node()
	if err != nil {
		return nil, err
	}
	c, err := newClient(&opts)
	if err != nil {
		return nil, err
	}
	if opts.OwnNamespace {
		ns, err := os.ReadFile(namespaceFile)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("own_namespace: read the pod's namespace: %w", err)
		}
		opts.Namespaces = append(slices.Clone(opts.Namespaces), strings.TrimSpace(string(ns)))
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &Discovery{opts: opts, node: node, log: logger, c: c, hooks: hooks, want: make(chan struct{}, 1), byNS: map[string]*nsPods{}, cached: map[string]*nsPods{}, nsMeta: map[string]*ObjectMeta{}, nsKnown: map[string]bool{},
		cache: cacheState{listed: map[podKey]*Pod{}, gone: map[podKey]goneEntry{}, loadedGone: map[podKey]bool{}}}
	if opts.CacheFile != "" {
		d.loadCache()
	}
	return d, nil
}

// NodeName is the node whose pods are listed.
func (d *Discovery) NodeName() string { return d.node }

// Start starts the list goroutine; Close stops it.
func (d *Discovery) Start(ctx context.Context) {
	ctx, d.cancel = context.WithCancel(ctx)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.run(ctx)
	}()
}

// Close stops the goroutine and waits for it. Safe before Start and twice.
func (d *Discovery) Close() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	d.c.close()
}

// Lookup returns the pod of namespace whose UID (or, for a static pod,
// config hash) is uid, nil if the last good list of that namespace did
// not have it, and a generation that grows with each good list of it: a
// caller that saw a directory at one generation and gets nil at a later
// one knows the API does not have that pod. A namespace that is not
// listed has the generation of the lists of the others.
func (d *Discovery) Lookup(namespace, uid string) (*Pod, uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.opts.Namespaces) == 0 {
		namespace = ""
	}
	ns := d.byNS[namespace]
	if ns == nil {
		// Not listed yet, or not a listed namespace: a later list of
		// any namespace tells "no such pod".
		return nil, d.gen
	}
	return ns.byUID[uid], ns.gen
}

// Metadata returns what attach_metadata adds to the targets of a pod of
// namespace: the node's and the namespace's metadata, each nil when not
// attached or not fetched yet.
func (d *Discovery) Metadata(namespace string) (node, ns *ObjectMeta) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nodeMeta, d.nsMeta[namespace]
}

// Generation is the number of successful lists so far (a namespace's pods
// loaded from Options.CacheFile count as one).
func (d *Discovery) Generation() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gen
}

// Pods is how many pods the last good lists found (or the cache holds).
func (d *Discovery) Pods() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pods
}

// Refresh asks for a list soon (at most one per second); it never blocks.
func (d *Discovery) Refresh() {
	select {
	case d.want <- struct{}{}:
	default:
	}
}

func (d *Discovery) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	backoff := time.Duration(0)
	failing := false
	listedOnce := false // a list of some namespace worked since New
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-d.want:
			if wait := minListGap - time.Since(last); wait > 0 && backoff == 0 {
				timer.Reset(wait)
				continue
			}
			if backoff > 0 {
				continue // the timer is set for the retry
			}
		}
		last = time.Now()
		n, listed, err := d.listAll(ctx)
		if ctx.Err() != nil {
			return
		}
		listedOnce = listedOnce || listed
		if err == nil && failing {
			// Before Listed: the source is ready again by the time it
			// reads the files this list lets it read.
			failing = false
			d.log.Info("listing the node's pods (and their metadata) from the Kubernetes API works again", "node", d.node, "pods", n)
			if d.hooks.Failing != nil {
				d.hooks.Failing(false, "")
			}
		}
		if d.hooks.Listed != nil {
			d.hooks.Listed(n, err)
		}
		if err != nil {
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			if !failing {
				failing = true
				args := []any{"api_server", d.c.base.Redacted(), "node", d.node, "err", err}
				detail := "kubernetes API: " + err.Error()
				if !d.cachedAt.IsZero() && !listedOnce {
					args = append(args, "cached_list", d.cachedAt.Format(time.RFC3339))
					detail += fmt.Sprintf("; the pod list kept at %s (%d pods) labels their files meanwhile", d.cachedAt.Format(time.RFC3339), d.cachedListed)
				}
				d.log.Warn("cannot list the node's pods (or get the node's or namespaces' metadata) from the Kubernetes API; "+
					"files of pods not known yet wait, retrying with backoff", args...)
				if d.hooks.Failing != nil {
					d.hooks.Failing(true, detail)
				}
			}
			timer.Reset(backoff)
		} else {
			backoff = 0
			timer.Reset(d.opts.RefreshInterval)
		}
		if d.opts.CacheFile != "" && listed {
			d.writeCache(time.Now())
		}
	}
}

// listAll lists the node's pods in each namespace and replaces the kept
// ones; it returns how many pods are kept, and whether any namespace was
// listed.
func (d *Discovery) listAll(ctx context.Context) (n int, listed bool, err error) {
	field := "spec.nodeName=" + d.node
	if d.opts.FieldSelector != "" {
		field += "," + d.opts.FieldSelector
	}
	nss := d.opts.Namespaces
	if len(nss) == 0 {
		nss = []string{""}
	}
	// The metadata first: a pod is never known without it (a file decided
	// without its labels would keep that decision until it is closed).
	failed := d.fetchMetadata(ctx)
	for _, ns := range nss {
		if !d.metadataKnown(ns) {
			continue // its pods wait, as Prometheus waits for its informers
		}
		// Each namespace on its own, as Prometheus's informers: one that
		// is refused (a missing Role) keeps its last pods and does not
		// hold the others back.
		pods, err := d.c.list(ctx, ns, field, d.opts.LabelSelector)
		if err != nil {
			if ns != "" {
				err = fmt.Errorf("namespace %s: %w", ns, err)
			}
			if failed == nil {
				failed = err
			}
			continue
		}
		listed = true
		byUID := indexPods(pods)
		d.mu.Lock()
		d.gen++
		d.byNS[ns] = &nsPods{byUID: byUID, gen: d.gen}
		d.mu.Unlock()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.countPods()
	return d.pods, listed, failed
}

// metadataKnown reports whether what attach_metadata asks for a pod of ns
// ("": every namespace) has been got (or cached) at least once.
func (d *Discovery) metadataKnown(ns string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.opts.AttachMetadata.Node && d.nodeMeta == nil {
		return false
	}
	return !d.opts.AttachMetadata.Namespace || d.nsKnown[ns]
}

// fetchMetadata gets what attach_metadata asks for; what cannot be
// fetched keeps its last value, and the first error is returned. A
// configured namespace the API does not have (404) has no metadata, as in
// Prometheus, and is no error.
func (d *Discovery) fetchMetadata(ctx context.Context) error {
	var failed error
	if d.opts.AttachMetadata.Node {
		node, err := d.c.node(ctx, d.node)
		if err != nil {
			failed = err
		} else {
			d.mu.Lock()
			d.nodeMeta = node
			d.mu.Unlock()
		}
	}
	if !d.opts.AttachMetadata.Namespace {
		return failed
	}
	if len(d.opts.Namespaces) == 0 {
		all, err := d.c.namespaces(ctx)
		if err != nil {
			return cmp.Or(failed, err)
		}
		d.mu.Lock()
		d.nsMeta, d.nsKnown[""] = all, true // deleted namespaces go
		d.mu.Unlock()
		return failed
	}
	for _, ns := range d.opts.Namespaces {
		m, err := d.c.namespace(ctx, ns)
		var nf *notFoundError
		switch {
		case errors.As(err, &nf):
			m = nil // not there (yet): no metadata
		case err != nil:
			failed = cmp.Or(failed, err)
			continue
		}
		d.mu.Lock()
		if m == nil {
			delete(d.nsMeta, ns)
		} else {
			d.nsMeta[ns] = m
		}
		d.nsKnown[ns] = true
		d.mu.Unlock()
	}
	return failed
}

// countPods sets d.pods from d.byNS. d.mu is held.
func (d *Discovery) countPods() {
	n := 0
	for _, ns := range d.byNS {
		for uid, p := range ns.byUID {
			if uid == p.UID {
				n++
			}
		}
	}
	d.pods = n
}
