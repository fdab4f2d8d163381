package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
)

// TestReadEndpoints: every read endpoint over real HTTP against a running
// pipeline tailing real files, and their errors.
func TestReadEndpoints(t *testing.T) {
	e := newEnv(t, envOptions{token: testToken})
	e.sinks["bad"].reject.Store(true)
	e.write("a.log", 0, 30, 7)
	e.write("b.log", 100, 5)
	waitFor(t, "good has every line", func() bool { return len(e.sinks["good"].got()) == 35 })
	waitFor(t, "bad has a dead letter", func() bool { ds, _ := e.p.DLQ("bad"); return len(ds) > 0 })
	e.settled()

	var st pipeline.Status
	e.get("/api/v1/status", &st)
	if st.Version != "test" || st.WAL.LastIndex == 0 || st.WAL.DurableIndex != st.WAL.LastIndex || st.WAL.Segments < 1 ||
		st.WAL.MaxBytes != 2<<30 || st.Ready.Status != "ready" || len(st.Sinks) != 2 || st.Sinks[0].Name != "good" {
		t.Fatalf("status = %+v", st)
	}
	if g := st.Sinks[0]; g.Cursor != st.WAL.DurableIndex || g.LagEntries != 0 || g.State != pipeline.SinkOK || g.LastSuccessTime == nil || g.Type != "test" {
		t.Fatalf("good = %+v", g)
	}
	if b := st.Sinks[1]; b.DLQRanges != 1 || b.DLQEntries == 0 || !strings.Contains(b.LastError, "bad line") {
		t.Fatalf("bad = %+v", b)
	}
	if len(st.Sources) != 1 || st.Sources[0].Name != "app" || st.Sources[0].Type != "file" || len(st.Sources[0].Files) != 2 {
		t.Fatalf("sources = %+v", st.Sources)
	}
	for _, f := range st.Sources[0].Files {
		fi, err := os.Stat(f.Path)
		if err != nil || f.Offset != fi.Size() || f.Size != fi.Size() || f.LagBytes != 0 || f.State != "open" || f.FileID == "" {
			t.Fatalf("file %+v, size on disk %v", f, fi.Size())
		}
	}

	var sinksBody struct{ Sinks []pipeline.SinkStatus }
	e.get("/api/v1/sinks", &sinksBody)
	var one pipeline.SinkStatus
	e.get("/api/v1/sinks/bad", &one)
	if len(sinksBody.Sinks) != 2 || one.Name != "bad" || one.DLQRanges != 1 {
		t.Fatalf("sinks %+v, bad %+v", sinksBody, one)
	}
	eb := e.wantError("GET", "/api/v1/sinks/nope", "", "", 404, `unknown sink "nope"; known sinks: good, bad`)
	if fmt.Sprint(eb["known"]) != "[good bad]" {
		t.Fatalf("known = %v", eb["known"])
	}
	var srcs struct{ Sources []pipeline.SourceStatus }
	e.get("/api/v1/sources", &srcs)
	if len(srcs.Sources) != 1 || len(srcs.Sources[0].Files) != 2 {
		t.Fatalf("sources %+v", srcs)
	}

	// Dead letters and their entries.
	var dlq struct {
		DeadLetters []pipeline.DeadLetter `json:"dead_letters"`
	}
	e.get("/api/v1/dlq?sink=bad", &dlq)
	if len(dlq.DeadLetters) != 1 || dlq.DeadLetters[0].Reason != "rejected" || dlq.DeadLetters[0].Attempts != 1 || dlq.DeadLetters[0].Sink != "bad" {
		t.Fatalf("dlq = %+v", dlq)
	}
	d := dlq.DeadLetters[0]
	var all struct {
		DeadLetters []pipeline.DeadLetter `json:"dead_letters"`
	}
	e.get("/api/v1/dlq", &all)
	if len(all.DeadLetters) != 1 {
		t.Fatalf("every sink's dlq = %+v", all)
	}
	var shown struct {
		DeadLetter pipeline.DeadLetter `json:"dead_letter"`
		Entries    []pipeline.Entry
	}
	e.getWith(fmt.Sprintf("/api/v1/dlq/bad/%d?limit=1000", d.From), testToken, &shown)
	if shown.DeadLetter.From != d.From || len(shown.Entries) != d.Entries || !hasLine(shown.Entries, "bad-7") {
		t.Fatalf("dlq entry = %+v", shown)
	}
	e.wantError("GET", "/api/v1/dlq?sink=nope", "", "", 404, "known sinks: good, bad")
	e.wantError("GET", "/api/v1/dlq/bad/999999", testToken, "", 404, fmt.Sprintf("dead letter 999999 of sink bad does not exist; dead letters start at %d", d.From))
	e.wantError("GET", "/api/v1/dlq/bad/-1", testToken, "", 400, `from: must be a non-negative integer (a WAL index), got "-1"`)
	e.wantError("GET", fmt.Sprintf("/api/v1/dlq/bad/%d?limit=0", d.From), testToken, "", 400, "limit: must be an integer from 1 to 10000")

	// WAL entries by index and by time.
	var ws struct{ Entries []pipeline.Entry }
	e.getWith("/api/v1/wal/entries?from=1&limit=3", testToken, &ws)
	if len(ws.Entries) != 3 || ws.Entries[0].Index != 1 || ws.Entries[0].Labels["filename"] == "" || ws.Entries[0].Source != "app" {
		t.Fatalf("wal entries = %+v", ws)
	}
	e.getWith("/api/v1/wal/entries?time="+lineTime(12).Add(-time.Millisecond).Format(time.RFC3339Nano)+"&limit=2", testToken, &ws)
	if len(ws.Entries) != 2 || !strings.HasSuffix(ws.Entries[0].Line, "line-12") || !ws.Entries[0].Time.Equal(lineTime(12)) {
		t.Fatalf("wal entries by time = %+v", ws)
	}
	e.wantError("GET", "/api/v1/wal/entries?from=-3", testToken, "", 400, "from: must be a non-negative integer")
	e.wantError("GET", "/api/v1/wal/entries?time=2026-12-01T10:00:00", testToken, "", 400, `time: "2026-12-01T10:00:00" has no time zone`)
	e.wantError("GET", "/api/v1/wal/entries?time=yesterday", testToken, "", 400, "time: want an RFC 3339 time")
	e.wantError("GET", "/api/v1/wal/entries?from=1&time=2026-12-01T10:00:00Z", testToken, "", 400, "not both")
	e.wantError("GET", "/api/v1/wal/entries", testToken, "", 400, "want from=INDEX or time=RFC3339")
	e.wantError("GET", "/api/v1/wal/entries?from=1&limit=x", testToken, "", 400, `limit: must be an integer from 1 to 10000, got "x"`)
	eb = e.wantError("GET", "/api/v1/wal/entries?from=999999", testToken, "", 409, "index 999999 is outside the wal's retained range: it is after the newest entry, index 2 at")
	if r, _ := eb["range"].(map[string]any); r["first_index"] != 1.0 || r["first_time"] != lineTime(0).Format(time.RFC3339) || r["after"] != true {
		t.Fatalf("409 range = %v", eb)
	}
	eb = e.wantError("GET", "/api/v1/wal/entries?time=2020-01-01T00:00:00Z", testToken, "", 409, "outside the wal's retained range: it is before the oldest entry, index 1 at")
	if r, _ := eb["range"].(map[string]any); r["after"] != false {
		t.Fatalf("409 range = %v", eb)
	}

	// No such route, wrong method: JSON too.
	e.wantError("GET", "/api/v1/nothing", "", "", 404, "no such endpoint: GET /api/v1/nothing")
	e.wantError("POST", "/api/v1/status", testToken, "", 405, "method not allowed; use GET")
}

