package lokitest

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
)

// PushPath is the path of Loki's push endpoint.
const PushPath = "/loki/api/v1/push"

// MaxBodyBytes caps a request body, compressed or not (Loki's default
// distributor limit is far higher; this only guards tests).
const MaxBodyBytes = 256 << 20

// Entry is one received log entry.
type Entry struct {
	Tenant   string // the push's X-Scope-OrgID ("" when none)
	Labels   string // the stream selector as sent
	Time     int64  // Unix ns, UTC
	Line     string
	Metadata []Label // structured metadata, in the order sent
}

// Request describes one push the receiver answered.
type Request struct {
	Header   http.Header
	Encoding string // "protobuf" or "json"; "" when the body was not decoded
	Streams  int
	Entries  int // entries in the push
	Refused  int // of those, refused under SetLimits
	Bytes    int // body bytes as received
	Status   int // the status answered (0: connection dropped)
}

// Reply is how the receiver answers one request.
type Reply struct {
	// Status is the HTTP status; 0 means 204 No Content.
	Status int
	// Body is the text/plain body (Loki's message).
	Body string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Delay holds the answer back (until the client gives up, if sooner).
	Delay time.Duration
	// Drop closes the connection without answering.
	Drop bool
	// Store records the request's entries although Status is not 2xx (a
	// partial success). A 2xx always stores.
	Store bool
}

// Receiver is an in-process Loki push endpoint for tests. It decodes
// protobuf bodies with Loki's own push types (github.com/grafana/loki/pkg/push)
// after snappy block decompression, and JSON bodies in Loki's JSON push
// format. It checks what Loki checks for syntax and what the loki sink
// promises (Content-Type, snappy, label syntax, entries of a stream sorted by
// time within one push); a request that fails a check is answered 400 and
// listed by Problems. Then it answers with the next queued Reply, or the
// default (204). All methods are safe for concurrent use.
type Receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	queue    []Reply
	def      Reply
	tenants  map[string]Reply // SetTenantReply
	entries  []Entry
	count    int  // entries accepted, stored or not
	discard  bool // count entries without storing them
	limits   *Limits
	refused  []Entry
	requests []Request
	problems []string
	aborted  int           // pushes whose body ended early: the client went away
	changed  chan struct{} // closed and replaced whenever something is recorded
}

// NewReceiver starts a receiver on a loopback port. Close it.
func NewReceiver() *Receiver {
	return start(false)
}

// NewTLSReceiver is NewReceiver serving https with a self-signed
// certificate for 127.0.0.1; CertPEM returns it for a client's CA file.
func NewTLSReceiver() *Receiver {
	return start(true)
}

func start(tls bool) *Receiver {
	r := &Receiver{changed: make(chan struct{})}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	// Handshake failures and dropped connections are what some tests
	// provoke; keep them out of the test output.
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	return r
}

// CertPEM returns the PEM of a TLS receiver's certificate (nil for http).
func (r *Receiver) CertPEM() []byte {
	if r.srv.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw})
}

// URL returns the push URL (server URL + PushPath).
func (r *Receiver) URL() string { return r.srv.URL + PushPath }

// Close shuts the server down, closing its connections.
func (r *Receiver) Close() {
	r.srv.CloseClientConnections()
	r.srv.Close()
}

// Reply queues answers for the next requests, one each, in order.
func (r *Receiver) Reply(rs ...Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = append(r.queue, rs...)
}

// SetDefault sets the answer used once the queue is empty (initially 204).
func (r *Receiver) SetDefault(rep Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.def = rep
}

// SetTenantReply makes the receiver answer every push of tenant (its
// X-Scope-OrgID) with rep, before the queue and the default; a Reply with
// Status 0 removes the rule.
func (r *Receiver) SetTenantReply(tenant string, rep Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tenants == nil {
		r.tenants = make(map[string]Reply)
	}
	if rep.Status == 0 {
		delete(r.tenants, tenant)
		return
	}
	r.tenants[tenant] = rep
}

// SetDiscard makes the receiver count accepted entries without storing
// them (for benchmarks: decoding and checks still run in full).
func (r *Receiver) SetDiscard(discard bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.discard = discard
}

// Entries returns the stored entries in arrival order.
func (r *Receiver) Entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Entry(nil), r.entries...)
}

// Count returns the number of accepted entries (stored or discarded),
// duplicates included.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Requests returns every request answered so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Aborted returns how many pushes ended before their body did (the
// client went away mid-push); they are not Problems.
func (r *Receiver) Aborted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.aborted
}

