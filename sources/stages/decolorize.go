package stages

import (
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// ansiRegexp is the expression Loki's decolorize uses (its own comment
// credits acarl005/stripansi). It is kept as is, with its quirk: of an
// OSC-8 hyperlink ("\x1b]8;;https://x\x07") it removes "\x1b]8;;h" only,
// leaving "ttps://x" and the BEL.
var ansiRegexp = regexp.MustCompile("[\u001B\u009B][[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\u0007)|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))")

// decolorizeStage strips ANSI escape sequences from the line.
type decolorizeStage struct{}

func parseDecolorize(p *parser, n *yaml.Node, key string, line int) Stage {
	if n != nil && !config.IsNull(n) && !(n.Kind == yaml.MappingNode && len(n.Content) == 0) {
		p.fail(n.Line, key, "the decolorize stage takes no options, got %s", config.NodeKind(n))
		return nil
	}
	return decolorizeStage{}
}

// Process implements Stage.
func (decolorizeStage) Process(e *Entry, next func(*Entry)) {
	if ansiRegexp.MatchString(e.Line) {
		e.Line = ansiRegexp.ReplaceAllString(e.Line, "")
	}
	next(e)
}
