package loki

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
)

// PushError is Loki's answer to a push it did not accept: the status and
// the message from the body. It is the Err of the *sinks.Permanent or
// *sinks.Retryable that Send returns.
type PushError struct {
	Status int
	// Reason is the short word also used as the failure metric's label.
	Reason string
	// Message is Loki's message (trimmed, at most maxMessage bytes).
	Message string
	// Ignored and Total are N and M of a partial success, "total ignored: N
	// out of M" (Loki reports one stream: other streams of the request may
	// have been written in full). Zero otherwise.
	Ignored, Total int
	// Refused is how many entries the distributor's 400 refused ("N errors
	// like", summed) when they were matched to the batch's entries one by
	// one: every other entry was written. Zero otherwise.
	Refused int

	refusals *refusals // what a 400 body says, entry by entry
}

func (e *PushError) Error() string {
	if e.Refused > 0 {
		return fmt.Sprintf("loki answered %d (partial: %d entries refused, the rest written): %s", e.Status, e.Refused, e.Message)
	}
	if e.Total > 0 {
		return fmt.Sprintf("loki answered %d (partial: %d of %d entries of a stream ignored, the rest written): %s",
			e.Status, e.Ignored, e.Total, e.Message)
	}
	return fmt.Sprintf("loki answered %d: %s", e.Status, e.Message)
}

// Failure reasons (the reason label of logcapturer_sink_loki_failures_total).
const (
	ReasonRateLimited        = "rate_limited"          // 429
	ReasonServerError        = "server_error"          // 5xx
	ReasonTimeout            = sinks.ReasonTimeout     // our timeout or a 408
	ReasonConnection         = sinks.ReasonConnection  // dial, reset, TLS, dropped connection
	ReasonCredentials        = sinks.ReasonCredentials // a password or token file could not be read
	ReasonPartial            = "partial"
	ReasonTooOld             = "too_old"
	ReasonTooNew             = "too_new"
	ReasonOutOfOrder         = "out_of_order"
	ReasonLineTooLong        = "line_too_long"
	ReasonBadLabels          = "bad_labels"
	ReasonStructuredMetadata = "structured_metadata"
	ReasonTooLarge           = "too_large"
	ReasonUnauthorized       = "unauthorized"
	ReasonNotFound           = "not_found"
	ReasonRejected           = sinks.ReasonRejected
	ReasonBadTenant          = "bad_tenant" // a tenant id Loki does not accept; not sent
)

// maxMessage caps the message kept from a response body.
const maxMessage = 1024

// classify maps a non-2xx answer to the sink's error classes.
func classify(status int, body []byte, retryAfter string, now time.Time) error {
	msg := strings.TrimSpace(string(body))
	pe := &PushError{Status: status}
	switch {
	case status == http.StatusTooManyRequests:
		pe.Reason = ReasonRateLimited
	case status == http.StatusRequestTimeout:
		pe.Reason = ReasonTimeout
	case status >= 500:
		pe.Reason = ReasonServerError
	default:
		pe.Reason, pe.Ignored, pe.Total = rejectReason(status, msg)
	}
	if len(msg) > maxMessage {
		msg = strings.ToValidUTF8(msg[:maxMessage], "") + "…"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	pe.Message = msg
	if status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500 {
		return &sinks.Retryable{Err: pe, After: sinks.ParseRetryAfter(retryAfter, now), Reason: pe.Reason}
	}
	if pe.Reason == ReasonUnauthorized {
		// A credential problem is the operator's to fix, not the data's
		// fault: held and retried, never dead-lettered.
		return &sinks.Unauthorized{Err: pe}
	}
	return &sinks.Permanent{Reason: pe.Reason, Err: pe, Rejected: pe.Ignored}
}

// rejectReason reads the reason word, and N and M of a partial success,
// from a 4xx message. Loki's messages (pkg/validation, pkg/ingester) are
// its only error vocabulary.
func rejectReason(status int, msg string) (reason string, ignored, total int) {
	if n, m, ok := parsePartial(msg); ok {
		return ReasonPartial, n, m
	}
	switch status {
	case http.StatusRequestEntityTooLarge:
		return ReasonTooLarge, 0, 0
	case http.StatusUnauthorized, http.StatusForbidden:
		return ReasonUnauthorized, 0, 0
	case http.StatusNotFound:
		return ReasonNotFound, 0, 0
	}
	lower := strings.ToLower(msg)
	for _, m := range []struct{ substr, reason string }{
		{"too far behind", ReasonTooOld},
		{"timestamp too old", ReasonTooOld},
		{"timestamp too new", ReasonTooNew},
		{"out of order", ReasonOutOfOrder},
		{"max entry size", ReasonLineTooLong},
		{"line too long", ReasonLineTooLong},
		{"structured metadata", ReasonStructuredMetadata},
		{"label", ReasonBadLabels}, // parsing labels, label name/value too long, label names limit
	} {
		if strings.Contains(lower, m.substr) {
			return m.reason, 0, 0
		}
	}
	return ReasonRejected, 0, 0
}

// parsePartial finds Loki's "total ignored: N out of M".
func parsePartial(msg string) (n, m int, ok bool) {
	const marker = "total ignored: "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return 0, 0, false
	}
	rest := msg[i+len(marker):]
	n, rest, ok = leadingInt(rest)
	if !ok || !strings.HasPrefix(rest, " out of ") {
		return 0, 0, false
	}
	m, _, ok = leadingInt(rest[len(" out of "):])
	return n, m, ok
}

func leadingInt(s string) (int, string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	return n, s[i:], err == nil
}

// errClosed is returned (as *sinks.Retryable) by Send after Close.
var errClosed = errors.New("loki sink is closed")
