package stages

import (
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// optionError is a problem with one option key of a stage, returned by
// the constructors that the stages' tests call directly.
type optionError struct {
	Key string // the option's key, maybe with an index: fallback_formats[1]
	Msg string
}

func (e *optionError) Error() string { return e.Key + ": " + e.Msg }

func optErr(key, msg string) error { return &optionError{Key: key, Msg: msg} }

// failOption reports err from a stage's constructor as a problem at the
// option's key and line.
func (p *parser) failOption(n *yaml.Node, key string, line int, err error) {
	var oe *optionError
	if !errors.As(err, &oe) {
		p.fail(line, key, "%v", err)
		return
	}
	p.fail(keyLine(n, oe.Key, line), key+"."+oe.Key, "%s", oe.Msg)
}

// keyLine returns the line of the value at path (keys joined with ".",
// maybe with an index: "lines.config.action", "fallback_formats[1]") in
// the mapping n, or of the deepest part of it that exists; def if none.
func keyLine(n *yaml.Node, path string, def int) int {
	line := def
	if r := config.ResolveAlias(n); r != nil && r.Kind == yaml.MappingNode {
		line = r.Line
	}
	for _, part := range strings.Split(path, ".") {
		part, _, _ = strings.Cut(part, "[")
		n = config.ResolveAlias(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				next = n.Content[i+1]
				line = next.Line
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}
