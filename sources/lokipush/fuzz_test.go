package lokipush

import (
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"

	"github.com/logcapturer/logcapturer/wal"
)

// FuzzDecodeProtobuf: no body makes the protobuf decoder panic, and what
// it takes always encodes into blocks that decode again with as many
// entries, each with a valid label set.
func FuzzDecodeProtobuf(f *testing.F) {
	t0 := time.Unix(1700000000, 5)
	good := &push.PushRequest{Streams: []push.Stream{
		{Labels: `{job="a", pod="b"}`, Entries: []push.Entry{{Timestamp: t0, Line: "x", StructuredMetadata: push.LabelsAdapter{{Name: "k", Value: "v"}}}}},
		{Labels: `{bad-name="x"}`, Entries: []push.Entry{{Timestamp: t0, Line: "y"}}},
	}}
	b, _ := good.Marshal()
	f.Add(b)
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, '{'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, incoming := range []bool{true, false} {
			bd := &builder{opts: newOptions("f", map[string]string{"env": "x"}, incoming), tenant: "t", received: 1}
			if err := decodeProtobuf(body, bd); err != nil {
				continue
			}
			checkRecords(t, bd)
		}
	})
}

// FuzzDecodeJSON: the same for JSON bodies.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"streams":[{"stream":{"job":"j"},"values":[["1","a"],["2","b",{"m":"v"}]]}]}`))
	f.Add([]byte(`{"streams":[{"stream":{"a-b":"j"},"values":[["x","a"]]}]}`))
	f.Add([]byte(`{"streams":[{"stream":{},"values":[["1","a"]]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		bd := &builder{opts: newOptions("f", nil, true), received: 1}
		if err := decodeJSON(body, bd); err != nil {
			return
		}
		checkRecords(t, bd)
	})
}

// FuzzParseLabels: never a panic; a label set taken has valid, sorted,
// unique names.
func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{`{a="b"}`, `{a="b\"c", d="\u00e9"}`, `{a="b",}`, `{`, `{a=}`, `{a="\x"}`, ` { a = "b" } `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := parseLabels(s)
		if err != nil {
			return
		}
		for i, l := range ls {
			if checkName(l.Name) != nil || (i > 0 && ls[i-1].Name >= l.Name) {
				t.Fatalf("%q gave %v", s, ls)
			}
		}
	})
}

func checkRecords(t *testing.T, bd *builder) {
	t.Helper()
	n := 0
	for _, r := range bd.records() {
		var blk wal.Block
		if err := wal.DecodeBlock(r.Data, &blk); err != nil {
			t.Fatalf("a record does not decode: %v", err)
		}
		if len(blk.Entries) != r.Entries {
			t.Fatalf("record says %d entries, block has %d", r.Entries, len(blk.Entries))
		}
		for _, e := range blk.Entries {
			ls := e.Labels
			if ls == nil {
				ls = blk.Labels
			}
			if len(ls) == 0 {
				t.Fatal("an entry without labels")
			}
			for _, l := range ls {
				if l.Name != wal.TenantLabel && checkName(l.Name) != nil {
					t.Fatalf("label %q taken", l.Name)
				}
			}
		}
		n += r.Entries
	}
	_ = n
}
