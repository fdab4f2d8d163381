package lokipush

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/wal"
)

// parseLabels parses a stream's labels as Loki writes them in a protobuf
// push ({name="value", ...}; values are Go-quoted strings) and checks
// them as Loki does: every name matches [a-zA-Z_][a-zA-Z0-9_]*, no name
// twice, values valid UTF-8. The error names the label.
func parseLabels(s string) ([]wal.Label, error) {
	p := labelParser{s: s}
	p.space()
	if !p.eat('{') {
		return nil, fmt.Errorf("labels %q: must start with '{'", short(s))
	}
	var ls []wal.Label
	for {
		p.space()
		if p.eat('}') {
			break
		}
		if len(ls) > 0 {
			if !p.eat(',') {
				return nil, fmt.Errorf("labels %q: expected ',' or '}' at offset %d", short(s), p.i)
			}
			p.space()
			if p.eat('}') { // a trailing comma, as the Prometheus parser allows
				break
			}
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != '=' && p.s[p.i] != ',' && p.s[p.i] != '}' && p.s[p.i] != ' ' {
			p.i++
		}
		name := p.s[start:p.i]
		if err := checkName(name); err != nil {
			return nil, err
		}
		p.space()
		if !p.eat('=') {
			return nil, fmt.Errorf("labels %q: label %q has no '=' and value", short(s), name)
		}
		p.space()
		val, err := p.quoted()
		if err != nil {
			return nil, fmt.Errorf("labels %q: value of label %q: %v", short(s), name, err)
		}
		ls = append(ls, wal.Label{Name: name, Value: val})
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("labels %q: unexpected text after '}'", short(s))
	}
	return ls, checkSet(ls)
}

// checkName reports a label name Loki refuses.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("invalid label name \"\": empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return fmt.Errorf("invalid label name %q: must match [a-zA-Z_][a-zA-Z0-9_]*", short(name))
	}
	return nil
}

// checkSet sorts ls by name and reports a name given twice or a value
// that is not UTF-8.
func checkSet(ls []wal.Label) error {
	slices.SortStableFunc(ls, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	for i := range ls {
		if i > 0 && ls[i].Name == ls[i-1].Name {
			return fmt.Errorf("duplicate label name %q", ls[i].Name)
		}
		if !utf8.ValidString(ls[i].Value) {
			return fmt.Errorf("label %q: value is not valid UTF-8", ls[i].Name)
		}
	}
	return nil
}

type labelParser struct {
	s string
	i int
}

func (p *labelParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *labelParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// quoted reads a double-quoted string with Go escapes.
func (p *labelParser) quoted() (string, error) {
	if !p.eat('"') {
		return "", fmt.Errorf("must be a double-quoted string")
	}
	start := p.i - 1
	esc := false
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			p.i++
			raw := p.s[start:p.i]
			if !strings.Contains(raw, `\`) {
				return raw[1 : len(raw)-1], nil
			}
			v, err := strconv.Unquote(raw)
			if err != nil {
				return "", fmt.Errorf("bad escape in %s", short(raw))
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("unterminated string")
}

// short cuts s for an error message.
func short(s string) string {
	if len(s) <= 200 {
		return s
	}
	return s[:200] + "..."
}

// formatLabels writes ls as {a="b", c="d"} for messages.
func formatLabels(ls []wal.Label) string {
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
