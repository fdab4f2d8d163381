package otlp

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

	"github.com/klauspost/compress/gzip"
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
	// maxResponseBody bounds what is read of an answer.
	maxResponseBody = 64 << 10
)

// Sink exports batches to an OTLP/HTTP logs endpoint. See the package
// documentation.
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
	encoders    []*encoder // idle encoders; at most one per concurrent Send
	closed      atomic.Bool
	closeOnce   sync.Once

	warnedPartial atomic.Bool // a partial success with no rejected records was logged
	warnedBody    atomic.Bool // a 2xx body that did not decode was logged
}

var _ sinks.Sink = (*Sink)(nil)

// encoder is an Encoder with its compressor and output buffer.
type encoder struct {
	*Encoder
	gz  *gzip.Writer
	out sliceWriter
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// New checks opts (Validate), reads the TLS files, checks that the password
// or token file is readable, and registers the sink's metrics on reg with a
// sink=<Name> label. A nil logger discards; a nil reg registers nothing. It
// does not contact the receiver.
func New(logger *slog.Logger, reg prometheus.Registerer, opts Options) (*Sink, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("otlp sink %q: %w", opts.Name, err)
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
			return nil, fmt.Errorf("otlp sink %q: %w", opts.Name, err)
		}
	}
	tlsCfg, err := opts.TLS.Client()
	if err != nil {
		return nil, fmt.Errorf("otlp sink %q: %w", opts.Name, err)
	}
	if u.Scheme == "http" && tlsCfg != nil {
		logger.Warn("tls options are ignored for an http:// url", "url", sinks.RedactURL(opts.URL))
	}
	m, err := newMetrics(reg, opts.Name)
	if err != nil {
		return nil, fmt.Errorf("otlp sink %q: %w", opts.Name, err)
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

// Destination returns the export URL without its credentials
// (sinks.RedactURL).
func (s *Sink) Destination() string { return sinks.RedactURL(s.url) }

// Send exports b in one request and returns nil once the receiver answered
// 2xx without rejecting records. It is safe for concurrent use and returns
// when ctx is done or Options.Timeout passes, whichever is first. A failure
// is a *sinks.Retryable, *sinks.Permanent or *sinks.Unauthorized wrapping
// an *ExportError (when the receiver answered) or the transport error; a
// partial success is a *sinks.Permanent whose Rejected is the count the
// receiver gave (see the package documentation). A batch with no entries
// is not sent. After Close, Send returns a *sinks.Retryable.
func (s *Sink) Send(ctx context.Context, b *sinks.Batch) error {
	if s.closed.Load() {
		return &sinks.Retryable{Err: errClosed}
	}
	enc := s.getEncoder()
	defer s.putEncoder(enc)
	body, n := enc.Encode(b.Blocks)
	if n == 0 {
		return nil
	}
	if s.opts.Compression == CompressionGzip {
		body = enc.compress(body)
	}
	err := s.export(ctx, body, n)
	if err != nil && ctx.Err() == nil {
		s.m.failures.WithLabelValues(failureReason(err)).Inc()
	}
	return err
}

func failureReason(err error) string {
	var ee *ExportError
	switch {
	case errors.As(err, &ee):
		return ee.Reason
	case errors.Is(err, errCredentials):
		return ReasonCredentials
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	}
	return ReasonConnection
}

var errCredentials = errors.New("read credentials")

// compress gzips body into the encoder's output buffer.
func (e *encoder) compress(body []byte) []byte {
	e.out.b = e.out.b[:0]
	e.gz.Reset(&e.out)
	_, _ = e.gz.Write(body) // a sliceWriter does not fail
	_ = e.gz.Close()
	return e.out.b
}

// getEncoder takes an idle encoder or makes one. Encoders are kept in a
// plain free list, not a sync.Pool, as the loki sink does: a pool is
// emptied by GCs, which are frequent under the binary's soft memory limit,
// and the encoders' grown buffers would be reallocated per batch. The list
// holds at most as many encoders as Sends ever ran at once.
func (s *Sink) getEncoder() *encoder {
	s.encMu.Lock()
	defer s.encMu.Unlock()
	if n := len(s.encoders); n > 0 {
		e := s.encoders[n-1]
		s.encoders = s.encoders[:n-1]
		return e
	}
	// BestSpeed: OTLP protobuf of log lines compresses about as well at
	// level 1 as at the default, for a fraction of the CPU.
	gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return &encoder{Encoder: NewEncoder(s.opts), gz: gz}
}

func (s *Sink) putEncoder(e *encoder) {
	s.encMu.Lock()
	defer s.encMu.Unlock()
	s.encoders = append(s.encoders, e)
}

// export posts body (records log records) and classifies the answer.
func (s *Sink) export(ctx context.Context, body []byte, records int) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return &sinks.Permanent{Reason: ReasonRejected, Err: fmt.Errorf("build export request: %w", err)}
	}
	if err := s.setHeaders(req.Header); err != nil {
		return &sinks.Retryable{Err: err, Reason: ReasonCredentials}
	}
	s.m.encoded.Add(float64(len(body)))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		s.m.duration.WithLabelValues(codeNoAnswer).Observe(time.Since(start).Seconds())
		reason := ReasonConnection
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			err = fmt.Errorf("export to %s: no answer within %s: %w", req.URL.Host, s.opts.Timeout, context.DeadlineExceeded)
			reason = ReasonTimeout
		} else {
			err = fmt.Errorf("export to %s: %w", req.URL.Host, sinks.URLCause(err))
		}
		return &sinks.Retryable{Err: err, Reason: reason}
	}
	defer resp.Body.Close()
	msg, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody)) // lets the connection be reused
	s.m.duration.WithLabelValues(strconv.Itoa(resp.StatusCode)).Observe(time.Since(start).Seconds())
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode/100 != 2 {
		if rerr != nil && len(msg) == 0 {
			msg = []byte(rerr.Error()) // the status is known; its body was cut short
		}
		return classify(resp.StatusCode, ct, msg, resp.Header.Get("Retry-After"), time.Now())
	}
	if rerr != nil {
		// The receiver took the request; only its answer's body was lost.
		s.logBody(resp.StatusCode, rerr)
		return nil
	}
	rejected, pmsg, ok := partialSuccess(ct, msg)
	switch {
	case !ok:
		s.logBody(resp.StatusCode, errors.New("not an ExportLogsServiceResponse"))
	case rejected > 0:
		n := int(min(rejected, int64(records)))
		s.m.rejected.Add(float64(n))
		ee := &ExportError{Status: resp.StatusCode, Reason: ReasonPartial, Message: pmsg, Rejected: n}
		if ee.Message == "" {
			ee.Message = "(no error_message)"
		}
		return &sinks.Permanent{Reason: ReasonPartial, Err: ee, Rejected: n}
	case pmsg != "":
		s.m.warnings.Inc()
		if s.warnedPartial.CompareAndSwap(false, true) {
			s.logger.Warn("the otlp receiver accepted an export with a warning (logged once; see logcapturer_sink_otlp_partial_warnings_total)",
				"warning", pmsg)
		}
	}
	return nil
}

// logBody logs, once in the sink's life, a 2xx whose body could not be
// read as an answer; the export counts as delivered.
func (s *Sink) logBody(status int, err error) {
	if s.warnedBody.CompareAndSwap(false, true) {
		s.logger.Warn("the otlp receiver's success answer could not be read; counted as delivered (logged once)",
			"status", status, "err", err)
	}
}

func (s *Sink) setHeaders(h http.Header) error {
	for _, kv := range s.headers {
		h.Set(kv.name, kv.value)
	}
	h.Set("Content-Type", s.contentType)
	if s.opts.Compression == CompressionGzip {
		h.Set("Content-Encoding", "gzip")
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "logcapturer")
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
