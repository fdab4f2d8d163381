package otlptest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	collogs "go.opentelemetry.io/proto/slim/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/slim/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/slim/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// MaxBodyBytes caps a request body, compressed or not.
const MaxBodyBytes = 256 << 20

// Record is one received LogRecord with the resource and scope it came
// under.
type Record struct {
	// Resource is the resource's attributes, values as text (bytes as
	// "bytes:<hex>").
	Resource map[string]string
	Scope    string
	*logspb.LogRecord
}

// Body returns the record's body as text and whether it was a
// bytes_value.
func (r Record) Body() (string, bool) {
	if b, ok := r.GetBody().GetValue().(*commonpb.AnyValue_BytesValue); ok {
		return string(b.BytesValue), true
	}
	return r.GetBody().GetStringValue(), false
}

// Attrs returns the record's attributes, values as text (bytes as
// "bytes:<hex>").
func (r Record) Attrs() map[string]string { return KeyValues(r.Attributes) }

// KeyValues returns attributes as a map, values as text (AnyText).
func KeyValues(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = AnyText(kv.Value)
	}
	return m
}

// AnyText renders an AnyValue as text: a string as itself, bytes as
// "bytes:<hex>", anything else as its protobuf text.
func AnyText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BytesValue:
		return "bytes:" + hex.EncodeToString(x.BytesValue)
	}
	return fmt.Sprint(v)
}

// Request describes one request the receiver answered.
type Request struct {
	Header   http.Header
	Encoding string // "protobuf" or "json"
	Gzip     bool
	Message  *collogs.ExportLogsServiceRequest // nil when it did not decode or SetDiscard is on
	Records  int
	Status   int
}

// Reply is how the receiver answers one request.
type Reply struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Body is sent as it is, with ContentType (default: the request's).
	Body        []byte
	ContentType string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Reject, on a 200, refuses the records it returns true for: they are
	// not stored and the answer is a partial success with their count and
	// Message as error_message.
	Reject func(*logspb.LogRecord) bool
	// Rejected, on a 200 without Reject, is the partial success's
	// rejected_log_records as it is (the receiver stores every record).
	Rejected int64
	Message  string
	// Delay holds the answer back (until the client gives up, if sooner).
	Delay time.Duration
}

// Receiver is the test receiver. All methods are safe for concurrent use.
type Receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	cond     chan struct{} // closed and replaced on every change
	queue    []Reply
	def      Reply
	records  []Record
	count    int
	discard  bool
	requests []Request
	problems []string
}

// NewReceiver starts a receiver on a loopback port; it answers at any path.
func NewReceiver() *Receiver {
	r := &Receiver{cond: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// NewTLSReceiver is NewReceiver over TLS, with the server's configuration
// prepared by setup (client certificate checks) before it starts.
func NewTLSReceiver(setup func(*httptest.Server)) *Receiver {
	r := &Receiver{cond: make(chan struct{})}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	if setup != nil {
		setup(r.srv)
	}
	r.srv.StartTLS()
	return r
}

// Server returns the underlying test server (its certificate, client).
func (r *Receiver) Server() *httptest.Server { return r.srv }

// URL is the receiver's /v1/logs URL.
func (r *Receiver) URL() string { return r.srv.URL + "/v1/logs" }

// Close stops the receiver.
func (r *Receiver) Close() { r.srv.Close() }

// SetDefault sets the reply used when no queued reply is left.
func (r *Receiver) SetDefault(rep Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.def = rep
}

// Queue adds replies used, in order, for the next requests.
func (r *Receiver) Queue(reps ...Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = append(r.queue, reps...)
}

// SetDiscard makes the receiver decode and count records without keeping
// them or the decoded requests (benchmarks).
func (r *Receiver) SetDiscard(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.discard = on
}

// Records returns the records stored so far.
func (r *Receiver) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}

// Count returns how many records were stored.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Requests returns the requests answered so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Problems lists requests that did not decode.
func (r *Receiver) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}

// WaitRecords waits until at least n records are stored or timeout passes.
func (r *Receiver) WaitRecords(n int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		r.mu.Lock()
		c, ch := r.count, r.cond
		r.mu.Unlock()
		if c >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("otlptest: %d of %d records after %s", c, n, timeout)
		}
	}
}

