package promset

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Set is collectors registered together. Its methods are not safe for
// concurrent use: the component that owns it registers it while it opens
// and unregisters it while it closes.
type Set struct {
	reg prometheus.Registerer
	cs  []prometheus.Collector
}

// Register registers every collector on reg, or none: on an error the
// ones already registered are unregistered again, and the error names
// what (the owner, e.g. `source "app"`). A nil reg registers nothing and
// returns an empty Set.
func Register(reg prometheus.Registerer, what string, cs ...prometheus.Collector) (*Set, error) {
	if reg == nil {
		return &Set{}, nil
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, r := range cs[:i] {
				reg.Unregister(r)
			}
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register metrics of %s: one of this name is registered already: %w", what, err)
			}
			return nil, fmt.Errorf("register metrics of %s: %w", what, err)
		}
	}
	return &Set{reg: reg, cs: cs}, nil
}

// Unregister unregisters the set; the collectors keep their values. Safe
// on a nil Set and more than once.
func (s *Set) Unregister() {
	if s == nil || s.reg == nil {
		return
	}
	for _, c := range s.cs {
		s.reg.Unregister(c)
	}
	s.reg, s.cs = nil, nil
}
