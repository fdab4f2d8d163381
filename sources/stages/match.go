package stages

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// matchOptions are the match stage's options.
type matchOptions struct {
	Selector          string    `yaml:"selector"`
	PipelineName      *string   `yaml:"pipeline_name"`
	Action            string    `yaml:"action"`
	DropCounterReason string    `yaml:"drop_counter_reason"`
	Stages            yaml.Node `yaml:"stages"`
}

// matchStage runs its nested stages (action keep) on the entries its
// selector selects, or drops them (action drop). The nested pipeline
// starts by copying the entry's labels into the extracted map, as
// Promtail's does.
type matchStage struct {
	sel      *Selector
	drop     bool
	reason   string
	name     string
	pipeline *Pipeline
	env      Env
}

func parseMatch(p *parser, n *yaml.Node, key string, line int) Stage {
	var o matchOptions
	if !p.decode(n, key, line, "match", &o) {
		return nil
	}
	s := &matchStage{reason: "match_stage", env: p.env}
	if o.DropCounterReason != "" {
		s.reason = o.DropCounterReason
	}
	if o.PipelineName != nil {
		if *o.PipelineName == "" {
			p.fail(optionLine(n, "pipeline_name", line), key+".pipeline_name", "may be left out but not empty")
		}
		s.name = *o.PipelineName
	}
	if o.Selector == "" {
		p.fail(optionLine(n, "selector", line), key+".selector", "is required: a LogQL stream selector such as {app=\"api\"} |= \"error\"")
	} else {
		sel, err := ParseSelector(o.Selector)
		if err != nil {
			p.fail(optionLine(n, "selector", line), key+".selector", "%v", err)
		}
		s.sel = sel
	}
	hasStages := !config.IsNull(&o.Stages) && o.Stages.Kind != 0
	switch o.Action {
	case "", "keep":
		if !hasStages {
			p.fail(optionLine(n, "stages", line), key+".stages", "a match stage with action keep needs stages")
		}
	case "drop":
		s.drop = true
		if hasStages {
			p.fail(optionLine(n, "stages", line), key+".stages", "a match stage with action drop cannot have stages")
		}
	default:
		p.fail(optionLine(n, "action", line), key+".action", "must be keep or drop, got %q", o.Action)
	}
	if !s.drop && hasStages {
		if p.depth >= maxNesting {
			p.fail(optionLine(n, "stages", line), key+".stages", "match stages nested too deeply")
			return nil
		}
		p.depth++
		s.pipeline = p.pipeline(&o.Stages, key+".stages", false)
		p.depth--
	}
	return s
}

// Process implements Stage.
func (s *matchStage) Process(e *Entry, next func(*Entry)) {
	if !s.sel.Matches(e.Labels, e.Line) {
		next(e)
		return
	}
	if s.drop {
		s.env.Dropped(s.reason)
		return
	}
	s.pipeline.Process(e, next)
}

// Tick implements Holder (for nested stages that hold entries).
func (s *matchStage) Tick(now time.Time, next func(*Entry)) {
	if s.pipeline != nil {
		s.pipeline.Tick(now, next)
	}
}

// Held implements Holder.
func (s *matchStage) Held() (uint64, bool) {
	if s.pipeline == nil {
		return 0, false
	}
	return s.pipeline.Held()
}

// Flush implements Holder.
func (s *matchStage) Flush(next func(*Entry)) {
	if s.pipeline != nil {
		s.pipeline.Flush(next)
	}
}