// Problems returns the protocol violations seen (each was answered 400).
func (r *Receiver) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}

// Wait blocks until cond (called with Count and the
// number of requests, under no lock) holds or ctx is done.
func (r *Receiver) Wait(ctx context.Context, cond func(entries, requests int) bool) error {
	for {
		r.mu.Lock()
		n, q, ch := r.count, len(r.requests), r.changed
		r.mu.Unlock()
		if cond(n, q) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for receiver (%d entries, %d requests): %w", n, q, ctx.Err())
		}
	}
}

// WaitEntries waits until Count is at least n or timeout passes.
func (r *Receiver) WaitEntries(n int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return r.Wait(ctx, func(e, _ int) bool { return e >= n })
}

func (r *Receiver) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// SetLimits makes the receiver check every entry against l as Loki's
// distributor does, store the valid ones and answer 400 listing the others
// (see Limits); nil turns it off. A queued Reply still takes precedence;
// the checks replace only the default answer.
func (r *Receiver) SetLimits(l *Limits) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l != nil {
		c := *l
		l = &c
	}
	r.limits = l
}

// Refused returns the entries refused under SetLimits, in arrival order,
// duplicates included.
func (r *Receiver) Refused() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Entry(nil), r.refused...)
}

// next returns the answer to the next request: a queued reply, else the
// default, else (limits not nil) the checks' answer.
func (r *Receiver) next(tenant string) (Reply, *Limits) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rep, ok := r.tenants[tenant]; ok {
		return rep, nil
	}
	if len(r.queue) > 0 {
		rep := r.queue[0]
		r.queue = r.queue[1:]
		return rep, nil
	}
	return r.def, r.limits
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// The connection closed before the body's end: the client
		// went away (a test kill -9s it mid-push). No protocol
		// problem, and no one to answer.
		r.mu.Lock()
		r.aborted++
		r.mu.Unlock()
		return
	}
	info := Request{Header: req.Header.Clone(), Bytes: len(body)}
	var entries []Entry
	switch {
	case req.Method != http.MethodPost:
		err = fmt.Errorf("method %s: want POST", req.Method)
	case req.URL.Path != PushPath:
		err = fmt.Errorf("path %s: want %s", req.URL.Path, PushPath)
	case err != nil:
		err = fmt.Errorf("read body: %w", err)
	case len(body) > MaxBodyBytes:
		err = fmt.Errorf("body exceeds %d bytes", MaxBodyBytes)
	default:
		info.Encoding, entries, info.Streams, err = decode(req.Header, body)
	}
	info.Entries = len(entries)
	if err != nil {
		r.mu.Lock()
		r.problems = append(r.problems, err.Error())
		info.Status = http.StatusBadRequest
		r.requests = append(r.requests, info)
		r.notifyLocked()
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tenant := req.Header.Get("X-Scope-OrgID")
	for i := range entries {
		entries[i].Tenant = tenant
	}
	rep, limits := r.next(tenant)
	var refused []Entry
	if limits != nil {
		var msgs []string
		entries, refused, msgs = limits.validate(entries)
		info.Refused = len(refused)
		if len(msgs) > 0 {
			rep.Status, rep.Body, rep.Store = http.StatusBadRequest, Grouped(msgs), true
		}
	}
	if rep.Delay > 0 {
		t := time.NewTimer(rep.Delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
		}
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusNoContent
	}
	if rep.Drop {
		status = 0
	}
	r.mu.Lock()
	info.Status = status
	r.requests = append(r.requests, info)
	if status/100 == 2 || rep.Store && !rep.Drop {
		r.count += len(entries)
		if !r.discard {
			r.entries = append(r.entries, entries...)
		}
		r.refused = append(r.refused, refused...)
	}
	r.notifyLocked()
	r.mu.Unlock()
	if rep.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // aborts the response; the client sees a broken connection
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	http.Error(w, rep.Body, status)
}

// decode checks the Content-Type and decodes the body into entries.
func decode(h http.Header, body []byte) (encoding string, entries []Entry, streams int, err error) {
	ct, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return "", nil, 0, fmt.Errorf("content-type %q: %w", h.Get("Content-Type"), err)
	}
	switch ct {
	case "application/x-protobuf":
		if ce := h.Get("Content-Encoding"); ce != "" {
			return "", nil, 0, fmt.Errorf("content-encoding %q on a protobuf push: want none (snappy is implied)", ce)
		}
		entries, streams, err = DecodeProtobuf(body)
		return "protobuf", entries, streams, err
	case "application/json":
		if ce := h.Get("Content-Encoding"); ce != "" {
			return "", nil, 0, fmt.Errorf("content-encoding %q: this receiver takes plain JSON", ce)
		}
		entries, streams, err = DecodeJSON(body)
		return "json", entries, streams, err
	}
	return "", nil, 0, fmt.Errorf("content-type %q: want application/x-protobuf or application/json", ct)
}

