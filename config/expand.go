package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// expandNode replaces ${VAR} and ${VAR:-default} in every scalar value under
// n (mapping keys are left alone; comments are not values). It works on the
// parsed tree, so an expanded value is never re-read as YAML: a secret
// holding ": " or "#" stays one string. Problems name the variable, the key
// path and the line of the value; the values with problems are added to
// failed.
func expandNode(n *yaml.Node, lookup func(string) (string, bool), ps *problems, failed map[*yaml.Node]bool) {
	type item struct {
		n    *yaml.Node
		path string
	}
	stack := []item{{n, ""}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch it.n.Kind {
		case yaml.DocumentNode:
			for _, c := range it.n.Content {
				stack = append(stack, item{c, it.path})
			}
		case yaml.SequenceNode:
			for i, c := range it.n.Content {
				stack = append(stack, item{c, it.path + "[" + strconv.Itoa(i) + "]"})
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(it.n.Content); i += 2 {
				stack = append(stack, item{it.n.Content[i+1], joinKey(it.path, it.n.Content[i].Value)})
			}
		case yaml.ScalarNode:
			if !strings.Contains(it.n.Value, "$") {
				continue
			}
			v, errs := expand(it.n.Value, lookup)
			for _, msg := range errs {
				ps.add(it.n.Line, it.path, "%s", msg)
				failed[it.n] = true
			}
			it.n.Value = v
		}
		// Alias nodes point at a node that appears, and is expanded, where
		// its anchor is defined.
	}
}

// expand expands s. "$$" is a literal "$"; a "$" not followed by "{" or "$"
// is kept as is. ${VAR:-default} takes default when VAR is unset or empty.
// It returns the expanded string and a message for each problem.
func expand(s string, lookup func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var errs []string
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i+1 >= len(s) {
			b.WriteString(s)
			return b.String(), errs
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
			continue
		case '{':
		default:
			b.WriteByte('$')
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			errs = append(errs, "unterminated \"${\" (write $$ for a literal $)")
			b.WriteString(s[i:])
			return b.String(), errs
		}
		body := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(body, ":-")
		if !validEnvName(name) {
			errs = append(errs, "invalid environment variable reference \"${"+body+"}\" (use ${NAME} or ${NAME:-default}; write $$ for a literal $)")
			continue
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			b.WriteString(def)
		case ok:
			b.WriteString(v)
		default:
			errs = append(errs, "environment variable "+strconv.Quote(name)+" is not set (give a default with ${"+name+":-default})")
		}
	}
}

// validEnvName reports whether s is [A-Za-z_][A-Za-z0-9_]*.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
