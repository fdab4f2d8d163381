package kafka

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/logcapturer/logcapturer/wal"
)

// labelTemplate is a topic or key template over a block's labels. A text
// with no action is static and never executed.
type labelTemplate struct {
	text   string
	static bool
	t      *template.Template
}

// parseTemplate parses text (named key or topic). Unknown label names are
// fine: they render empty.
func parseTemplate(name, text string) (*labelTemplate, error) {
	t, err := template.New(name).Option("missingkey=zero").Parse(text)
	if err != nil {
		// "template: topic:1: unclosed action" -> "1: unclosed action"
		msg := strings.TrimPrefix(err.Error(), "template: "+name+":")
		return nil, fmt.Errorf("is not a valid template: %s", msg)
	}
	lt := &labelTemplate{text: text, t: t}
	lt.static = t.Tree == nil || t.Tree.Root == nil || onlyText(t.Tree.Root)
	return lt, nil
}

func onlyText(n *parse.ListNode) bool {
	for _, c := range n.Nodes {
		if c.Type() != parse.NodeText {
			return false
		}
	}
	return true
}

// render executes the template over labels into buf (reset first) and
// returns its bytes, which alias buf.
func (lt *labelTemplate) render(buf *bytes.Buffer, labels []wal.Label, m map[string]string) ([]byte, error) {
	buf.Reset()
	if lt.static {
		buf.WriteString(lt.text)
		return buf.Bytes(), nil
	}
	clear(m)
	for _, l := range labels {
		m[l.Name] = l.Value
	}
	if err := lt.t.Execute(buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
