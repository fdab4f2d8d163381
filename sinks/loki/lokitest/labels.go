package lokitest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Label is one stream label or structured metadata pair.
type Label struct{ Name, Value string }

// ParseLabels parses a stream selector as Loki's push path does
// (syntax.ParseLabels: LogQL's lexer, Go string escapes), but strictly: it
// also requires what the loki sink promises, so a request that passes here
// is one Loki accepts for syntax:
//
//   - at least one label; names match [a-zA-Z_][a-zA-Z0-9_]* and do not
//     start with "__";
//   - only the = matcher, values in double quotes, non-empty, valid UTF-8
//     after unquoting;
//   - names sorted and unique.
func ParseLabels(s string) ([]Label, error) {
	in := s
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("labels %q: want {name=\"value\", ...}", in)
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	if s == "" {
		return nil, fmt.Errorf("labels %q: at least one label pair is required per stream", in)
	}
	var out []Label
	for {
		i := strings.IndexByte(s, '=')
		if i < 0 {
			return nil, fmt.Errorf("labels %q: missing = after %q", in, s)
		}
		name := strings.TrimSpace(s[:i])
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("labels %q: %w", in, err)
		}
		s = strings.TrimLeft(s[i+1:], " \t\n")
		q, err := strconv.QuotedPrefix(s)
		if err != nil || q[0] != '"' {
			return nil, fmt.Errorf("labels %q: value of %s is not a double-quoted string", in, name)
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			return nil, fmt.Errorf("labels %q: value of %s: %w", in, name, err)
		}
		if v == "" {
			return nil, fmt.Errorf("labels %q: %s has an empty value", in, name)
		}
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("labels %q: value of %s is not valid UTF-8", in, name)
		}
		if n := len(out); n > 0 && out[n-1].Name >= name {
			return nil, fmt.Errorf("labels %q: %s after %s: names must be sorted and unique", in, name, out[n-1].Name)
		}
		out = append(out, Label{name, v})
		s = strings.TrimSpace(s[len(q):])
		if s == "" {
			return out, nil
		}
		if s[0] != ',' {
			return nil, fmt.Errorf("labels %q: unexpected %q after %s", in, s, name)
		}
		s = strings.TrimSpace(s[1:])
	}
}

func checkName(name string) error {
	if name == "" {
		return errors.New("empty label name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return fmt.Errorf("invalid label name %q", name)
		}
	}
	if strings.HasPrefix(name, "__") {
		return fmt.Errorf("label name %q is reserved", name)
	}
	return nil
}

// Labels renders ls as the loki sink does, for comparisons in tests.
func Labels(ls ...Label) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}
