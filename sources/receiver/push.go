package receiver

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/logcapturer/logcapturer/sources"
)

// Endpoint is what a receiver type gives for one push path.
type Endpoint struct {
	// Decode turns a request's body (decompressed per Content-Encoding)
	// into the records to emit, each a whole encoded WAL block with its
	// Entries and Bytes set (Source, Data; no position, no Done: the
	// server sets them). It returns an *Error to refuse the request: with
	// no records the request is answered that error at once; with
	// records (a partial success, as Loki and Promtail answer a push
	// whose other streams were taken), the records are made durable first
	// and the error is the answer. Any other error is a 400. Decode runs
	// on the request's goroutine; req.Body is valid only during the call.
	Decode func(req *Request) ([]sources.Record, error)
	// OK writes the answer once every record is durable; nil: 204.
	OK func(w http.ResponseWriter)
	// Fail writes a refusal; nil: a text/plain body with msg. The server
	// has set Retry-After (429, 503) and WWW-Authenticate (401) already.
	Fail func(w http.ResponseWriter, code int, msg string)
	// OKStatus is the status of a durable push (the requests_total code);
	// 0 is 204. OK must write it.
	OKStatus int
	// Respond, when set, writes every answer in place of OK and Fail, and
	// sees the request (OTLP/HTTP answers in the request's encoding):
	// code is OKStatus and msg "" for a durable push, else the refusal's.
	// Headers the server set (Retry-After, WWW-Authenticate) are kept.
	Respond func(w http.ResponseWriter, r *http.Request, code int, msg string)
}

// Request is one push, as its Endpoint's Decode sees it.
type Request struct {
	// HTTP is the request (headers, remote address); its body is read.
	HTTP *http.Request
	// Body is the body, decompressed: at most MaxRequestBytes.
	Body []byte
	// Received is when the request's body was read: the entries' time
	// when the type does not keep the incoming ones.
	Received time.Time

	limit   int64
	scratch *[]byte
}

// Limit is MaxRequestBytes: what a further decompression (Snappy) may
// produce.
func (r *Request) Limit() int64 { return r.limit }

// Snappy decodes a snappy block (Loki's protobuf body) into a pooled
// buffer valid during Decode, refusing more than Limit bytes of output
// (an *Error 413) before producing any.
func (r *Request) Snappy(src []byte) ([]byte, error) {
	if r.scratch == nil {
		r.scratch = getBuf()
	}
	out, err := Snappy(*r.scratch, src, r.limit)
	if cap(out) > cap(*r.scratch) {
		*r.scratch = out[:0]
	}
	if errors.Is(err, errTooLarge) {
		return nil, tooLarge(r.limit, "decompressed")
	}
	if err != nil {
		return nil, BadRequest("%v", err)
	}
	return out, nil
}

func tooLarge(limit int64, what string) *Error {
	return &Error{Code: http.StatusRequestEntityTooLarge,
		Msg: "request body " + what + " is larger than max_request_bytes (" + strconv.FormatInt(limit, 10) + " bytes)"}
}

type pushHandler struct {
	s  *Server
	ep Endpoint
}

// ServeHTTP is one push, on the HTTP server's goroutine: nothing else is
// started for it.
func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.s
	if !s.enter() { // the server is closed: nobody reads this answer
		h.fail(w, r, gone())
		return
	}
	defer s.handlers.Done()
	remote := remoteHost(r.RemoteAddr)
	code, entries, reason := h.serve(w, r)
	s.m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	if reason != "" {
		s.m.refused.WithLabelValues(reason).Inc()
	}
	s.clients.seen(remote, code, entries, s.opts.Now())
}

