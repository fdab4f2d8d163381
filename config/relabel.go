package config

import (
	"regexp"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v3"
)

// relabelKeys are the keys of one relabel_configs rule (Prometheus's).
var relabelKeys = []string{"source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"}

// relabelConfigs decodes a relabel_configs list: Prometheus relabel rules
// (every action of github.com/prometheus/prometheus/model/relabel), each
// checked as Prometheus checks it. A regex that does not compile is a
// problem at its own line.
func (d *decoder) relabelConfigs(out *[]*relabel.Config) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		rules := []*relabel.Config{}
		d.list(n, path, func(item *yaml.Node, ip string) {
			ok := true
			fields := make([]field, 0, len(relabelKeys))
			for _, k := range relabelKeys {
				fields = append(fields, field{k, func(v *yaml.Node, kp string) {
					if k != "regex" {
						return
					}
					s := d.scalar(v, kp, "a regular expression")
					if s == nil {
						ok = false
						return
					}
					// Prometheus anchors the expression this way.
					if _, err := regexp.Compile("^(?s:" + s.Value + ")$"); err != nil {
						d.fail(s.Line, kp, "does not compile: %v", err)
						ok = false
					}
				}})
			}
			before := len(d.ps.list)
			if !d.mapping(item, ip, fields) || !ok || len(d.ps.list) > before {
				return
			}
			var rc relabel.Config
			if err := ResolveAlias(item).Decode(&rc); err != nil {
				d.fail(item.Line, ip, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
				return
			}
			if err := rc.Validate(model.LegacyValidation); err != nil {
				d.fail(item.Line, ip, "%v", err)
				return
			}
			rules = append(rules, &rc)
		})
		*out = rules
	}
}

// sameRelabel reports whether two relabel_configs lists are the same rules.
func sameRelabel(a, b []*relabel.Config) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Separator != y.Separator || x.Modulus != y.Modulus || x.TargetLabel != y.TargetLabel ||
			x.Replacement != y.Replacement || x.Action != y.Action || x.Regex.String() != y.Regex.String() ||
			len(x.SourceLabels) != len(y.SourceLabels) {
			return false
		}
		for j := range x.SourceLabels {
			if x.SourceLabels[j] != y.SourceLabels[j] {
				return false
			}
		}
	}
	return true
}
