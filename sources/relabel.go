package sources

import (
	"slices"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// relabelCacheSize bounds the label sets a Relabel hook remembers; past it
// the cache starts again empty.
const relabelCacheSize = 1024

// relabelCacheFills is how many times the cache may fill while missing
// more often than hitting before it is turned off (each entry has its own
// labels: journald's __journal_* fields, a pushed request id).
const relabelCacheFills = 4

// Relabel returns the relabel hook of rules (a source's relabel_configs;
// StageOptions.Relabel, Deps.Relabel), or nil when there are none. The
// hook runs the rules (Prometheus's relabel package, as Promtail does) on
// the labels it is given, replaces them with the result and reports
// whether the entry is kept. The result is cached per input label set (up
// to 1,024 sets; turned off when nearly every entry has a set of its own),
// so a stream's entries cost one map lookup. The hook is safe for
// concurrent use.
func Relabel(rules []*relabel.Config) func(lbls map[string]string) (keep bool) {
	if len(rules) == 0 {
		return nil
	}
	return newRelabeler(rules).apply
}

func newRelabeler(rules []*relabel.Config) *relabeler {
	return &relabeler{rules: ownRules(rules), cache: make(map[string]relabelResult), b: labels.NewBuilder(labels.EmptyLabels())}
}

// ownRules copies rules with their name validation scheme set: for rules
// not checked by config, Prometheus's relabel panics on an unset scheme;
// Loki's label names are the legacy ones.
func ownRules(rules []*relabel.Config) []*relabel.Config {
	own := make([]*relabel.Config, len(rules))
	for i, rc := range rules {
		c := *rc
		if c.NameValidationScheme == model.UnsetValidation {
			c.NameValidationScheme = model.LegacyValidation
		}
		own[i] = &c
	}
	return own
}

type relabeler struct {
	rules []*relabel.Config

	mu           sync.Mutex
	b            *labels.Builder
	cache        map[string]relabelResult
	off          bool
	hits, misses int
	fills        int
	names        []string
	key          []byte
	in           []labels.Label
}

// relabelResult is what the rules made of one label set: nil labels and
// keep false when it was dropped.
type relabelResult struct {
	keep   bool
	labels []labels.Label
}

func (r *relabeler) apply(m map[string]string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = r.names[:0]
	for k := range m {
		r.names = append(r.names, k)
	}
	slices.Sort(r.names)
	if !r.off {
		r.key = r.key[:0]
		for _, k := range r.names {
			r.key = append(r.key, k...)
			r.key = append(r.key, 0xff)
			r.key = append(r.key, m[k]...)
			r.key = append(r.key, 0xff)
		}
		if res, ok := r.cache[string(r.key)]; ok {
			r.hits++
			return res.set(m)
		}
		r.misses++
	}
	r.in = r.in[:0]
	for _, k := range r.names {
		r.in = append(r.in, labels.Label{Name: k, Value: m[k]})
	}
	r.b.Reset(labels.New(r.in...))
	res := relabelResult{keep: relabel.ProcessBuilder(r.b, r.rules...)}
	if res.keep {
		r.b.Range(func(l labels.Label) { res.labels = append(res.labels, l) })
	}
	if !r.off {
		if len(r.cache) >= relabelCacheSize {
			r.fills++
			if r.fills >= relabelCacheFills && r.misses > r.hits {
				r.off = true
			}
			r.hits, r.misses = 0, 0
			clear(r.cache)
		}
		if !r.off {
			r.cache[string(r.key)] = res
		} else {
			r.cache = nil
		}
	}
	return res.set(m)
}

// set makes m the labels of res.
func (res relabelResult) set(m map[string]string) bool {
	if !res.keep {
		return false
	}
	clear(m)
	for _, l := range res.labels {
		m[l.Name] = l.Value
	}
	return true
}
