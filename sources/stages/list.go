package stages

import "go.yaml.in/yaml/v3"

// stageType is one line of the stage list: how to build the stage from its
// options node, and (for stages whose options are a struct) a zero value of
// the options, whose yaml keys let a problem name the stage a misplaced key
// belongs to.
type stageType struct {
	parse func(p *parser, n *yaml.Node, key string, line int) Stage
	opts  any
}

// stageList is the one list of stages: name → how to build it. Adding a
// stage is one file and one line here.
var stageList map[string]stageType

func init() {
	stageList = map[string]stageType{
		"cri":                 {parseCRI, criOptions{}},
		"decolorize":          {parseDecolorize, nil},
		"docker":              {parseDocker, nil},
		"drop":                {parseDrop, dropOptions{}},
		"geoip":               {parseGeoIP, geoipOptions{}},
		"json":                {parseJSON, jsonOptions{}},
		"labelallow":          {parseLabelAllow, nil},
		"labeldrop":           {parseLabelDrop, nil},
		"labels":              {parseLabels, nil},
		"limit":               {parseLimit, limitOptions{}},
		"logfmt":              {parseLogfmt, logfmtOptions{}},
		"match":               {parseMatch, matchOptions{}},
		"metrics":             {parseMetrics, nil},
		"multiline":           {parseMultiline, multilineOptions{}},
		"non_indexed_labels":  {parseStructuredMetadata, nil},
		"output":              {parseOutput, outputOptions{}},
		"pack":                {parsePack, packOptions{}},
		"regex":               {parseRegex, regexOptions{}},
		"replace":             {parseReplace, replaceOptions{}},
		"sampling":            {parseSampling, samplingOptions{}},
		"static_labels":       {parseStaticLabels, nil},
		"structured_metadata": {parseStructuredMetadata, nil},
		"template":            {parseTemplate, templateOptions{}},
		"timestamp":           {parseTimestamp, timestampOptions{}},
		"tenant":              {parseTenant, tenantOptions{}},
	}
}

// unsupported are Promtail's stages this program does not have, with why.
var unsupported = map[string]string{
	"eventlogmessage": "it is for Windows event logs, which logcapturer does not read; remove the stage",
}
