package loki

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/prometheus/client_golang/prometheus"
)

// maxResponseBody bounds what is read of an answer (Loki's messages are
// short; a partial-success list is at most ~10 lines).
const maxResponseBody = sinks.HTTPMaxResponseBody

// Sink pushes batches to Loki. See the package documentation.
type Sink struct {
	opts        Options
	logger      *slog.Logger
	m           *metrics
	http        *sinks.HTTPClient
	auth        sinks.HTTPAuth
	headers     []sinks.HTTPHeader
	contentType string
	encMu       sync.Mutex
	encoders    []*Encoder // idle encoders; at most one per concurrent Send
	closed      atomic.Bool
	closeOnce   sync.Once

	warnedUnmatched atomic.Bool
}

var _ sinks.Sink = (*Sink)(nil)

// New checks opts (Validate), reads the TLS files, checks that the password
// or token file is readable, and registers the sink's metrics on reg with a
// sink=<Name> label. A nil logger discards; a nil reg registers nothing. It
// does not contact Loki.
func New(logger *slog.Logger, reg prometheus.Registerer, opts Options) (*Sink, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("loki sink %q: %w", opts.Name, err)
	}
	hs, err := sinks.NewHTTPSink(logger, opts.Name, opts.URL, exampleURL, opts.auth(), opts.TLS, opts.proxy(), opts.Timeout, opts.Headers, "push", "204")
	if err != nil {
		return nil, fmt.Errorf("loki sink %q: %w", opts.Name, err)
	}
	m, err := newMetrics(reg, opts.Name, hs.Client.Collectors()...)
	if err != nil {
		return nil, fmt.Errorf("loki sink %q: %w", opts.Name, err)
	}
	s := &Sink{opts: opts, logger: hs.Logger, m: m, http: hs.Client, auth: hs.Auth, headers: hs.Headers}
	if opts.Encoding == EncodingJSON {
		s.contentType = "application/json"
	} else {
		s.contentType = "application/x-protobuf"
	}
	return s, nil
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.opts.Name }

// Destination returns the push URL without its credentials
// (sinks.RedactURL).
func (s *Sink) Destination() string { return sinks.RedactURL(s.http.URL()) }

// Send pushes b, one request per tenant (see the package documentation,
// Tenants), and returns nil once Loki answered 2xx to every one. It is safe
// for concurrent use and returns when ctx is done or Options.Timeout
// passes for a request, whichever is first. A failure is a
// *sinks.Retryable, *sinks.Unauthorized or *sinks.Permanent wrapping a
// *PushError (when Loki answered) or the transport error; see the package
// documentation for the mapping. A batch with no entries is not sent.
// After Close, Send returns a *sinks.Retryable.
func (s *Sink) Send(ctx context.Context, b *sinks.Batch) error {
	if s.closed.Load() {
		return &sinks.Retryable{Err: errClosed}
	}
	enc := s.getEncoder()
	defer s.putEncoder(enc)
	pushes := enc.Encode(b.Blocks)
	if len(pushes) == 1 {
		err := s.pushTenant(ctx, pushes[0])
		s.partial(b, err, nil)
		return err
	}
	return s.sendTenants(ctx, b, pushes)
}

// pushTenant sends one tenant's push and counts its failure.
func (s *Sink) pushTenant(ctx context.Context, p Push) error {
	var err error
	if !validTenant(p.Tenant) {
		err = &sinks.Permanent{Reason: ReasonBadTenant,
			Err: fmt.Errorf("tenant %q: not a valid tenant id (at most 150 of a-z A-Z 0-9 ! - _ . * ' ( ), not . or ..): not sent", p.Tenant)}
	} else {
		err = s.push(ctx, p.Tenant, p.Body)
	}
	if err != nil && ctx.Err() == nil {
		var pe *PushError
		reason := ReasonConnection
		switch {
		case errors.As(err, &pe):
			reason = pe.Reason
		case errors.Is(err, sinks.ErrCredentials):
			reason = ReasonCredentials
		case errors.Is(err, context.DeadlineExceeded):
			reason = ReasonTimeout
		case sinks.Reason(err) == ReasonBadTenant:
			reason = ReasonBadTenant
		}
		s.m.failures.WithLabelValues(reason).Inc()
	}
	return err
}

