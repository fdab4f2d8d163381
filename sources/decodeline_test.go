package sources

import (
	"maps"
	"testing"
	"time"
)

// DecodeLine gives what the tailer's decoders give: Docker's log without
// its final newline, its time and stream, a piece without newline as
// partial; CRI's message, time, stream and P tag; a line of neither shape
// raw with parse_error; a plain file's line as it is.
func TestDecodeLine(t *testing.T) {
	ts := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		typ, line string
		want      Decoded
		labels    map[string]string
	}{
		{TypeDocker, `{"log":"hi \"x\"\n","stream":"stderr","time":"2026-12-01T10:00:00.123456789Z"}`,
			Decoded{Line: `hi "x"`, Time: ts, Stream: "stderr"}, map[string]string{"stream": "stderr"}},
		{TypeDocker, `{"log":"piece","stream":"stdout","time":"2026-12-01T10:00:00.123456789Z"}`,
			Decoded{Line: "piece", Time: ts, Stream: "stdout", Partial: true}, map[string]string{"stream": "stdout"}},
		{TypeDocker, `not json`, Decoded{Line: "not json", ParseError: true}, map[string]string{"parse_error": "true"}},
		{TypeCRI, `2026-12-01T10:00:00.123456789Z stdout P part one`,
			Decoded{Line: "part one", Time: ts, Stream: "stdout", Partial: true}, map[string]string{"stream": "stdout"}},
		{TypeCRI, `2026-12-01T10:00:00.123456789Z stderr F done`,
			Decoded{Line: "done", Time: ts, Stream: "stderr"}, map[string]string{"stream": "stderr"}},
		{TypeCRI, `garbage`, Decoded{Line: "garbage", ParseError: true}, map[string]string{"parse_error": "true"}},
		{TypeFile, `{"log":"x\n"}`, Decoded{Line: `{"log":"x\n"}`}, map[string]string{}},
	} {
		got := DecodeLine(tc.typ, []byte(tc.line))
		if got != tc.want {
			t.Errorf("%s %q: got %+v, want %+v", tc.typ, tc.line, got, tc.want)
		}
		if l := got.Labels(); !maps.Equal(l, tc.labels) {
			t.Errorf("%s %q: labels %v, want %v", tc.typ, tc.line, l, tc.labels)
		}
	}
}

// FileLabels: filename always, and the path's labels for cri.
func TestFileLabels(t *testing.T) {
	p := "/var/log/pods/prod_api-7d9_0a1b/app/0.log"
	want := map[string]string{"filename": p, "namespace": "prod", "pod": "api-7d9", "container": "app"}
	if got := FileLabels(TypeCRI, p); !maps.Equal(got, want) {
		t.Errorf("FileLabels(cri) = %v, want %v", got, want)
	}
	if got := FileLabels(TypeFile, "/var/log/a.log"); !maps.Equal(got, map[string]string{"filename": "/var/log/a.log"}) {
		t.Errorf("FileLabels(file) = %v", got)
	}
}
