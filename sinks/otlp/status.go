package otlp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/sinks"
	"google.golang.org/protobuf/encoding/protowire"
)

// ExportError is the receiver's answer to an export it did not take (in
// full): the status and its message. It is the Err of the
// *sinks.Permanent, *sinks.Retryable or *sinks.Unauthorized that Send
// returns.
type ExportError struct {
	Status int
	// Reason is the short word also used as the failure metric's label.
	Reason string
	// Message is the receiver's message: google.rpc.Status.message of an
	// error, partial_success.error_message of a partial success, else the
	// body as text (trimmed, at most maxMessage bytes).
	Message string
	// Rejected is partial_success.rejected_log_records of a 200 (capped at
	// the records sent); 0 otherwise.
	Rejected int
}

func (e *ExportError) Error() string {
	if e.Rejected > 0 {
		return fmt.Sprintf("otlp receiver answered %d with a partial success: %d log records rejected: %s", e.Status, e.Rejected, e.Message)
	}
	return fmt.Sprintf("otlp receiver answered %d: %s", e.Status, e.Message)
}

// Failure reasons (the reason label of logcapturer_sink_otlp_failures_total).
const (
	ReasonPartial      = "partial"               // 200 with rejected_log_records > 0
	ReasonBadRequest   = "bad_request"           // 400
	ReasonUnauthorized = "unauthorized"          // 401, 403
	ReasonNotFound     = "not_found"             // 404
	ReasonTooLarge     = "too_large"             // 413
	ReasonRejected     = sinks.ReasonRejected    // any other 4xx or unexpected status
	ReasonRateLimited  = "rate_limited"          // 429
	ReasonUnavailable  = "unavailable"           // 502, 503, 504
	ReasonServerError  = "server_error"          // any other 5xx
	ReasonTimeout      = sinks.ReasonTimeout     // our timeout or a 408
	ReasonConnection   = sinks.ReasonConnection  // dial, reset, TLS, dropped connection
	ReasonCredentials  = sinks.ReasonCredentials // a password or token file could not be read
)

var allReasons = []string{ReasonPartial, ReasonBadRequest, ReasonUnauthorized, ReasonNotFound, ReasonTooLarge,
	ReasonRejected, ReasonRateLimited, ReasonUnavailable, ReasonServerError, ReasonTimeout, ReasonConnection,
	ReasonCredentials}

// maxMessage caps the message kept from a response body.
const maxMessage = 1024

// classify maps a non-2xx answer to the sink's error classes, as the
// OTLP/HTTP specification sorts them: 429, 502, 503, 504 retryable with
// Retry-After; 400 and other 4xx permanent; 401 and 403 unauthorized. Other
// 5xx are retryable too (the receiver failed, not the data), and so is 408
// (the receiver gave up waiting for our body).
func classify(status int, contentType string, body []byte, retryAfter string, now time.Time) error {
	ee := &ExportError{Status: status, Message: errorMessage(contentType, body)}
	if ee.Message == "" {
		ee.Message = http.StatusText(status)
	}
	switch {
	case status == http.StatusTooManyRequests:
		ee.Reason = ReasonRateLimited
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		ee.Reason = ReasonUnavailable
	case status == http.StatusRequestTimeout:
		ee.Reason = ReasonTimeout
	case status >= 500 && status < 600:
		ee.Reason = ReasonServerError
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		ee.Reason = ReasonUnauthorized
		// The operator's to fix, not the data's fault: held and retried,
		// never dead-lettered.
		return &sinks.Unauthorized{Err: ee}
	case status == http.StatusBadRequest:
		ee.Reason = ReasonBadRequest
	case status == http.StatusNotFound:
		ee.Reason = ReasonNotFound
	case status == http.StatusRequestEntityTooLarge:
		ee.Reason = ReasonTooLarge
	default:
		ee.Reason = ReasonRejected
	}
	switch ee.Reason {
	case ReasonRateLimited, ReasonUnavailable, ReasonTimeout, ReasonServerError:
		return &sinks.Retryable{Err: ee, After: sinks.ParseRetryAfter(retryAfter, now), Reason: ee.Reason}
	}
	return &sinks.Permanent{Reason: ee.Reason, Err: ee}
}

