package loki

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/prometheus/client_golang/prometheus"
)

// Transport limits. Connections are reused across sends; the pipeline's
// fixed worker count bounds how many are busy at once.
const (
	maxConnsPerHost = 32
	dialTimeout     = 10 * time.Second
	idleConnTimeout = 90 * time.Second
	// maxResponseBody bounds what is read of an answer (Loki's messages
	// are short; a partial-success list is at most ~10 lines).
	maxResponseBody = 64 << 10
)

// Sink pushes batches to Loki. See the package documentation.
type Sink struct {
	opts        Options
	url         string
	logger      *slog.Logger
	m           *metrics
	transport   *http.Transport
	client      *http.Client
	headers     []header
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
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("sink", opts.Name)
	u, _ := parseURL(opts.URL) // checked by Validate
	for field, path := range map[string]string{
		"basic_auth.password_file": opts.BasicAuth.PasswordFile, "bearer_token_file": opts.BearerTokenFile} {
		if path == "" {
			continue
		}
		if _, err := config.ReadSecret(field, path); err != nil {
			return nil, fmt.Errorf("loki sink %q: %w", opts.Name, err)
		}
	}
	tlsCfg, err := opts.TLS.Client()
	if err != nil {
		return nil, fmt.Errorf("loki sink %q: %w", opts.Name, err)
	}
	if u.Scheme == "http" && tlsCfg != nil {
		logger.Warn("tls options are ignored for an http:// url", "url", redact(u))
	}
	m, err := newMetrics(reg, opts.Name)
	if err != nil {
		return nil, fmt.Errorf("loki sink %q: %w", opts.Name, err)
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: min(dialTimeout, opts.Timeout), KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   min(dialTimeout, opts.Timeout),
		MaxIdleConns:          maxConnsPerHost,
		MaxIdleConnsPerHost:   maxConnsPerHost,
		MaxConnsPerHost:       maxConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
	}
	s := &Sink{
		opts: opts, url: u.String(), logger: logger, m: m, transport: t,
		client:  &http.Client{Transport: t},
		headers: compileHeaders(opts.Headers),
	}
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
func (s *Sink) Destination() string { return sinks.RedactURL(s.url) }

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
		case errors.Is(err, errCredentials):
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

var errCredentials = errors.New("read credentials")

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
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return &sinks.Permanent{Reason: ReasonRejected, Err: fmt.Errorf("build push request: %w", err)}
	}
	if err := s.setHeaders(req.Header, tenant); err != nil {
		return &sinks.Retryable{Err: err, Reason: ReasonCredentials}
	}
	s.m.encoded.Add(float64(len(body)))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		s.m.duration.WithLabelValues(codeNoAnswer).Observe(time.Since(start).Seconds())
		reason := ReasonConnection
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			err = fmt.Errorf("push to %s: no answer within %s: %w", req.URL.Host, s.opts.Timeout, context.DeadlineExceeded)
			reason = ReasonTimeout
		} else {
			err = fmt.Errorf("push to %s: %w", req.URL.Host, sinks.URLCause(err))
		}
		return &sinks.Retryable{Err: err, Reason: reason}
	}
	defer resp.Body.Close()
	var (
		msg []byte
		rf  *refusals
	)
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		msg, rf, err = readRefusals(resp.Body) // may be a partial success
	case resp.StatusCode/100 != 2:
		msg, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody)) // lets the connection be reused
	s.m.duration.WithLabelValues(strconv.Itoa(resp.StatusCode)).Observe(time.Since(start).Seconds())
	if resp.StatusCode/100 == 2 {
		return nil
	}
	if err != nil && len(msg) == 0 {
		// The answer's status is known; its body was cut short.
		msg = []byte(err.Error())
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
		h.Set(kv.name, kv.value)
	}
	h.Set("Content-Type", s.contentType)
	h.Set("User-Agent", "logcapturer")
	if tenant != "" {
		h.Set("X-Scope-OrgID", tenant)
	}
	switch ba := s.opts.BasicAuth; {
	case ba.set():
		pw := ba.Password
		if ba.PasswordFile != "" {
			var err error
			if pw, err = config.ReadSecret("basic_auth.password_file", ba.PasswordFile); err != nil {
				return fmt.Errorf("%w: %w", errCredentials, err)
			}
		}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ba.Username+":"+pw)))
	case s.opts.BearerTokenFile != "":
		tok, err := config.ReadSecret("bearer_token_file", s.opts.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("%w: %w", errCredentials, err)
		}
		h.Set("Authorization", "Bearer "+tok)
	case s.opts.BearerToken != "":
		h.Set("Authorization", "Bearer "+s.opts.BearerToken)
	}
	return nil
}

// Close unregisters the metrics and closes idle connections. Sends still
// running finish; later ones fail as retryable. Safe to call twice; it
// returns nil.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.m.unregister()
		s.transport.CloseIdleConnections()
	})
	return nil
}
