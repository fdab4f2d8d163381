package promtail

import "strings"

// expandEnv expands s as Promtail's -config.expand-env does (drone/envsubst
// v1.0.3): ${VAR} and ${VAR:-default} (default when VAR is unset or
// empty); an unset variable is empty. "$$" is a "$"; a "$" before
// anything else is kept, $VAR too (envsubst expands only braces). It
// returns a message for each reference it does not take: malformed,
// another of envsubst's forms (${VAR=x}, ${#VAR}, ...) or a nested one.
// envsubst also reads "\\" as "\" and "\/" as "/" in all the file's
// text; that is not done here (Promtail without the flag does not: which
// one ran cannot be told), the caller notes such values.
func expandEnv(s string, lookup func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var errs []string
	walkRefs(s, func(lit string) { b.WriteString(lit) }, func(name, def string, hasDef bool) {
		v, _ := lookup(name)
		if v == "" && hasDef {
			v = def
		}
		b.WriteString(v)
	}, func(msg string) { errs = append(errs, msg) })
	return b.String(), errs
}

// keepRefs rewrites s, as written, into logcapturer's syntax with the same
// meaning: every reference becomes ${VAR:-default} (an unset variable is
// empty, as in Promtail) and a literal "$" becomes "$$".
func keepRefs(s string) string {
	var b, lit strings.Builder
	walkRefs(s, func(l string) { lit.WriteString(l) }, func(name, def string, _ bool) {
		// A literal "$" right before the reference is followed by "{".
		e := escape(lit.String() + "{")
		b.WriteString(e[:len(e)-1])
		lit.Reset()
		b.WriteString("${" + name + ":-" + def + "}")
	}, func(string) {})
	b.WriteString(escape(lit.String()))
	return b.String()
}

// walkRefs splits s into literal text and variable references.
func walkRefs(s string, lit func(string), ref func(name, def string, hasDef bool), bad func(string)) {
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i+1 >= len(s) {
			lit(s)
			return
		}
		lit(s[:i])
		switch c := s[i+1]; {
		case c == '$':
			lit("$")
			s = s[i+2:]
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				bad("unterminated \"${\" (write $$ for a literal $)")
				lit(s[i:])
				return
			}
			body := s[i+2 : i+end]
			s = s[i+end+1:]
			name, def, hasDef := strings.Cut(body, ":-")
			if strings.Contains(body, "${") {
				bad("nested reference \"${" + body + "}\": write the default as plain text")
				continue
			}
			if !validName(name) {
				bad("invalid environment variable reference \"${" + body + "}\"")
				continue
			}
			ref(name, def, hasDef)
		default:
			lit("$")
			s = s[i+1:]
		}
	}
}

func validName(s string) bool {
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
