package loki_test

import (
	"testing"

	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/wal"
)

// FuzzEncodeLabels: whatever the label names and values, lines and times,
// the encoded push decodes with Loki's own types, every selector parses
// strictly, and times and lines arrive exactly (JSON: lines up to UTF-8
// replacement).
func FuzzEncodeLabels(f *testing.F) {
	f.Add("job", "app", "filename", "/var/log/a.log", []byte("line"), int64(1767225600123456789))
	f.Add("a.b", "q\"u\\o\nte", "__path__", "x", []byte("\xff\x00"), int64(-1))
	f.Add("1st", "\xff\xfe", "ünï", "", []byte(""), int64(0))
	f.Add("", "", "", "", []byte("{}"), int64(-9223372036854775808))
	f.Add("container_id", "c1", "a_b", "\u2028\x7f", []byte("\"\\"), int64(9223372036854775807))
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string, line []byte, ts int64) {
		blk := wal.Block{Source: "fuzz", Labels: []wal.Label{{Name: n1, Value: v1}, {Name: n2, Value: v2}},
			Entries: []wal.Entry{{Time: ts, Line: line}, {Time: ts, Line: line}}}
		for _, enc := range []string{loki.EncodingProtobuf, loki.EncodingJSON} {
			e := loki.NewEncoder(loki.Options{Encoding: enc, Labels: map[string]string{"host": "h"},
				StructuredMetadata: []string{"container_id"}})
			body, n := onePush(t, e.Encode([]wal.Block{blk}))
			if n != 2 {
				t.Fatalf("%s: encoded %d entries, want 2", enc, n)
			}
			decode := lokitest.DecodeProtobuf
			wantLine := string(line)
			if enc == loki.EncodingJSON {
				decode = lokitest.DecodeJSON
				wantLine = string([]rune(wantLine)) // U+FFFD per invalid byte, as encoding/json does
			}
			got, _, err := decode(body)
			if err != nil {
				t.Fatalf("%s: the receiver rejects the push: %v\n%q", enc, err, e.Raw())
			}
			if len(got) != 2 {
				t.Fatalf("%s: received %d entries", enc, len(got))
			}
			for _, g := range got {
				if g.Time != ts || g.Line != wantLine {
					t.Fatalf("%s: received time %d line %q, want %d %q", enc, g.Time, g.Line, ts, wantLine)
				}
				ls, err := lokitest.ParseLabels(g.Labels)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range blk.Labels {
					name := loki.SanitizeName(l.Name)
					if name == "" || l.Value == "" || name == "host" || name == "container_id" {
						continue
					}
					if !hasLabel(ls, name) {
						t.Fatalf("%s: label %q (sent as %q) missing from %s", enc, l.Name, name, g.Labels)
					}
				}
			}
		}
	})
}

func hasLabel(ls []lokitest.Label, name string) bool {
	for _, l := range ls {
		if l.Name == name {
			return true
		}
	}
	return false
}
