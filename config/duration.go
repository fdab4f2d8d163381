package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML the way time.ParseDuration
// reads it ("250ms", "5m", "1h30m"); a plain 0 is accepted too. Other bare
// numbers are errors, since their unit would be a guess.
type Duration time.Duration

// ParseDuration parses s as described for Duration.
func ParseDuration(s string) (Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("must be a duration like 250ms, got %q", s)
	}
	return Duration(d), nil
}

// String formats d as time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML implements yaml.Unmarshaler, so that a Duration can be decoded
// with yaml.Unmarshal too.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: must be a duration like 250ms", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler, writing the form String returns.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
