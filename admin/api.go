package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
)

// errorBody is every error's JSON: {"error": "..."}, plus the retained
// range for a 409.
type errorBody struct {
	Error    string    `json:"error"`
	Range    *walRange `json:"range,omitempty"`
	Known    []string  `json:"known,omitempty"`
	Problems []string  `json:"problems,omitempty"`
}

type walRange struct {
	After      bool      `json:"after"` // what was asked for lies after the newest entry (else before the oldest)
	FirstIndex uint64    `json:"first_index"`
	LastIndex  uint64    `json:"last_index"`
	FirstTime  time.Time `json:"first_time"`
	LastTime   time.Time `json:"last_time"`
}

// badRequest is a client's mistake: 400 naming the field.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		code, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"error":"encode the answer"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes()) // a client that went away
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// fail answers err with the status it calls for; only what is no
// client's fault is a 500 (logged, without a stack).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		bad     *badRequest
		unknown *pipeline.UnknownSinkError
		nf      *pipeline.NotFoundError
		re      *pipeline.RangeError
	)
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.msg)
	case errors.As(err, &unknown):
		writeJSON(w, http.StatusNotFound, errorBody{Error: unknown.Error(), Known: append([]string{}, unknown.Known...)})
	case errors.As(err, &nf):
		writeError(w, http.StatusNotFound, nf.Error())
	case errors.As(err, &re):
		writeJSON(w, http.StatusConflict, errorBody{Error: re.Error(), Range: &walRange{After: re.After,
			FirstIndex: re.FirstIndex, LastIndex: re.LastIndex, FirstTime: re.FirstTime, LastTime: re.LastTime}})
	case errors.Is(err, pipeline.ErrNotRunning), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		s.logger.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func (s *Server) statusNow() pipeline.Status {
	st := s.p.Status()
	st.Version = s.opts.Version
	return st
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.statusNow())
}

func (s *Server) sinks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"sinks": s.p.Status().Sinks})
}

func (s *Server) sink(w http.ResponseWriter, r *http.Request) {
	st, err := s.p.SinkStatus(r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) sources(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"sources": s.p.SourcesStatus()})
}

// rewindBody is POST /api/v1/sinks/{name}/rewind's body: exactly one of
// index, time and to ("oldest" or "newest").
type rewindBody struct {
	Index *json.Number
	Time  *string
	To    *string
}

// decodeRewind decodes the body field by field, so a wrong type names its
// field.
func decodeRewind(w http.ResponseWriter, r *http.Request) (rewindBody, error) {
	var raw map[string]json.RawMessage
	if err := decodeBody(w, r, &raw); err != nil {
		return rewindBody{}, err
	}
	var b rewindBody
	for k, v := range raw {
		var x any
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&x); err != nil {
			return b, badf("%s: %v", k, err)
		}
		switch k {
		case "index":
			n, ok := x.(json.Number)
			if !ok {
				return b, badf("index: want a number (a WAL index), got %s", v)
			}
			b.Index = &n
		case "time":
			s, ok := x.(string)
			if !ok {
				return b, badf("time: want a string (an RFC 3339 time), got %s", v)
			}
			b.Time = &s
		case "to":
			s, ok := x.(string)
			if !ok || (s != "oldest" && s != "newest") {
				return b, badf(`to: want "oldest" or "newest", got %s`, v)
			}
			b.To = &s
		default:
			return b, badf(`unknown field %q; want {"index": N}, {"time": "2026-12-01T10:00:00Z"} or {"to": "oldest"|"newest"}`, k)
		}
	}
	return b, nil
}

func (s *Server) rewind(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := s.p.SinkStatus(name); err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := decodeRewind(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var res pipeline.RewindResult
	given := 0
	for _, f := range []bool{body.Index != nil, body.Time != nil, body.To != nil} {
		if f {
			given++
		}
	}
	switch {
	case given > 1:
		err = badf(`give one of "index", "time" and "to", not several`)
	case body.Index != nil:
		var i uint64
		if i, err = parseIndex("index", body.Index.String()); err == nil {
			res, err = s.p.RewindToIndex(r.Context(), name, i)
		}
	case body.Time != nil:
		var t time.Time
		if t, err = parseTime("time", *body.Time); err == nil {
			res, err = s.p.RewindToTime(r.Context(), name, t)
		}
	case body.To != nil && *body.To == "oldest":
		res, err = s.p.RewindToOldest(r.Context(), name)
	case body.To != nil:
		res, err = s.p.RewindToNewest(r.Context(), name)
	default:
		err = badf(`want {"index": N}, {"time": "2026-12-01T10:00:00Z"} or {"to": "oldest"|"newest"}`)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// decodeBody decodes one JSON object of at most 64 KiB, refusing unknown
// fields and trailing data.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		var me *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return badf("empty body: want a JSON object")
		case errors.As(err, &se):
			return badf("bad JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return badf("%s: want a %s, got a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &me):
			return badf("body larger than %d bytes", me.Limit)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return badf("bad JSON: %v", err)
	}
	if dec.More() {
		return badf("bad JSON: data after the object")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "ptr", "string":
		return "string"
	}
	return k
}

// parseIndex parses a WAL index: a non-negative integer.
func parseIndex(field, v string) (uint64, error) {
	i, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, badf("%s: must be a non-negative integer (a WAL index), got %q", field, v)
	}
	return i, nil
}

