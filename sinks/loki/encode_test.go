package loki_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/wal"
)

// onePush returns the body and entry count of the only push of an Encode.
func onePush(t testing.TB, pushes []loki.Push) ([]byte, int) {
	t.Helper()
	if len(pushes) != 1 {
		t.Fatalf("Encode made %d pushes, want 1", len(pushes))
	}
	return pushes[0].Body, pushes[0].Entries
}

func kv(name, value string) lokitest.Label { return lokitest.Label{Name: name, Value: value} }

func lbl(kv ...string) []wal.Label {
	var out []wal.Label
	for i := 0; i < len(kv); i += 2 {
		out = append(out, wal.Label{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func ents(times ...int64) []wal.Entry {
	var out []wal.Entry
	for i, t := range times {
		out = append(out, wal.Entry{Time: t, Line: []byte(fmt.Sprintf("line %d @%d", i, t))})
	}
	return out
}

// tricky is a batch that exercises every label and order rule.
func tricky() []wal.Block {
	base := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC).UnixNano()
	return []wal.Block{
		{Source: "app", Labels: lbl("filename", "/var/log/a.log", "job", "a\"b\\c\nd\x00e"),
			Entries: ents(base+2, base, base+1, base)}, // unsorted, with a tie
		{Source: "app", Labels: lbl("filename", "/var/log/a.log", "job", "a\"b\\c\nd\x00e"),
			Entries: ents(base - 5)}, // same stream, earlier
		{Source: "web", Labels: lbl("1st", "x", "__path__", "/p", "bad\xffval", "v\xfe", "container_id", "c1", "host", "own", "k8s.pod-name", "p-1", "empty", ""),
			Entries: ents(0, -1, math.MaxInt64, math.MinInt64+1)},
		{Source: "web", Labels: lbl("1st", "x", "__path__", "/p", "bad\xffval", "v\xfe", "container_id", "c2", "host", "own", "k8s.pod-name", "p-1", "empty", ""),
			Entries: ents(7)}, // same stream as the block before, other metadata
		{Source: "bare", Labels: lbl("__only", "internal")},
		{Source: "bare", Labels: lbl("__only", "internal"), Entries: []wal.Entry{{Time: 9, Line: []byte("\xff\xfe raw \"bytes\"\n")}}},
	}
}

var trickyOpts = loki.Options{URL: "http://x/loki/api/v1/push",
	Labels: map[string]string{"host": "static", "env": "prod", "dc": ""}, StructuredMetadata: []string{"container_id"}} // dc: absent, as in Loki

// wantTricky is what Loki must receive for tricky(), stream by stream,
// entries in order.
func wantTricky(blocks []wal.Block) []lokitest.Entry {
	a := lokitest.Labels(kv("env", "prod"), kv("filename", "/var/log/a.log"), kv("host", "static"), kv("job", "a\"b\\c\nd\x00e"))
	w := lokitest.Labels(kv("_1st", "x"), kv("bad_val", "v\uFFFD"), kv("env", "prod"), kv("host", "own"), kv("k8s_pod_name", "p-1"))
	b := lokitest.Labels(kv("env", "prod"), kv("host", "static"))
	e := func(sel string, bi, ei int, md ...lokitest.Label) lokitest.Entry {
		x := blocks[bi].Entries[ei]
		return lokitest.Entry{Labels: sel, Time: x.Time, Line: string(x.Line), Metadata: md}
	}
	return []lokitest.Entry{
		e(a, 1, 0), e(a, 0, 1), e(a, 0, 3), e(a, 0, 2), e(a, 0, 0),
		e(w, 2, 3, kv("container_id", "c1")), e(w, 2, 1, kv("container_id", "c1")), e(w, 2, 0, kv("container_id", "c1")),
		e(w, 3, 0, kv("container_id", "c2")), e(w, 2, 2, kv("container_id", "c1")),
		e(b, 5, 0),
	}
}

func TestEncodeProtobufRoundTrip(t *testing.T) {
	blocks := tricky()
	enc := loki.NewEncoder(trickyOpts)
	for range 2 { // the second pass runs on reused buffers
		body, n := onePush(t, enc.Encode(blocks))
		got, streams, err := lokitest.DecodeProtobuf(body)
		if err != nil {
			t.Fatal(err)
		}
		want := wantTricky(blocks)
		if n != len(want) || streams != 3 {
			t.Fatalf("encoded %d entries in %d streams, want %d in 3", n, streams, len(want))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("received\n%#v\nwant\n%#v", got, want)
		}
	}
}

func TestEncodeJSONRoundTrip(t *testing.T) {
	blocks := tricky()
	opts := trickyOpts
	opts.Encoding = loki.EncodingJSON
	body, _ := onePush(t, loki.NewEncoder(opts).Encode(blocks))
	got, _, err := lokitest.DecodeJSON(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	want := wantTricky(blocks)
	want[len(want)-1].Line = "\uFFFD\uFFFD raw \"bytes\"\n" // JSON strings are UTF-8
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("received\n%#v\nwant\n%#v", got, want)
	}
}

func TestEncodeEmpty(t *testing.T) {
	enc := loki.NewEncoder(loki.Options{})
	if pushes := enc.Encode([]wal.Block{{Source: "a"}}); pushes != nil {
		t.Fatalf("empty batch encoded %d pushes", len(pushes))
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"job": "job", "_x": "_x", "a1": "a1", "1a": "_1a", "k8s.pod-name": "k8s_pod_name",
		"ünïcode": "_n_code", "bad\xffname": "bad_name", "": "", "__path__": "", "-_x": "", "__": "",
		"a b": "a_b", "9": "_9",
	} {
		if got := loki.SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEncodeSteadyStateDoesNotAllocate(t *testing.T) {
	blocks := benchBlocks(8, 200, 200)
	enc := loki.NewEncoder(loki.Options{Labels: map[string]string{"host": "h"}})
	enc.Encode(blocks)
	if a := testing.AllocsPerRun(20, func() { enc.Encode(blocks) }); a != 0 {
		t.Fatalf("%v allocations per Encode on reused buffers, want 0", a)
	}
}

// benchBlocks returns nblocks blocks of n lines of size bytes, from two
// files (two streams). Lines look like logs: a timestamp, a level, words
// and ids from a fixed pseudo-random sequence (snappy gets them to about
// a third, not the tenth a repeated line would give).
func benchBlocks(nblocks, n, size int) []wal.Block {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	words := strings.Fields("GET POST /api/v1/users /healthz request served failed retry user_id= status=200 status=500 " +
		"latency_ms= bytes= upstream connection reset timeout cache hit miss level=info level=warn msg= trace_id=")
	rng := rand.New(rand.NewPCG(1, 2))
	blocks := make([]wal.Block, nblocks)
	for b := range blocks {
		blocks[b] = wal.Block{Source: "app",
			Labels: lbl("filename", fmt.Sprintf("/var/log/app-%d.log", b%2), "job", "app")}
		for i := 0; i < n; i++ {
			t := base + int64(b*n+i)*1000
			l := fmt.Appendf(make([]byte, 0, size+32), "%s ", time.Unix(0, t).UTC().Format(time.RFC3339Nano))
			for len(l) < size {
				if rng.IntN(3) == 0 {
					l = strconv.AppendUint(l, rng.Uint64()%1e9, 16)
				} else {
					l = append(l, words[rng.IntN(len(words))]...)
				}
				l = append(l, ' ')
			}
			blocks[b].Entries = append(blocks[b].Entries, wal.Entry{Time: t, Line: l[:size]})
		}
	}
	return blocks
}

// TestEncodeBlockLabelsUnused: a block whose every entry carries labels of
// its own (a source's stages set a tenant and a level) sends no stream
// for the block's labels: one push per tenant, each with only its
// entries' streams, protobuf and JSON.
func TestEncodeBlockLabelsUnused(t *testing.T) {
	blocks := []wal.Block{{Source: "app", Labels: []wal.Label{{Name: "job", Value: "a"}}, Entries: []wal.Entry{
		{Time: 1, Line: []byte("x"), Labels: []wal.Label{{Name: wal.TenantLabel, Value: "t1"}, {Name: "job", Value: "a"}, {Name: "level", Value: "info"}}},
		{Time: 2, Line: []byte("y"), Labels: []wal.Label{{Name: wal.TenantLabel, Value: "t2"}, {Name: "job", Value: "a"}}},
	}}}
	for _, enc := range []string{loki.EncodingProtobuf, loki.EncodingJSON} {
		pushes := loki.NewEncoder(loki.Options{URL: "http://x/loki/api/v1/push", Encoding: enc}).Encode(blocks)
		var tenants []string
		for _, p := range pushes {
			tenants = append(tenants, p.Tenant)
			var streams int
			var err error
			if enc == loki.EncodingJSON {
				_, streams, err = lokitest.DecodeJSON(p.Body)
			} else {
				_, streams, err = lokitest.DecodeProtobuf(p.Body)
			}
			if err != nil || streams != 1 || p.Entries != 1 {
				t.Errorf("%s push for %q: %d streams, %d entries, %v; want 1 and 1", enc, p.Tenant, streams, p.Entries, err)
			}
		}
		if !reflect.DeepEqual(tenants, []string{"t1", "t2"}) {
			t.Errorf("%s pushes for tenants %q, want t1 and t2 only", enc, tenants)
		}
	}
}