func hasLine(es []pipeline.Entry, sub string) bool {
	for _, e := range es {
		if strings.Contains(e.Line, sub) {
			return true
		}
	}
	return false
}

// TestToken: mutating endpoints want the bearer token: 401 without a
// header, 403 for a wrong one, 200 with the right one; 403 "no admin
// token configured" when none is set. A non-loopback address without a
// token is refused at start; with one, every /api route needs it while
// /metrics, /healthz and /readyz stay open.
func TestToken(t *testing.T) {
	e := newEnv(t, envOptions{token: testToken, sinks: []string{"good"}})
	e.write("a.log", 0, 3)
	waitFor(t, "delivered", func() bool { return len(e.sinks["good"].got()) == 3 })
	path, body := "/api/v1/sinks/good/rewind", `{"index": 1}`
	e.wantError("POST", path, "", body, 401, "Authorization: Bearer <token>")
	code, _ := e.call("POST", path, "wrong", body)
	if code != 403 {
		t.Fatalf("wrong token = %d", code)
	}
	e.wantError("POST", path, "wrong", body, 403, "invalid admin token")
	if code, b := e.call("POST", path, testToken, body); code != 200 {
		t.Fatalf("right token = %d %s", code, b)
	}
	// Basic auth is not a bearer token.
	req, _ := http.NewRequest("POST", e.url(path), strings.NewReader(body))
	req.SetBasicAuth("u", testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("basic auth = %d", resp.StatusCode)
	}
	// Reads need no token on loopback.
	if code, _ := e.call("GET", "/api/v1/status", "", ""); code != 200 {
		t.Fatalf("status without a token on loopback = %d", code)
	}

	unset := newEnv(t, envOptions{sinks: []string{"good"}})
	unset.wantError("POST", "/api/v1/sinks/good/rewind", "", body, 403, "no admin token configured")
	unset.wantError("POST", "/api/v1/dlq/good/replay", testToken, "", 403, "no admin token configured")
	unset.wantError("DELETE", "/api/v1/dlq/good/1", testToken, "", 403, "no admin token configured")
	unset.wantError("POST", "/-/reload", testToken, "", 403, "no admin token configured")
	// Without a reload function (a server that cannot reload), 501; GET is
	// no reload.
	e.wantError("POST", "/-/reload", testToken, "", 501, "cannot reload")
	e.wantError("GET", "/-/reload", testToken, "", 405, "use POST")

	_, err = New(nil, Options{Listen: "0.0.0.0:0", Pipeline: e.p})
	if !errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), "admin.listen 0.0.0.0:0 is not a loopback address") {
		t.Fatalf("public address without a token: %v", err)
	}
	pub := newEnv(t, envOptions{listen: "0.0.0.0:0", token: testToken, sinks: []string{"good"}})
	port := pub.srv.Addr()[strings.LastIndex(pub.srv.Addr(), ":"):]
	for _, p := range []string{"/api/v1/status", "/api/v1/sinks", "/api/v1/sources", "/api/v1/dlq", "/api/v1/wal/entries?from=1", "/"} {
		code, _ := pub.call("GET", p, "", "")
		if code != 401 {
			t.Fatalf("GET %s on a public address without a token = %d", p, code)
		}
		if code, b := pub.call("GET", p, testToken, ""); code == 401 || code == 403 {
			t.Fatalf("GET %s with the token = %d %s", p, code, b)
		}
	}
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/ready"} {
		resp, err := http.Get("http://127.0.0.1" + port + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d, want it open", p, resp.StatusCode)
		}
	}
	if resp, err := http.Get("http://127.0.0.1" + port + "/debug/pprof/"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("pprof without admin.pprof: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
}

// TestRewindEndpoint: bad bodies answer 400 naming the field, an unknown
// sink 404, a target outside the WAL 409 with the range; a rewind by time
// makes the sink receive exactly the lines from the first at or after T.
func TestRewindEndpoint(t *testing.T) {
	e := newEnv(t, envOptions{token: testToken, sinks: []string{"good"}})
	e.write("a.log", 0, 200)
	waitFor(t, "200 delivered", func() bool { return len(e.sinks["good"].got()) == 200 })
	path := "/api/v1/sinks/good/rewind"
	for body, want := range map[string]string{
		`{"index": -1}`:                   `index: must be a non-negative integer (a WAL index), got "-1"`,
		`{"index": 1.5}`:                  `index: must be a non-negative integer`,
		`{"index": "x"}`:                  `index: want a number (a WAL index), got "x"`,
		`{"time": "2026-12-01T10:00:00"}`: `time: "2026-12-01T10:00:00" has no time zone`,
		`{"time": 5}`:                     `time: want a string (an RFC 3339 time), got 5`,
		`{"index": 1, "time": "2026-12-01T10:00:00Z"}`: `give one of "index", "time" and "to", not several`,
		`{"to": "oldest", "index": 1}`:                 `give one of "index", "time" and "to", not several`,
		`{"to": "start"}`:                              `to: want "oldest" or "newest", got "start"`,
		`{"cursor": 1}`:                                `unknown field "cursor"`,
		`{"index": 1`:                                  `bad JSON`,
		``:                                             `empty body`,
		`{}`:                                           `want {"index": N}, {"time": "2026-12-01T10:00:00Z"} or {"to": "oldest"|"newest"}`,
		`{"index": 1} {"index": 2}`:                    `data after the object`,
	} {
		e.wantError("POST", path, testToken, body, 400, want)
	}
	e.wantError("POST", "/api/v1/sinks/nope/rewind", testToken, `{"index": 1}`, 404, `unknown sink "nope"; known sinks: good`)
	eb := e.wantError("POST", path, testToken, `{"time": "2027-01-01T00:00:00Z"}`, 409, "outside the wal's retained range")
	if r, _ := eb["range"].(map[string]any); r["last_time"] != lineTime(199).Format(time.RFC3339) {
		t.Fatalf("409 range = %v", eb)
	}
	e.wantError("POST", path, testToken, `{"index": 0}`, 409, "index 0 is outside")

	// Lines are read in blocks; T between two lines of one block.
	T := lineTime(137).Add(-500 * time.Millisecond)
	code, b := e.call("POST", path, testToken, `{"time": "`+T.Format(time.RFC3339Nano)+`"}`)
	if code != 200 {
		t.Fatalf("rewind = %d %s", code, b)
	}
	e.write("a.log", 200, 1) // a marker: once it is in, everything before it is
	waitFor(t, "re-shipped and the marker", func() bool { return e.sinks["good"].count("line-200") == 1 })
	got := e.sinks["good"].got()[200:]
	if len(got) != 200-137+1 {
		t.Fatalf("after the rewind the sink got %d lines, want %d: %v…", len(got), 200-137+1, got[:min(len(got), 3)])
	}
	for i, l := range got {
		if !strings.HasSuffix(l, " line-"+strconv.Itoa(137+i)) {
			t.Fatalf("line %d after the rewind = %q, want line-%d", i, l, 137+i)
		}
	}
	if !regexp.MustCompile(`"first_time":"2026-12-01T10:02:17Z"`).Match(b) {
		t.Fatalf("rewind answer %s", b)
	}
}

// TestDLQReplayDeliversOnceMore: a dead letter replayed through the API
// is delivered exactly once more; purge deletes one; replay of all.
func TestDLQReplayDeliversOnceMore(t *testing.T) {
	e := newEnv(t, envOptions{token: testToken, sinks: []string{"bad"}})
	s := e.sinks["bad"]
	s.reject.Store(true)
	e.write("a.log", 0, 5, 2)
	waitFor(t, "first dead letter", func() bool { ds, _ := e.p.DLQ("bad"); return len(ds) == 1 })
	e.write("b.log", 10, 5, 12)
	waitFor(t, "second dead letter", func() bool { ds, _ := e.p.DLQ("bad"); return len(ds) == 2 })
	e.write("c.log", 20, 5, 22)
	waitFor(t, "third dead letter", func() bool { ds, _ := e.p.DLQ("bad"); return len(ds) == 3 })
	ds, _ := e.p.DLQ("bad")
	s.reject.Store(false) // the cause is fixed

	e.wantError("POST", fmt.Sprintf("/api/v1/dlq/bad/%d/replay", ds[0].From), "", "", 401, "Bearer")
	e.wantError("POST", "/api/v1/dlq/nope/1/replay", testToken, "", 404, "unknown sink")
	e.wantError("POST", "/api/v1/dlq/bad/999999/replay", testToken, "", 404, "does not exist")
	code, b := e.call("POST", fmt.Sprintf("/api/v1/dlq/bad/%d/replay", ds[0].From), testToken, "")
	if code != 200 || string(b) != `{"replayed":1}`+"\n" {
		t.Fatalf("replay = %d %s", code, b)
	}
	waitFor(t, "bad-2 delivered", func() bool { return s.count("bad-2") == 1 })
	code, b = e.call("DELETE", fmt.Sprintf("/api/v1/dlq/bad/%d", ds[1].From), testToken, "")
	if code != 200 || string(b) != `{"purged":1}`+"\n" {
		t.Fatalf("purge = %d %s", code, b)
	}
	e.wantError("DELETE", fmt.Sprintf("/api/v1/dlq/bad/%d", ds[1].From), testToken, "", 404, "does not exist")
	code, b = e.call("POST", "/api/v1/dlq/bad/replay", testToken, "")
	if code != 200 || string(b) != `{"replayed":1}`+"\n" {
		t.Fatalf("replay all = %d %s", code, b)
	}
	waitFor(t, "bad-22 delivered", func() bool { return s.count("bad-22") == 1 })
	waitFor(t, "retry queue empty", func() bool { st, _ := e.p.SinkStatus("bad"); return st.RetryRanges == 0 && st.DLQRanges == 0 })
	e.write("a.log", 5, 1) // a marker after everything
	waitFor(t, "marker", func() bool { return s.count("line-5") == 1 })
	if s.count("bad-2") != 1 || s.count("bad-22") != 1 || s.count("bad-12") != 0 {
		t.Fatalf("bad-2 %d, bad-22 %d, purged bad-12 %d times", s.count("bad-2"), s.count("bad-22"), s.count("bad-12"))
	}
}

// TestStatusAgreesWithMetrics: with a sink down and retry ranges waiting,
// /api/v1/status and /metrics tell the same lag, cursor, retries and dead
// letters.
func TestStatusAgreesWithMetrics(t *testing.T) {
	e := newEnv(t, envOptions{token: testToken})
	e.sinks["good"].down.Store(true)
	e.sinks["bad"].reject.Store(true)
	e.write("a.log", 0, 40, 3)
	waitFor(t, "good has retry ranges", func() bool { st, _ := e.p.SinkStatus("good"); return st.RetryEntries > 0 })
	waitFor(t, "bad has a dead letter", func() bool { st, _ := e.p.SinkStatus("bad"); return st.DLQEntries > 0 })
	// Wait for a state the metrics (written every commit tick) have caught.
	var st pipeline.Status
	var metrics string
	waitFor(t, "status and metrics agree", func() bool {
		e.get("/api/v1/status", &st)
		_, b := e.call("GET", "/metrics", "", "")
		metrics = string(b)
		for _, s := range st.Sinks {
			for name, v := range map[string]float64{
				"logcapturer_sink_lag_entries": float64(s.LagEntries), "logcapturer_sink_lag_bytes": float64(s.LagBytes),
				"logcapturer_sink_lag_blocks": float64(s.LagBlocks), "logcapturer_sink_cursor": float64(s.Cursor),
				"logcapturer_retry_queue_entries": float64(s.RetryEntries), "logcapturer_retry_queue_ranges": float64(s.RetryRanges),
				"logcapturer_dlq_entries": float64(s.DLQEntries),
			} {
				if metric(metrics, name, s.Name) != v {
					return false
				}
			}
		}
		return true
	})
	good := st.Sinks[0]
	if good.LagEntries != 40 || good.State == pipeline.SinkOK {
		t.Fatalf("good = %+v: a down sink must show all 40 lines as lag", good)
	}
}

// metric returns the value of name{sink="sink"} in a text exposition.
func metric(text, name, sink string) float64 {
	re := regexp.MustCompile(`(?m)^` + name + `\{sink="` + regexp.QuoteMeta(sink) + `"\} (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestPProfOnlyWhenEnabled: /debug/pprof/ is served with Options.PProf
// (admin.pprof) only.
func TestPProfOnlyWhenEnabled(t *testing.T) {
	e := newEnv(t, envOptions{sinks: []string{"good"}})
	if code, _ := e.call("GET", "/debug/pprof/", "", ""); code != 404 {
		t.Fatalf("pprof off = %d", code)
	}
	s, err := New(nil, Options{Listen: "127.0.0.1:0", Pipeline: e.p, Gatherer: e.reg, PProf: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr() + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("pprof on = %d", resp.StatusCode)
	}
}

// TestReloadAnswers: POST /-/reload answers 200 "unchanged" with the
// sinks whose output files were reopened, 500 when reopening failed, and
// 202 "reloading" with what changes.
func TestReloadAnswers(t *testing.T) {
	e := newEnv(t, envOptions{sinks: []string{"good"}})
	var mu sync.Mutex
	var res ReloadResult
	s, err := New(nil, Options{Listen: "127.0.0.1:0", Pipeline: e.p, Gatherer: e.reg, Token: "tok",
		Reload: func(context.Context) (ReloadResult, error) { mu.Lock(); defer mu.Unlock(); return res, nil }})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	post := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr()+"/-/reload", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	for _, tc := range []struct {
		res  ReloadResult
		code int
		body string
	}{
		{ReloadResult{Reopened: []string{"out"}}, 200, `{"result":"unchanged","changes":[],"reopened":["out"]}`},
		{ReloadResult{}, 200, `{"result":"unchanged","changes":[],"reopened":[]}`},
		{ReloadResult{ReopenError: errors.New("file sink out: reopen: create /x: permission denied")}, 500,
			`{"error":"config unchanged; reopen output files: file sink out: reopen: create /x: permission denied"}`},
		{ReloadResult{Changes: []string{"sinks added b"}}, 202, `{"result":"reloading","changes":["sinks added b"],"reopened":[]}`},
	} {
		mu.Lock()
		res = tc.res
		mu.Unlock()
		if code, body := post(); code != tc.code || body != tc.body {
			t.Errorf("%+v: %d %s, want %d %s", tc.res, code, body, tc.code, tc.body)
		}
	}
}