func (r *Receiver) changed() {
	close(r.cond)
	r.cond = make(chan struct{})
}

func (r *Receiver) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
	r.changed()
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
	if err != nil {
		r.problem("read body: %v", err)
		return
	}
	info := Request{Header: req.Header.Clone()}
	body := raw
	if ce := req.Header.Get("Content-Encoding"); ce == "gzip" {
		info.Gzip = true
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(zr, MaxBodyBytes+1))
		}
		if err != nil {
			r.fail(w, info, "gunzip: %v", err)
			return
		}
	} else if ce != "" {
		r.fail(w, info, "unknown Content-Encoding %q", ce)
		return
	}
	msg := &collogs.ExportLogsServiceRequest{}
	switch ct := req.Header.Get("Content-Type"); ct {
	case "application/x-protobuf":
		info.Encoding = "protobuf"
		err = proto.Unmarshal(body, msg)
	case "application/json":
		info.Encoding = "json"
		err = protojson.Unmarshal(body, msg)
		if err == nil {
			err = hexIDs(msg)
		}
	default:
		err = fmt.Errorf("unexpected Content-Type %q", ct)
	}
	if err != nil {
		r.fail(w, info, "decode %s request: %v", info.Encoding, err)
		return
	}
	info.Message = msg

	r.mu.Lock()
	rep := r.def
	if len(r.queue) > 0 {
		rep, r.queue = r.queue[0], r.queue[1:]
	}
	r.mu.Unlock()
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
		status = http.StatusOK
	}
	var stored []Record
	rejected := rep.Rejected
	n := 0
	for _, rl := range msg.ResourceLogs {
		res := KeyValues(rl.GetResource().GetAttributes())
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				n++
				if status != http.StatusOK {
					continue
				}
				if rep.Reject != nil && rep.Reject(lr) {
					rejected++
					continue
				}
				stored = append(stored, Record{Resource: res, Scope: sl.GetScope().GetName(), LogRecord: lr})
			}
		}
	}
	info.Records, info.Status = n, status
	r.mu.Lock()
	r.count += len(stored)
	if r.discard {
		info.Message = nil // keeps nothing of the request
	} else {
		r.records = append(r.records, stored...)
	}
	r.requests = append(r.requests, info)
	r.changed()
	r.mu.Unlock()

	ct := rep.ContentType
	if ct == "" {
		ct = req.Header.Get("Content-Type")
	}
	out := rep.Body
	if out == nil && status == http.StatusOK {
		resp := &collogs.ExportLogsServiceResponse{}
		if rejected > 0 || rep.Message != "" {
			resp.PartialSuccess = &collogs.ExportLogsPartialSuccess{RejectedLogRecords: rejected, ErrorMessage: rep.Message}
		}
		if info.Encoding == "json" {
			out, _ = protojson.Marshal(resp)
		} else {
			out, _ = proto.Marshal(resp)
		}
	}
	w.Header().Set("Content-Type", ct)
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

func (r *Receiver) fail(w http.ResponseWriter, info Request, format string, args ...any) {
	r.problem(format, args...)
	info.Status = http.StatusBadRequest
	r.mu.Lock()
	r.requests = append(r.requests, info)
	r.mu.Unlock()
	http.Error(w, fmt.Sprintf(format, args...), http.StatusBadRequest)
}

// hexIDs undoes protojson's reading of trace and span ids as base64: OTLP/JSON
// sends them as hex, which protojson decodes as base64 (hex digits are
// base64 digits, and 32 or 16 of them decode without padding). Encoding the
// bytes back gives the hex text the sender wrote.
func hexIDs(msg *collogs.ExportLogsServiceRequest) error {
	for _, rl := range msg.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				for _, id := range []*[]byte{&lr.TraceId, &lr.SpanId} {
					if len(*id) == 0 {
						continue
					}
					b, err := hex.DecodeString(base64.StdEncoding.EncodeToString(*id))
					if err != nil {
						return fmt.Errorf("an id is not hex: %w", err)
					}
					*id = b
				}
			}
		}
	}
	return nil
}
