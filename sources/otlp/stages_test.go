package otlp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/sources"
)

// TestPipelineStages: json + labels + drop + output and a multiline stage
// change what is emitted; the stages are flushed at the end of the
// request, so every entry they keep (the last multiline block too) is
// emitted before the answer, and the answer waits for their completions.
func TestPipelineStages(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(`
- multiline: {firstline: '^\{', max_wait_time: 1h}
- json: {expressions: {level: level, msg: msg}}
- labels: {level: ""}
- drop: {source: level, value: debug}
- output: {source: msg}
`), &doc); err != nil {
		t.Fatal(err)
	}
	em := &emitter{hold: true}
	c := NewConfig()
	c.ListenAddress = "127.0.0.1:0"
	src, err := c.Open(sources.Deps{Name: "otel", Labels: map[string]string{"app": "shop"}, Emitter: em, PipelineStages: doc.Content[0]})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	url := "http://" + src.(*Source).Addr().String() + LogsPath

	var recs []string
	for i, body := range []string{`{"level":"info",`, `"msg":"one"}`, `{"level":"debug","msg":"noise"}`, `{"level":"error","msg":"two"}`} {
		recs = append(recs, fmt.Sprintf(`{"timeUnixNano":"%d","body":{"stringValue":%q}}`, 1000+i, body))
	}
	req := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[` + strings.Join(recs, ",") + `]}]}]}`
	ch := make(chan answer, 1)
	go func() { ch <- post(t, url, []byte(req), "Content-Type", contentJSON) }()
	want := []flat{
		{Labels: `{app="shop", level="info"}`, Time: 1000, Line: "one", Meta: "{}"},
		{Labels: `{app="shop", level="error"}`, Time: 1003, Line: "two", Meta: "{}"},
	}
	waitFor(t, "the records emitted", func() bool { return len(em.got()) >= len(want) })
	select {
	case a := <-ch:
		t.Fatalf("answered %d before the records were durable", a.code)
	case <-time.After(50 * time.Millisecond):
	}
	checkFlat(t, em.got(), want)
	em.release(nil)
	if a := <-ch; a.code != 200 {
		t.Fatalf("after the completions: %d %s", a.code, a.body)
	}
}
