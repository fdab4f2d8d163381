package stages

import (
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"
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
	opt, _, _ := strings.Cut(oe.Key, "[")
	opt, _, _ = strings.Cut(opt, ".")
	p.fail(optionLine(n, opt, line), key+"."+oe.Key, "%s", oe.Msg)
}