// parseTime parses an RFC 3339 time, which must carry a zone.
func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04"} {
		if _, e := time.Parse(layout, v); e == nil {
			return time.Time{}, badf("%s: %q has no time zone: add Z (UTC) or an offset such as +02:00", field, v)
		}
	}
	return time.Time{}, badf("%s: want an RFC 3339 time such as 2026-12-01T10:00:00Z, got %q", field, v)
}

// parseLimit reads ?limit= (default def, 1..MaxEntriesLimit).
func parseLimit(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > pipeline.MaxEntriesLimit {
		return 0, badf("limit: must be an integer from 1 to %d, got %q", pipeline.MaxEntriesLimit, v)
	}
	return n, nil
}

func (s *Server) dlq(w http.ResponseWriter, r *http.Request) {
	ds, err := s.p.DLQ(r.URL.Query().Get("sink"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": ds})
}

// dlqTarget parses {sink} and {from} and checks both exist.
func (s *Server) dlqTarget(r *http.Request) (string, uint64, error) {
	sink := r.PathValue("sink")
	from, err := parseIndex("from", r.PathValue("from"))
	if err != nil {
		return "", 0, err
	}
	if _, _, err := s.p.DLQEntries(sink, from, 1); err != nil {
		return "", 0, err
	}
	return sink, from, nil
}

func (s *Server) dlqEntry(w http.ResponseWriter, r *http.Request) {
	from, err := parseIndex("from", r.PathValue("from"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit, err := parseLimit(r, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, es, err := s.p.DLQEntries(r.PathValue("sink"), from, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letter": d, "entries": es})
}

func (s *Server) dlqReplay(w http.ResponseWriter, r *http.Request) {
	sink, from, err := s.dlqTarget(r)
	if err == nil {
		var n int
		if n, err = s.p.ReplayDLQ(sink, from); err == nil {
			writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
			return
		}
	}
	s.fail(w, r, err)
}

func (s *Server) dlqReplayAll(w http.ResponseWriter, r *http.Request) {
	sink := r.PathValue("sink")
	if _, err := s.p.DLQ(sink); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.p.ReplayDLQ(sink, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
}

func (s *Server) dlqPurge(w http.ResponseWriter, r *http.Request) {
	sink, from, err := s.dlqTarget(r)
	if err == nil {
		var n int
		if n, err = s.p.PurgeDLQ(sink, from); err == nil {
			writeJSON(w, http.StatusOK, map[string]int{"purged": n})
			return
		}
	}
	s.fail(w, r, err)
}

func (s *Server) walEntries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := parseLimit(r, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	from, ts := q.Get("from"), q.Get("time")
	var es []pipeline.Entry
	switch {
	case from != "" && ts != "":
		err = badf("give either from=INDEX or time=RFC3339, not both")
	case from != "":
		var i uint64
		if i, err = parseIndex("from", from); err == nil {
			es, err = s.p.WALEntries(i, limit)
		}
	case ts != "":
		var t time.Time
		if t, err = parseTime("time", ts); err == nil {
			es, err = s.p.WALEntriesAt(t, limit)
		}
	default:
		err = badf("want from=INDEX or time=RFC3339 (and limit=K)")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es})
}

// reloadAnswer answers POST /-/reload.
type reloadAnswer struct {
	// Result is "reloading" (the new config replaces the running one once
	// this answer is sent) or "unchanged" (the output files were
	// reopened).
	Result  string   `json:"result"`
	Changes []string `json:"changes"`
	// Reopened names the sinks whose output files were reopened.
	Reopened []string `json:"reopened"`
}

// reload checks the config file, as SIGHUP does: 400 with the problems
// (file:line: key: message, one each) and the running config stays; 202
// when a reload follows this answer; 200 when nothing changed, once the
// output files are reopened (500 when that failed).
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reload == nil {
		writeError(w, http.StatusNotImplemented, "this server cannot reload its config")
		return
	}
	res, err := s.opts.Reload(r.Context())
	if err != nil {
		lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "config refused; the running config stays: " + lines[0], Problems: lines[1:]})
		return
	}
	if len(res.Changes) > 0 {
		writeJSON(w, http.StatusAccepted, reloadAnswer{Result: "reloading", Changes: res.Changes, Reopened: []string{}})
		return
	}
	if res.ReopenError != nil {
		writeError(w, http.StatusInternalServerError, "config unchanged; reopen output files: "+res.ReopenError.Error())
		return
	}
	writeJSON(w, http.StatusOK, reloadAnswer{Result: "unchanged", Changes: []string{}, Reopened: append([]string{}, res.Reopened...)})
}
