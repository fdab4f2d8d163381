package config

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// YAML node helpers for packages that decode their own part of the file
// from a yaml.Node (sources/stages' pipeline_stages, config/promtail) and
// must read it as this package does: aliases followed the same number of
// hops, null the same way, the same words for what a node is and the same
// "did you mean" rule. They are safe for concurrent use; none panics on any
// node, nil included.

// maxAliasHops bounds an alias chain (an alias of an alias ...).
const maxAliasHops = 16

// ResolveAlias follows aliases from n. It returns nil for a broken alias
// chain or one of more than 16 hops, and nil for nil.
func ResolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i == maxAliasHops {
			return nil
		}
		n = n.Alias
	}
	return n
}

// IsNull reports whether n (aliases followed) is absent, a broken alias or
// a null scalar ("", "~", "null").
func IsNull(n *yaml.Node) bool {
	n = ResolveAlias(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// NodeKind names what n (aliases followed) is, for a message such as
// "must be a string, got a list": "a mapping", "a list", "a broken alias",
// or a scalar's value, quoted.
func NodeKind(n *yaml.Node) string {
	switch n = ResolveAlias(n); {
	case n == nil:
		return "a broken alias"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}

// Suggest returns the name of names closest to key, for "did you mean":
// one within edit distance 2 that is at most half the length of key (two
// edits make a guess at a long key but nonsense of "a"), the first of the
// closest; "" when none is, or when key is longer than 64 bytes.
func Suggest(key string, names []string) string {
	if len(key) > 64 {
		return ""
	}
	best, bestDist := "", 3
	for _, n := range names {
		if dist := editDistance(key, n); dist < bestDist && 2*dist <= len(key) {
			best, bestDist = n, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
