package loki

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/wal"
)

// SanitizeName returns the Loki label name a block label is sent under, or
// "" when the label is not sent. The rule:
//
//  1. every rune outside [a-zA-Z0-9_] (and every byte of invalid UTF-8)
//     becomes one '_';
//  2. a name that starts with a digit gets a '_' prefix;
//  3. a name that is then empty or starts with "__" is not sent ("__"
//     names are internal, as in Prometheus relabelling).
//
// A valid name is returned as is, without allocating.
func SanitizeName(name string) string {
	if validName(name) {
		if strings.HasPrefix(name, "__") {
			return ""
		}
		return name
	}
	if name == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(name) + 1)
	if c := name[0]; c >= '0' && c <= '9' {
		b.WriteByte('_')
	}
	for _, r := range name { // invalid UTF-8 yields RuneError once per bad byte
		if r < utf8.RuneSelf && nameChar(byte(r)) {
			b.WriteByte(byte(r))
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if strings.HasPrefix(s, "__") {
		return ""
	}
	return s
}

func nameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*.
func validName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameChar(s[i]) {
			return false
		}
	}
	return true
}

// SanitizeValue returns a label or structured metadata value as sent: invalid
// UTF-8 sequences are replaced by U+FFFD. A valid value is returned as is.
func SanitizeValue(v string) string {
	if utf8.ValidString(v) {
		return v
	}
	return strings.ToValidUTF8(v, "\uFFFD")
}

// AppendLabelString appends the Loki stream selector of ls, which must be
// sanitised and sorted: {a="x", b="y\"z"}. Values are quoted as Go (and
// LogQL's lexer) quote strings: quotes, backslashes, newlines and other
// non-printable runes are escaped.
func AppendLabelString(dst []byte, ls []wal.Label) []byte {
	dst = append(dst, '{')
	for i, l := range ls {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, l.Name...)
		dst = append(dst, '=')
		dst = strconv.AppendQuote(dst, l.Value)
	}
	return append(dst, '}')
}

// labelSource ranks a candidate label when two resolve to one name.
type labelSource uint8

const (
	fromBlockExact     labelSource = iota // a block label whose name was valid
	fromBlockSanitised                    // a block label renamed by SanitizeName
	fromStatic                            // Options.Labels
)

type candidate struct {
	wal.Label
	src labelSource
}

// labelSet turns one block's labels into a stream's labels and its
// entries' structured metadata. It reuses its slices across calls.
type labelSet struct {
	cands  []candidate
	stream []wal.Label
	meta   []wal.Label
	key    []byte // tenant "\xff" selector
	sel    int    // the selector is key[sel:]
}

// build resolves an entry's labels with the static labels (sanitised and
// sorted by New), moves the structured-metadata names out, and renders
// the stream key: the tenant (the value of wal.TenantLabel, else
// defTenant), a 0xff byte (which neither contains) and the selector.
// Precedence on a name clash: a label whose name was already valid, then a
// sanitised label, then a static label. Labels with empty values are
// absent, as in Prometheus. A stream left with no labels gets
// source=<block source> (Loki rejects a stream without labels).
func (s *labelSet) build(labels []wal.Label, source string, static []wal.Label, metaNames []string, defTenant string) {
	s.cands = s.cands[:0]
	tenant := defTenant
	for _, l := range labels {
		if l.Name == wal.TenantLabel && l.Value != "" {
			tenant = SanitizeValue(l.Value)
		}
		name := SanitizeName(l.Name)
		if name == "" || l.Value == "" {
			continue
		}
		src := fromBlockExact
		if name != l.Name {
			src = fromBlockSanitised
		}
		s.cands = append(s.cands, candidate{wal.Label{Name: name, Value: SanitizeValue(l.Value)}, src})
	}
	for _, l := range static {
		s.cands = append(s.cands, candidate{l, fromStatic})
	}
	sortCandidates(s.cands)
	s.stream, s.meta = s.stream[:0], s.meta[:0]
	for i, c := range s.cands {
		if i > 0 && s.cands[i-1].Name == c.Name {
			continue
		}
		if contains(metaNames, c.Name) {
			s.meta = append(s.meta, c.Label)
		} else {
			s.stream = append(s.stream, c.Label)
		}
	}
	if len(s.stream) == 0 {
		src := SanitizeValue(source)
		if src == "" {
			src = "unknown"
		}
		s.stream = append(s.stream, wal.Label{Name: "source", Value: src})
	}
	s.key = append(append(s.key[:0], tenant...), 0xff)
	s.sel = len(s.key)
	s.key = AppendLabelString(s.key, s.stream)
}

// sortCandidates is an insertion sort by (name, source): label sets are
// small and usually sorted already, and it does not allocate.
func sortCandidates(c []candidate) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && less(c[j], c[j-1]); j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

func less(a, b candidate) bool {
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.src < b.src
}

func contains(names []string, n string) bool {
	for _, m := range names {
		if m == n {
			return true
		}
	}
	return false
}

func sameLabels(a, b []wal.Label) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
