package lokipush

import (
	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sources"
)

func depsFor(name string, labels map[string]string, p *pipeline.Pipeline) sources.Deps {
	return sources.Deps{Name: name, Labels: labels, Emitter: p, Conditions: p}
}