// serve answers the push and says with what: the status code, the entries acknowledged and the refusal reason.
func (h *pushHandler) serve(w http.ResponseWriter, r *http.Request) (code, entries int, reason string) {
	s := h.s
	fail := func(e *Error) (int, int, string) {
		h.fail(w, r, e)
		return e.Code, 0, e.reason()
	}
	if ok, err := s.auth.check(r, s.opts.Now()); err != nil {
		s.log.Warn("push refused: the receiver's secret cannot be read", "source", s.opts.Name, "err", err)
		return fail(&Error{Code: http.StatusInternalServerError, Msg: "the receiver's credentials cannot be read", Reason: ReasonInternal})
	} else if !ok {
		w.Header().Set("WWW-Authenticate", s.auth.challenge())
		return fail(&Error{Code: http.StatusUnauthorized, Msg: "unauthorized", Reason: ReasonUnauthorized})
	}
	if r.ContentLength > s.opts.MaxRequestBytes {
		return fail(tooLarge(s.opts.MaxRequestBytes, "sent"))
	}
	enc, err := contentEncoding(r.Header)
	if err != nil {
		return fail(&Error{Code: http.StatusUnsupportedMediaType, Msg: err.Error()})
	}
	if s.fuller != nil && s.fuller.WALFull() {
		return fail(h.retryLater(w, http.StatusTooManyRequests, ReasonWALFull,
			"the wal is full (wal.max_bytes, full_policy block): retry later"))
	}

	// Read and decode in one of a few slots, so memory for bodies is
	// bounded by slots x max_request_bytes whatever the clients do.
	select {
	case s.slots <- struct{}{}:
	case <-r.Context().Done():
		return fail(gone())
	}
	recs, decErr, e := h.decode(r, enc)
	<-s.slots
	if e != nil {
		return fail(e)
	}
	var derr *Error
	if decErr != nil && !errors.As(decErr, &derr) {
		derr = BadRequest("%v", decErr)
	}
	if len(recs) == 0 {
		if derr != nil {
			return fail(derr)
		}
		return h.ok(w, r), 0, ""
	}

	var size int64
	n := 0
	for i := range recs {
		size += int64(len(recs[i].Data))
		n += recs[i].Entries
	}
	if size > s.inflight.Max() {
		return fail(&Error{Code: http.StatusRequestEntityTooLarge, Reason: ReasonTooLarge,
			Msg: "request decodes to " + strconv.FormatInt(size, 10) + " bytes, more than max_inflight_bytes (" + strconv.FormatInt(s.inflight.Max(), 10) + ")"})
	}
	if !s.inflight.TryAcquire(size) {
		return fail(h.retryLater(w, http.StatusTooManyRequests, ReasonInflightFull,
			"max_inflight_bytes of pushes are waiting to be durable: retry later"))
	}
	acks := sources.NewAcks(func() { s.inflight.Release(size) })
	start := time.Now()
	// One DurableWait bounds the whole push: its emits (the first also
	// by EmitWait) and the wait for durability.
	wctx, cancel := context.WithTimeout(r.Context(), s.opts.DurableWait)
	defer cancel()
	if e := h.emit(r.Context(), wctx, recs, acks); e != nil {
		_ = acks.Wait(canceled) // seal: the bytes are released once the emitted ones complete
		return fail(h.retryLater(w, e.Code, e.Reason, e.Msg))
	}
	err = acks.Wait(wctx)
	switch {
	case err == nil:
		s.m.durable.Observe(time.Since(start).Seconds())
	case r.Context().Err() != nil:
		return fail(h.retryLater(w, gone().Code, gone().Reason, gone().Msg))
	case errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil:
		return fail(h.retryLater(w, http.StatusServiceUnavailable, ReasonDurableWait,
			"not durable within "+s.opts.DurableWait.String()+": retry"))
	default:
		return fail(h.retryLater(w, http.StatusServiceUnavailable, ReasonNotDurable, "not durable: "+err.Error()+": retry"))
	}
	var lines int
	for i := range recs {
		lines += recs[i].Bytes
	}
	s.m.entries.Add(float64(n))
	s.m.lines.Add(float64(lines))
	s.clients.pushed(s.opts.Now())
	if derr != nil { // partial: what was taken is durable
		h.fail(w, r, derr)
		return derr.Code, n, derr.reason()
	}
	return h.ok(w, r), n, ""
}

// gone is the answer to a request whose context ended: the client hung
// up (nobody reads it) or the server is shutting down. It is never left
// unanswered: net/http would send 200.
func gone() *Error {
	return &Error{Code: http.StatusServiceUnavailable, Reason: ReasonClientGone,
		Msg: "request cancelled (client gone or receiver shutting down): retry"}
}

