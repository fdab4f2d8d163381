package stages

import (
	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
)

// Inspector watches entries pass the top-level stages of a Pipeline, for
// logcapturer pipeline test (Promtail's --inspect). Either func may be nil.
type Inspector struct {
	// Enter is called when e is handed to stage i (0-based), before the
	// stage sees it; i == Len() means e has passed the last stage. Enter
	// must neither keep nor change e or its maps.
	Enter func(i int, e *Entry)
	// Leave is called when stage i's Process call for e returns; what the
	// stage handed on meanwhile has been through Enter(i+1, ...). An entry
	// that went through Enter(i) and never through Enter(i+1) was dropped
	// (Env.Dropped was called while stage i ran) or is held by stage i
	// (a multiline block under way, or a line joined into one). e's
	// content is then the stage's business: use only e.Seq.
	Leave func(i int, e *Entry)
}

// Inspect makes p report through in as entries pass its top-level stages
// (a match stage's nested stages count as the match stage). A later call
// replaces the Inspector. A Pipeline that is never inspected pays nothing
// for this: Inspect builds a chain of its own in place of the plain one.
// Tick and Flush hand what a holder releases to the inspected chain too.
// Not safe for concurrent use; call it before Process.
func (p *Pipeline) Inspect(in Inspector) {
	enter, leave := in.Enter, in.Leave
	if enter == nil {
		enter = func(int, *Entry) {}
	}
	if leave == nil {
		leave = func(int, *Entry) {}
	}
	n := len(p.stages)
	p.chain = make([]func(*Entry), n+1)
	p.chain[n] = func(e *Entry) {
		enter(n, e)
		p.emit(e)
	}
	for i := n - 1; i >= 0; i-- {
		s, next := p.stages[i], p.chain[i+1]
		p.chain[i] = func(e *Entry) {
			enter(i, e)
			s.Process(e, next)
			leave(i, e)
		}
	}
}

// StageNames returns the names of the stages of a pipeline_stages node
// that Parse accepted, in order: names[i] is the stage an Inspector's i
// refers to. An item that is not a one-key mapping gives "".
func StageNames(node *yaml.Node) []string {
	node = config.ResolveAlias(node)
	if node == nil || node.Kind != yaml.SequenceNode {
		return nil
	}
	names := make([]string, len(node.Content))
	for i, item := range node.Content {
		if item = config.ResolveAlias(item); item != nil && item.Kind == yaml.MappingNode && len(item.Content) == 2 {
			names[i] = item.Content[0].Value
		}
	}
	return names
}
