package otlp

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/logcapturer/logcapturer/internal/jsonstr"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/receiver"
)

// LogsPath is the OTLP/HTTP logs endpoint.
const LogsPath = "/v1/logs"

// Content types of OTLP/HTTP.
const (
	contentProtobuf = "application/x-protobuf"
	contentJSON     = "application/json"
)

// Source is an otlp source: a receiver.Server with the OTLP/HTTP logs
// endpoint.
type Source struct {
	name     string
	m        *mapping
	srv      *receiver.Server
	decoders sync.Pool // *decoder
}

var _ sources.Source = (*Source)(nil)

// New returns the source c describes, not listening yet (Start binds the
// address). deps.Emitter is required.
func New(deps sources.Deps, c *Config) (*Source, error) {
	s := &Source{name: deps.Name, m: newMapping(deps.Labels, c.resource(), c.severity())}
	s.decoders.New = func() any { return newDecoder(s.m, s.name, blockBytes) }
	srv, err := c.keys().NewServer(deps, Type)
	if err != nil {
		return nil, err
	}
	srv.Handle("POST "+LogsPath, receiver.Endpoint{Decode: s.decode, OKStatus: http.StatusOK, Respond: respond})
	s.srv = srv
	return s, nil
}

// Name is the source's name.
func (s *Source) Name() string { return s.name }

// Type is "otlp".
func (s *Source) Type() string { return Type }

// Files is nil: a push receiver reads no file (the status shows Push).
func (s *Source) Files() []sources.FileStatus { return nil }

// Push is the receiver's status: address, bytes in flight, last export,
// recent clients. Safe for concurrent use.
func (s *Source) Push() sources.PushStatus { return s.srv.Status() }

// Addr is the address listened on; nil before Start.
func (s *Source) Addr() net.Addr { return s.srv.Addr() }

// Start listens and serves until ctx ends or Close; an address that
// cannot be bound is an error.
func (s *Source) Start(ctx context.Context) error { return s.srv.Start(ctx) }

// Close stops the listener (see receiver.Server.Close); idempotent.
func (s *Source) Close() error { return s.srv.Close() }

// isJSON reports whether the request is OTLP/JSON (else protobuf).
func isJSON(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == contentJSON
}

// decode turns one export request into blocks. The body is protobuf or
// JSON as its Content-Type says (415 for any other).
func (s *Source) decode(req *receiver.Request) ([]sources.Record, error) {
	body := req.Body
	ct := req.HTTP.Header.Get("Content-Type")
	switch mt, _, _ := mime.ParseMediaType(ct); mt {
	case contentProtobuf:
	case contentJSON:
		var err error
		if body, err = jsonToProto(body); err != nil {
			return nil, badRequest(err)
		}
	default:
		return nil, &receiver.Error{Code: http.StatusUnsupportedMediaType,
			Msg: fmt.Sprintf("Content-Type %q: want %s or %s", ct, contentProtobuf, contentJSON)}
	}
	d := s.decoders.Get().(*decoder)
	defer s.decoders.Put(d)
	blocks, err := d.decode(body, req.Received.UTC().UnixNano())
	if err != nil {
		return nil, badRequest(err)
	}
	recs := make([]sources.Record, len(blocks))
	for i, b := range blocks {
		recs[i] = sources.Record{Entries: b.entries, Bytes: b.bytes, Data: b.data}
	}
	return recs, nil
}

func badRequest(err error) error {
	return receiver.BadRequest("%s", strings.TrimPrefix(err.Error(), errMalformed.Error()+": "))
}

// respond writes every answer in the request's encoding, as OTLP/HTTP
// asks: a durable export is 200 with an empty ExportLogsServiceResponse
// (no partial_success: every record was taken); a refusal its status with
// a google.rpc.Status holding the message.
func respond(w http.ResponseWriter, r *http.Request, code int, msg string) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	json := isJSON(r)
	if json {
		h.Set("Content-Type", contentJSON)
	} else {
		h.Set("Content-Type", contentProtobuf)
	}
	var body []byte
	switch {
	case code < 300 && json:
		body = []byte("{}")
	case code < 300:
		// An empty message: no bytes.
	case json:
		body = fmt.Appendf(nil, `{"code":%d,"message":`, rpcCode(code))
		body = append(jsonstr.AppendBytes(body, []byte(msg)), '}')
	default:
		body = protowire.AppendTag(body, 1, protowire.VarintType)
		body = protowire.AppendVarint(body, uint64(rpcCode(code)))
		body = protowire.AppendTag(body, 2, protowire.BytesType)
		body = protowire.AppendString(body, msg)
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// rpcCode is the google.rpc.Code of an HTTP status, as gRPC maps them.
func rpcCode(code int) int {
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return 3 // INVALID_ARGUMENT
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusNotFound:
		return 5 // NOT_FOUND
	case http.StatusMethodNotAllowed:
		return 12 // UNIMPLEMENTED
	case http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	}
	return 13 // INTERNAL
}