// canceled is a done context, to seal an Acks without waiting.
var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// decode reads the body (bounded), decompresses it (bounded) and hands
// it to the endpoint. e is set when the request is refused before
// Decode; decErr is what Decode returned.
func (h *pushHandler) decode(r *http.Request, enc decoding) (recs []sources.Record, decErr error, e *Error) {
	s := h.s
	raw := getBuf()
	defer putBuf(raw)
	body, err := readAll((*raw)[:0], r.Body, s.opts.MaxRequestBytes, r.ContentLength)
	if cap(body) > cap(*raw) {
		*raw = body[:0]
	}
	s.m.received.Add(float64(len(body)))
	switch {
	case errors.Is(err, errTooLarge):
		return nil, nil, tooLarge(s.opts.MaxRequestBytes, "sent")
	case err != nil:
		return nil, nil, BadRequest("read body: %v", err)
	}
	req := &Request{HTTP: r, Received: s.opts.Now(), limit: s.opts.MaxRequestBytes}
	defer func() { putBuf(req.scratch) }()
	if enc == encIdentity {
		req.Body = body
	} else {
		plain := getBuf()
		defer putBuf(plain)
		out, err := decompress((*plain)[:0], body, enc, s.opts.MaxRequestBytes)
		if cap(out) > cap(*plain) {
			*plain = out[:0]
		}
		switch {
		case errors.Is(err, errTooLarge):
			return nil, nil, tooLarge(s.opts.MaxRequestBytes, "decompressed")
		case err != nil:
			return nil, nil, BadRequest("%v", err)
		}
		req.Body = out
	}
	recs, decErr = h.ep.Decode(req)
	if s.opts.Stages != nil && len(recs) > 0 {
		var err error
		if recs, err = s.stage(recs); err != nil {
			return nil, nil, &Error{Code: http.StatusInternalServerError, Msg: err.Error(), Reason: ReasonInternal}
		}
	}
	return recs, decErr, nil
}

// emit hands the records to the pipeline, each with its completion. The
// first Emit that fails stops it: what was emitted completes on its own,
// the failed record's completion is called here. Only the first record
// waits at most EmitWait (then 429: nothing of the push was taken, a
// resend duplicates nothing). Once it is taken the push is under way,
// and the others wait as long as the answer does (rest: DurableWait): a
// 429 then would have the client send the taken records again; failing
// then is 503, as a push not made durable in time.
func (h *pushHandler) emit(ctx, rest context.Context, recs []sources.Record, acks *sources.Acks) *Error {
	s := h.s
	first, cancel := context.WithTimeout(ctx, s.opts.EmitWait)
	defer cancel()
	ectx := first
	for i := range recs {
		rec := recs[i]
		rec.Source = s.opts.Name
		rec.Done = acks.Add()
		if err := s.opts.Emitter.Emit(ectx, rec); err != nil {
			rec.Done(err)
			if i == 0 && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return &Error{Code: http.StatusTooManyRequests, Reason: ReasonWALBusy,
					Msg: "the wal did not take the push within " + s.opts.EmitWait.String() + ": retry later"}
			}
			reason := ReasonNotDurable
			switch {
			case ctx.Err() != nil:
				reason = ReasonClientGone
			case i > 0 && rest.Err() != nil:
				reason = ReasonDurableWait
			}
			msg := "not taken: "
			if i > 0 {
				msg = "partly taken (" + strconv.Itoa(i) + " of " + strconv.Itoa(len(recs)) + " blocks): "
			}
			return &Error{Code: http.StatusServiceUnavailable, Reason: reason, Msg: msg + err.Error() + ": retry"}
		}
		recs[i].Data = nil // the pipeline's now
		ectx = rest
	}
	return nil
}

// retryLater sets Retry-After and returns the refusal.
func (h *pushHandler) retryLater(w http.ResponseWriter, code int, reason, msg string) *Error {
	secs := int64(math.Ceil(h.s.opts.RetryAfter.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	return &Error{Code: code, Msg: msg, Reason: reason}
}

func (h *pushHandler) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	if h.ep.Respond != nil {
		h.ep.Respond(w, r, e.Code, e.Msg)
		return
	}
	if h.ep.Fail != nil {
		h.ep.Fail(w, e.Code, e.Msg)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Code)
	_, _ = w.Write([]byte(e.Msg + "\n"))
}

// ok answers a durable push and returns the status written.
func (h *pushHandler) ok(w http.ResponseWriter, r *http.Request) int {
	code := h.ep.OKStatus
	if code == 0 {
		code = http.StatusNoContent
	}
	switch {
	case h.ep.Respond != nil:
		h.ep.Respond(w, r, code, "")
	case h.ep.OK != nil:
		h.ep.OK(w)
	default:
		w.WriteHeader(code)
	}
	return code
}

func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