// partial narrows a *sinks.Permanent to the entries Loki's 400 names, when
// they can be picked out of b exactly (see refusals.pick): the batch was
// then delivered but for them. in, when not nil, limits b to the entries
// of the push that err answers (one tenant's). Otherwise the error stays as
// it is, the whole push refused; a 400 in Loki's per-entry format that does
// not match b is counted (logcapturer_sink_loki_unmatched_refusals_total)
// and logged once in the sink's life.
func (s *Sink) partial(b *sinks.Batch, err error, in func(blk, e int) bool) {
	var (
		p  *sinks.Permanent
		pe *PushError
	)
	if !errors.As(err, &p) || !errors.As(err, &pe) || !pe.refusals.matched() {
		return
	}
	spans, ok := pe.refusals.pick(b, in)
	if !ok {
		s.m.unmatched.Inc()
		if s.warnedUnmatched.CompareAndSwap(false, true) {
			s.logger.Warn("loki's 400 names refused entries that do not match the batch; the whole batch goes to the dead-letter queue (logged once; see logcapturer_sink_loki_unmatched_refusals_total)",
				"refused", pe.refusals.total, "entries", b.Entries, "from", b.From, "to", b.To, "err", pe)
		}
		return
	}
	pe.Refused = pe.refusals.total
	p.Refused, p.Rejected = spans, pe.refusals.total
}

// getEncoder takes an idle encoder or makes one. Encoders are kept in a
// plain free list, not a sync.Pool: a pool is emptied by every other GC,
// and under the binary's soft memory limit GCs are frequent, so the
// encoders' grown buffers would be thrown away and reallocated per batch.
// The list holds at most as many encoders as Sends ever ran at once (the
// pipeline's workers).
func (s *Sink) getEncoder() *Encoder {
	s.encMu.Lock()
	defer s.encMu.Unlock()
	if n := len(s.encoders); n > 0 {
		e := s.encoders[n-1]
		s.encoders = s.encoders[:n-1]
		return e
	}
	return NewEncoder(s.opts)
}

func (s *Sink) putEncoder(e *Encoder) {
	s.encMu.Lock()
	defer s.encMu.Unlock()
	s.encoders = append(s.encoders, e)
}

func (s *Sink) push(ctx context.Context, tenant string, body []byte) error {
	var (
		msg  []byte
		rf   *refusals
		rerr error
	)
	resp, err := s.http.Post(ctx, body, func(h http.Header) error { return s.setHeaders(h, tenant) }, func(resp *http.Response) {
		switch {
		case resp.StatusCode == http.StatusBadRequest:
			msg, rf, rerr = readRefusals(resp.Body) // may be a partial success
		case resp.StatusCode/100 != 2:
			msg, rerr = io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		}
	})
	if err != nil {
		return err
	}
	if resp.StatusCode/100 == 2 {
		return nil
	}
	if rerr != nil && len(msg) == 0 {
		// The answer's status is known; its body was cut short.
		msg = []byte(rerr.Error())
	}
	err = classify(resp.StatusCode, msg, resp.Header.Get("Retry-After"), time.Now())
	var pe *PushError
	if rf != nil && errors.As(err, &pe) {
		pe.refusals = rf
	}
	return err
}

func (s *Sink) setHeaders(h http.Header, tenant string) error {
	for _, kv := range s.headers {
		h.Set(kv.Name, kv.Value)
	}
	h.Set("Content-Type", s.contentType)
	h.Set("User-Agent", "logcapturer")
	if tenant != "" {
		h.Set("X-Scope-OrgID", tenant)
	}
	return s.auth.Apply(h)
}

// Close unregisters the metrics and closes idle connections. Sends still
// running finish; later ones fail as retryable. Safe to call twice; it
// returns nil.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.m.unregister()
		s.http.CloseIdleConnections()
	})
	return nil
}
