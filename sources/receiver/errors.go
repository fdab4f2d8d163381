package receiver

import (
	"fmt"
	"net/http"
)

// Error is a refusal an Endpoint's Decode returns: the status code (400
// for a body that does not decode or names bad labels, 413, 415) and the
// message the client gets.
type Error struct {
	Code int
	Msg  string
	// Reason is the refused_total reason; "" is derived from Code.
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, http.StatusText(e.Code), e.Msg)
}

// BadRequest is a 400 with the message fmt.Sprintf(format, args...).
func BadRequest(format string, args ...any) *Error {
	return &Error{Code: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// Reasons of logcapturer_receiver_refused_total.
const (
	ReasonUnauthorized  = "unauthorized"  // no or wrong credentials (401)
	ReasonMethod        = "method"        // a method the path does not take (405)
	ReasonTooLarge      = "too_large"     // body over max_request_bytes, sent or decompressed (413)
	ReasonEncoding      = "encoding"      // a Content-Encoding not supported (415)
	ReasonBadRequest    = "bad_request"   // a body that does not decode, bad labels (400)
	ReasonInflightFull  = "inflight_full" // max_inflight_bytes held by pushes not yet durable (429)
	ReasonWALFull       = "wal_full"      // the WAL at wal.max_bytes under full_policy block (429)
	ReasonWALBusy       = "wal_busy"      // Emit waited emit_wait for the pipeline's queue (429)
	ReasonNotDurable    = "not_durable"   // a completion failed: the WAL append or fsync, or shutdown (503)
	ReasonDurableWait   = "durable_wait"  // not durable within the wait (503)
	ReasonClientGone    = "client_gone"   // the request was cancelled: client gone or shutdown (503)
	ReasonInternal      = "internal"      // a secret file that cannot be read (500)
	reasonUnknownStatus = "other"
)

var allReasons = []string{ReasonUnauthorized, ReasonMethod, ReasonTooLarge, ReasonEncoding, ReasonBadRequest,
	ReasonInflightFull, ReasonWALFull, ReasonWALBusy, ReasonNotDurable, ReasonDurableWait, ReasonClientGone, ReasonInternal}

func (e *Error) reason() string {
	if e.Reason != "" {
		return e.Reason
	}
	switch e.Code {
	case http.StatusBadRequest:
		return ReasonBadRequest
	case http.StatusRequestEntityTooLarge:
		return ReasonTooLarge
	case http.StatusUnsupportedMediaType:
		return ReasonEncoding
	}
	return reasonUnknownStatus
}