// DecodeProtobuf decodes a snappy-compressed (block format)
// logproto.PushRequest with Loki's push types and checks it.
func DecodeProtobuf(body []byte) ([]Entry, int, error) {
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, 0, fmt.Errorf("snappy: %w", err)
	}
	var pr push.PushRequest
	if err := pr.Unmarshal(raw); err != nil {
		return nil, 0, fmt.Errorf("unmarshal PushRequest: %w", err)
	}
	var out []Entry
	for _, s := range pr.Streams {
		if _, err := ParseLabels(s.Labels); err != nil {
			return nil, 0, err
		}
		for i, e := range s.Entries {
			if i > 0 && e.Timestamp.Before(s.Entries[i-1].Timestamp) {
				return nil, 0, fmt.Errorf("stream %s: entry %d at %s is before entry %d", s.Labels, i, e.Timestamp, i-1)
			}
			ent := Entry{Labels: s.Labels, Time: e.Timestamp.UnixNano(), Line: e.Line}
			for _, m := range e.StructuredMetadata {
				if err := checkMetadata(m.Name, m.Value); err != nil {
					return nil, 0, fmt.Errorf("stream %s: %w", s.Labels, err)
				}
				ent.Metadata = append(ent.Metadata, Label{m.Name, m.Value})
			}
			out = append(out, ent)
		}
	}
	return out, len(pr.Streams), nil
}

func checkMetadata(name, value string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("structured metadata: %w", err)
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("structured metadata %s: value is not valid UTF-8", name)
	}
	return nil
}

// jsonPush is Loki's JSON push format (pkg/loghttp/push).
type jsonPush struct {
	Streams []struct {
		Stream map[string]string   `json:"stream"`
		Values [][]json.RawMessage `json:"values"`
	} `json:"streams"`
}

// DecodeJSON decodes a body in Loki's JSON push format,
//
//	{"streams":[{"stream":{"a":"b"},"values":[["<ns>","line"],["<ns>","line",{"k":"v"}]]}]}
//
// with timestamps as decimal strings of Unix ns, and checks it.
func DecodeJSON(body []byte) ([]Entry, int, error) {
	if !utf8.Valid(body) {
		return nil, 0, errors.New("json body is not valid UTF-8")
	}
	var p jsonPush
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, 0, fmt.Errorf("json push: %w", err)
	}
	var out []Entry
	for _, s := range p.Streams {
		ls := make([]Label, 0, len(s.Stream))
		for k, v := range s.Stream {
			ls = append(ls, Label{k, v})
		}
		sortLabels(ls)
		sel := Labels(ls...)
		if _, err := ParseLabels(sel); err != nil {
			return nil, 0, err
		}
		var prev int64
		for i, v := range s.Values {
			if len(v) != 2 && len(v) != 3 {
				return nil, 0, fmt.Errorf("stream %s: value %d has %d elements, want 2 or 3", sel, i, len(v))
			}
			var ts, line string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				return nil, 0, fmt.Errorf("stream %s: value %d: timestamp must be a string of ns: %w", sel, i, err)
			}
			t, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("stream %s: value %d: timestamp %q: %w", sel, i, ts, err)
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				return nil, 0, fmt.Errorf("stream %s: value %d: line: %w", sel, i, err)
			}
			if i > 0 && t < prev {
				return nil, 0, fmt.Errorf("stream %s: value %d at %d is before value %d", sel, i, t, i-1)
			}
			prev = t
			ent := Entry{Labels: sel, Time: t, Line: line}
			if len(v) == 3 {
				var md map[string]string
				if err := json.Unmarshal(v[2], &md); err != nil {
					return nil, 0, fmt.Errorf("stream %s: value %d: structured metadata: %w", sel, i, err)
				}
				for k, val := range md {
					if err := checkMetadata(k, val); err != nil {
						return nil, 0, fmt.Errorf("stream %s: %w", sel, err)
					}
					ent.Metadata = append(ent.Metadata, Label{k, val})
				}
				sortLabels(ent.Metadata)
			}
			out = append(out, ent)
		}
	}
	return out, len(p.Streams), nil
}

func sortLabels(ls []Label) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Name < ls[j-1].Name; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}
