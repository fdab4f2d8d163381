package lokitest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseLabels(t *testing.T) {
	good := map[string][]Label{
		`{a="b"}`:                     {{"a", "b"}},
		`{a="b", c="d\"e\\f\ng"}`:     {{"a", "b"}, {"c", "d\"e\\f\ng"}},
		`{ _x = "\u00e9\x41" ,y="1"}`: {{"_x", "éA"}, {"y", "1"}},
	}
	for in, want := range good {
		got, err := ParseLabels(in)
		if err != nil || len(got) != len(want) {
			t.Fatalf("ParseLabels(%s) = %v, %v", in, got, err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("ParseLabels(%s)[%d] = %v, want %v", in, i, got[i], want[i])
			}
		}
	}
	for _, in := range []string{`{}`, `a="b"`, `{a=b}`, `{a='b'}`, "{a=`b`}", `{a="b",}`, `{a="b" c="d"}`,
		`{b="1", a="2"}`, `{a="1", a="2"}`, `{__a="1"}`, `{1a="1"}`, `{a-b="1"}`, `{a=""}`, `{a="\xff"}`,
		`{a="b"`, `{a!="b"}`, `{a="unterminated}`} {
		if _, err := ParseLabels(in); err == nil {
			t.Errorf("ParseLabels(%s) accepted", in)
		}
	}
}

func TestReceiverRejectsBadRequests(t *testing.T) {
	r := NewReceiver()
	defer r.Close()
	post := func(ct string, body []byte) int {
		t.Helper()
		resp, err := http.Post(r.URL(), ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		ct   string
		body []byte
		want string
	}{
		{"text/plain", []byte("x"), "content-type"},
		{"application/x-protobuf", []byte("not snappy"), "snappy"},
		{"application/x-protobuf", snappy.Encode(nil, []byte{0x0a, 0x05, 0x0a, 0x03, 'b', 'a', 'd'}), "labels"},
		{"application/json", []byte(`{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}`), "timestamp must be a string"},
		{"application/json", []byte(`{"streams":[{"stream":{"a":"b"},"values":[["2","x"],["1","y"]]}]}`), "before"},
		{"application/json", []byte(`{"streams":[{"stream":{},"values":[["2","x"]]}]}`), "at least one label"},
	} {
		if got := post(tc.ct, tc.body); got != http.StatusBadRequest {
			t.Fatalf("%s %q answered %d", tc.ct, tc.body, got)
		}
		p := r.Problems()
		if !strings.Contains(p[len(p)-1], tc.want) {
			t.Fatalf("problem %q lacks %q", p[len(p)-1], tc.want)
		}
	}
	if post("application/json", []byte(`{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":"v"}]]}]}`)) != http.StatusNoContent {
		t.Fatal("a valid JSON push was not accepted")
	}
	if e := r.Entries(); len(e) != 1 || e[0].Labels != `{a="b"}` || e[0].Time != 1 || e[0].Metadata[0] != (Label{"k", "v"}) {
		t.Fatalf("entries %+v", e)
	}
	r.Reply(Partial(1, 10))
	if post("application/json", []byte(`{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]}`)) != http.StatusBadRequest || r.Count() != 1 {
		t.Fatal("a queued 400 was not answered, or its entries were stored")
	}
}

// TestLimitsAnswerAsLoki: under SetLimits the receiver answers the push the
// real Loki answered with lokitest.RealPartialTooOld with that body, byte
// for byte, and stores the 3 current entries.
func TestLimitsAnswerAsLoki(t *testing.T) {
	r := NewReceiver()
	defer r.Close()
	pushed := time.Date(2026, 12, 2, 13, 32, 52, 0, time.UTC) // the bound plus Loki's default 7d
	r.SetLimits(&Limits{RejectOldSamplesMaxAge: 7 * 24 * time.Hour, CreationGracePeriod: 10 * time.Minute,
		Now: func() time.Time { return pushed }})
	old := time.Date(2026, 11, 22, 13, 32, 52, 0, time.UTC).UnixNano()
	cur := pushed.Add(-time.Minute).UnixNano()
	body := fmt.Sprintf(`{"streams":[{"stream":{"job":"t"},"values":[["%d","a"],["%d","b"],["%d","c"],["%d","d"],["%d","e"]]}]}`,
		old+1e8, old+7e8, cur, cur+1, cur+2)
	resp, err := http.Post(r.URL(), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(got) != RealPartialTooOld+"\n" {
		t.Fatalf("answered %d %q, want 400 %q", resp.StatusCode, got, RealPartialTooOld)
	}
	if r.Count() != 3 || len(r.Refused()) != 2 || r.Refused()[0].Line != "a" {
		t.Fatalf("stored %d, refused %+v", r.Count(), r.Refused())
	}
	if q := r.Requests(); q[0].Entries != 5 || q[0].Refused != 2 {
		t.Fatalf("request %+v", q[0])
	}
	// Several distinct messages: each counted, as util.GroupedErrors does.
	g := Grouped([]string{"x", "y", "x"})
	if g != "2 errors like: x; 1 errors like: y" && g != "1 errors like: y; 2 errors like: x" {
		t.Fatalf("grouped %q", g)
	}
	if ServiceName(`{app="a", job="j"}`) != `{app="a", job="j", service_name="a"}` || ServiceName(`{x="1"}`) != `{service_name="unknown_service", x="1"}` {
		t.Fatal("service_name discovery")
	}
}
