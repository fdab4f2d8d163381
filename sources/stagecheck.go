package sources

import (
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources/stages"
)

// CheckStages reports every problem of the source's pipeline_stages (see
// config.Check.PipelineStages) at its line, keyed under the entry
// ("pipeline_stages[3].regex.expression"). Every source type's Check calls
// it; it builds the stages (compiling their expressions) and releases
// them, registering nothing. It opens the files a stage names (geoip's
// database) only when the configuration's files are checked
// (config.Check.CheckingFiles).
func CheckStages(ck *config.Check) {
	n := ck.PipelineStages()
	if n == nil {
		return
	}
	pl, problems := stages.Parse(n, stages.Env{Source: ck.Name(), NoFiles: !ck.CheckingFiles()})
	for _, p := range problems {
		ck.ProblemAt(p.Line, "pipeline_stages"+p.Key, "%s", p.Msg)
	}
	if pl != nil {
		pl.Close()
	}
}

// stageAt is a stage named in a pipeline_stages list: its key and line.
type stageAt struct {
	key  string
	line int
}

// findStages returns where the stages named name are in the list n,
// nested match stages included.
func findStages(n *yaml.Node, key, name string, depth int) []stageAt {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.SequenceNode || depth > 16 {
		return nil
	}
	var out []stageAt
	for i, item := range n.Content {
		for item != nil && item.Kind == yaml.AliasNode {
			item = item.Alias
		}
		if item == nil || item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			continue
		}
		ikey := key + "[" + strconv.Itoa(i) + "]." + item.Content[0].Value
		switch item.Content[0].Value {
		case name:
			out = append(out, stageAt{ikey, item.Content[0].Line})
		case "match":
			opts := item.Content[1]
			for opts != nil && opts.Kind == yaml.AliasNode {
				opts = opts.Alias
			}
			if opts != nil && opts.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(opts.Content); j += 2 {
					if opts.Content[j].Value == "stages" {
						out = append(out, findStages(opts.Content[j+1], ikey+".stages", name, depth+1)...)
					}
				}
			}
		}
	}
	return out
}
