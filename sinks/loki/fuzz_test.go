package loki_test

import (
	"slices"
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
		own := append([]byte(nil), line...)
		own = append(own, '!')
		blk := wal.Block{Source: "fuzz", Labels: []wal.Label{{Name: n1, Value: v1}, {Name: n2, Value: v2}},
			Entries: []wal.Entry{{Time: ts, Line: line}, {Time: ts, Line: line},
				// An entry with labels and metadata of its own (a tenant of
				// its own too when n1 is __tenant_id__).
				{Time: ts, Line: own, Labels: []wal.Label{{Name: n2, Value: v2}}, Metadata: []wal.Label{{Name: n1, Value: v1}}}}}
		for _, enc := range []string{loki.EncodingProtobuf, loki.EncodingJSON} {
			e := loki.NewEncoder(loki.Options{Encoding: enc, Labels: map[string]string{"host": "h"},
				StructuredMetadata: []string{"container_id"}})
			decode := lokitest.DecodeProtobuf
			wantLine := string(line)
			if enc == loki.EncodingJSON {
				decode = lokitest.DecodeJSON
				wantLine = string([]rune(wantLine)) // U+FFFD per invalid byte, as encoding/json does
			}
			var got []lokitest.Entry
			n := 0
			for _, p := range e.Encode([]wal.Block{blk}) {
				n += p.Entries
				g, _, err := decode(p.Body)
				if err != nil {
					t.Fatalf("%s: the receiver rejects the push: %v\n%q", enc, err, p.Body)
				}
				got = append(got, g...)
			}
			if n != 3 || len(got) != 3 {
				t.Fatalf("%s: encoded %d entries, received %d, want 3", enc, n, len(got))
			}
			got = slices.DeleteFunc(got, func(g lokitest.Entry) bool { return g.Line == wantLine+"!" })
			if len(got) != 2 {
				t.Fatalf("%s: received the entry with labels of its own %d times", enc, 3-len(got))
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
