package journald

import (
	"fmt"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
)

// SourceType registers type: journald with config.
func SourceType() config.SourceType {
	return config.SourceType{Name: Type, New: func() config.SourceConfig { return NewOptions() }}
}

var (
	_ config.SourceConfig = (*Options)(nil)
	_ sources.Opener      = (*Options)(nil)
)

// Open builds the source these options describe, not started. It resumes
// after the cursor recovered from the WAL (deps.Positions[FileID]), if
// any.
func (o *Options) Open(deps sources.Deps) (sources.Source, error) {
	p := Params{
		Name: deps.Name, Labels: deps.Labels,
		Emitter: deps.Emitter, Conditions: deps.Conditions,
	}
	if pos, ok := deps.Positions[FileID]; ok {
		p.Cursor = pos.Cursor
	}
	if deps.Staged() {
		var err error
		p.Stages, err = sources.NewStageRunner(deps, sources.StageOptions{MaxStreams: deps.MaxStreams, Relabel: deps.Relabel})
		if err != nil {
			return nil, fmt.Errorf("journald source: %w", err)
		}
		p.InternalLabels = deps.Relabel != nil
	}
	src, err := New(deps.Logger, deps.Registerer, *o, p)
	if err != nil && p.Stages != nil {
		p.Stages.Close()
	}
	return src, err
}