// errorMessage reads google.rpc.Status.message from an error body in the
// encoding its Content-Type names, else takes the body as text.
func errorMessage(contentType string, body []byte) string {
	var msg string
	switch {
	case len(body) == 0:
	case isJSON(contentType):
		var st struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &st) == nil && st.Message != "" {
			msg = st.Message
		}
	case isProtobuf(contentType):
		msg, _ = protoStatusMessage(body)
	}
	if msg == "" {
		msg = string(body)
	}
	return clip(msg)
}

// clip returns msg trimmed, as valid UTF-8 (U+FFFD for invalid bytes), and
// cut at a character boundary to at most maxMessage bytes plus "…".
// Invalid bytes are replaced before the cut: each becomes three bytes.
func clip(msg string) string {
	msg = strings.TrimSpace(msg)
	if len(msg) > 4*maxMessage {
		msg = msg[:4*maxMessage]
	}
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

func isJSON(ct string) bool     { return strings.Contains(strings.ToLower(ct), "json") }
func isProtobuf(ct string) bool { return strings.Contains(strings.ToLower(ct), "protobuf") }

// protoStatusMessage reads field 2 (message) of a google.rpc.Status.
func protoStatusMessage(b []byte) (string, bool) {
	var msg string
	ok := walkFields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if num == 2 && typ == protowire.BytesType {
			msg = string(v)
		}
	})
	return msg, ok
}

// partialSuccess reads ExportLogsServiceResponse.partial_success from a
// 2xx body, in JSON or protobuf as its Content-Type says (none: protobuf):
// the rejected record count and the message. An empty body is a full
// success; a body in another Content-Type, or one that does not decode,
// reads as a full success too, with ok false.
func partialSuccess(contentType string, body []byte) (rejected int64, msg string, ok bool) {
	if len(body) == 0 {
		return 0, "", true
	}
	if isJSON(contentType) {
		var resp struct {
			Camel *jsonPartial `json:"partialSuccess"`
			Snake *jsonPartial `json:"partial_success"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return 0, "", false
		}
		p := resp.Camel
		if p == nil {
			p = resp.Snake
		}
		if p == nil {
			return 0, "", true
		}
		n, err := p.rejected()
		if err != nil {
			return 0, "", false
		}
		return n, clip(p.Message), true
	}
	if contentType != "" && !isProtobuf(contentType) {
		// Text or HTML from a proxy: not an answer to read a count from.
		return 0, "", false
	}
	ok = walkFields(body, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if num != 1 || typ != protowire.BytesType {
			return
		}
		walkFields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
			switch {
			case num == 1 && typ == protowire.VarintType:
				rejected = int64(x)
			case num == 2 && typ == protowire.BytesType:
				msg = clip(string(v))
			}
		})
	})
	return rejected, msg, ok
}

type jsonPartial struct {
	Camel   json.RawMessage `json:"rejectedLogRecords"`
	Snake   json.RawMessage `json:"rejected_log_records"`
	Message string          `json:"errorMessage"`
}

// rejected reads the count, a JSON number or (int64 in proto JSON) a
// decimal string.
func (p *jsonPartial) rejected() (int64, error) {
	raw := p.Camel
	if raw == nil {
		raw = p.Snake
	}
	if raw == nil {
		return 0, nil
	}
	s := strings.Trim(string(raw), `"`)
	return strconv.ParseInt(s, 10, 64)
}

// walkFields calls f for each top-level field of the protobuf message b
// (v: a length-delimited field's bytes; x: a varint's value) and reports
// whether b parsed to its end.
func walkFields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			f(num, typ, nil, x)
			b = b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			f(num, typ, v, 0)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return false
			}
			b = b[n:]
		}
	}
	return true
}

// errClosed is returned (as *sinks.Retryable) by Send after Close.
var errClosed = errors.New("otlp sink is closed")
