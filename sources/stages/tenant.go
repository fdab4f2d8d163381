package stages

import "go.yaml.in/yaml/v3"

// tenantOptions are the tenant stage's options: exactly one of them.
type tenantOptions struct {
	Source string `yaml:"source"`
	Label  string `yaml:"label"`
	Value  string `yaml:"value"`
}

// tenantStage sets the reserved tenant label (TenantLabel) from an
// extracted value, a label or a fixed value. An empty result leaves the
// tenant as it was.
type tenantStage struct {
	o      tenantOptions
	failed func(stage, reason string)
}

func parseTenant(p *parser, n *yaml.Node, key string, line int) Stage {
	var o tenantOptions
	if !p.decode(n, key, line, "tenant", &o) {
		return nil
	}
	set := 0
	for _, v := range []string{o.Source, o.Label, o.Value} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		p.fail(optionLine(n, "", line), key, "set exactly one of source, label or value (got %d)", set)
		return nil
	}
	return &tenantStage{o: o, failed: p.env.Failed}
}

// Process implements Stage.
func (s *tenantStage) Process(e *Entry, next func(*Entry)) {
	var id string
	switch {
	case s.o.Source != "":
		v, ok := e.Extracted[s.o.Source]
		if !ok {
			s.failed("tenant", "source_missing")
			break
		}
		if id, ok = toString(v); !ok {
			s.failed("tenant", "source_not_a_string")
		}
	case s.o.Label != "":
		id = e.Labels[s.o.Label]
	default:
		id = s.o.Value
	}
	if id != "" {
		e.Labels[TenantLabel] = id
	}
	next(e)
}
