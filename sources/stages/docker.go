package stages

import (
	"encoding/json"
	"time"

	"go.yaml.in/yaml/v3"
)

// dockerStage is Promtail's docker stage: a line of Docker's json-file
// log, {"log":"...","stream":"stdout","time":"..."}, gives the extracted
// values output (log), stream and timestamp (time); the stream label;
// the entry's time (RFC3339Nano, action_on_failure fudge); and the line
// (output, with the trailing newline Docker keeps). Docker's 16 KiB
// partial lines are not joined, as in Promtail.
//
// A line that is not a JSON object passes unchanged and is counted
// (Failed "docker", "malformed_json"); its time is then fudged like any
// failed timestamp.
type dockerStage struct {
	ts     *timestampStage
	failed func(stage, reason string)
}

func parseDocker(p *parser, n *yaml.Node, key string, line int) Stage {
	if !p.decode(n, key, line, "docker", &struct{}{}) {
		return nil
	}
	return newDockerStage(p.env)
}

func newDockerStage(env Env) *dockerStage {
	return &dockerStage{ts: rfc3339NanoStage("docker", "timestamp", env), failed: env.Failed}
}

// rfc3339NanoStage is the timestamp stage the docker and cri stages run:
// source src, format RFC3339Nano, action_on_failure fudge.
func rfc3339NanoStage(name, src string, env Env) *timestampStage {
	return &timestampStage{
		name:   name,
		source: src,
		parse:  newTimeParser("RFC3339Nano", time.UTC, time.Now), // the format always has a zone
		fudge:  newFudgeCache(fudgeStreams),
		failed: env.Failed,
	}
}

// Process implements Stage.
func (s *dockerStage) Process(e *Entry, next func(*Entry)) {
	var m map[string]any
	malformed := json.Unmarshal([]byte(e.Line), &m) != nil
	if malformed {
		s.fail("malformed_json")
	} else {
		// Promtail's json stage: every expression sets its key, to nil
		// when the field is absent.
		e.Extracted["output"] = jsonExtracted(m["log"])
		e.Extracted["stream"] = jsonExtracted(m["stream"])
		e.Extracted["timestamp"] = jsonExtracted(m["time"])
	}
	criDockerLabelTimeOutput(e, s.ts, "output", malformed, s.fail)
	next(e)
}

func (s *dockerStage) fail(reason string) {
	if s.failed != nil {
		s.failed("docker", reason)
	}
}

// jsonExtracted is what Promtail's json stage stores for a decoded value:
// strings, numbers (float64), booleans and null as they are; objects and
// arrays encoded back to JSON text.
func jsonExtracted(v any) any {
	switch v.(type) {
	case string, float64, bool, nil:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return string(b)
}

// criDockerLabelTimeOutput runs what the docker and cri stages run after
// their parser, as Promtail's nested stages do: labels {stream}, the
// timestamp stage, then output from the extracted value out. A timestamp
// failure is counted unless the line did not parse (counted already).
func criDockerLabelTimeOutput(e *Entry, ts *timestampStage, out string, malformed bool, fail func(string)) {
	if v, ok := e.Extracted["stream"]; ok {
		if str, ok := toString(v); ok && labelValueProblem(str) == "" {
			if e.Labels == nil {
				e.Labels = map[string]string{}
			}
			e.Labels["stream"] = str
		}
	}
	if reason := ts.set(e); reason != "" && !malformed {
		fail(reason)
	}
	if v, ok := e.Extracted[out]; ok {
		if str, ok := toString(v); ok {
			e.Line = str
		}
	}
}
