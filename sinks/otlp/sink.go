package otlp

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

	"github.com/klauspost/compress/gzip"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/prometheus/client_golang/prometheus"
)

// Sink exports batches to an OTLP/HTTP logs endpoint. See the package
// documentation.
type Sink struct {
	opts        Options
	logger      *slog.Logger
	m           *metrics
	http        *sinks.HTTPClient
	auth        sinks.HTTPAuth
	headers     []sinks.HTTPHeader
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
	hs, err := sinks.NewHTTPSink(logger, opts.Name, opts.URL, exampleURL, opts.auth(), opts.TLS, opts.proxy(), opts.Timeout, opts.Headers, "export", "200")
	if err != nil {
		return nil, fmt.Errorf("otlp sink %q: %w", opts.Name, err)
	}
	m, err := newMetrics(reg, opts.Name, hs.Client.Collectors()...)
	if err != nil {
		return nil, fmt.Errorf("otlp sink %q: %w", opts.Name, err)
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

// Destination returns the export URL without its credentials
// (sinks.RedactURL).
func (s *Sink) Destination() string { return sinks.RedactURL(s.http.URL()) }

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
	case errors.Is(err, sinks.ErrCredentials):
		return ReasonCredentials
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	}
	return ReasonConnection
}

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
	var (
		msg  []byte
		rerr error
	)
	resp, err := s.http.Post(ctx, body, s.setHeaders, func(resp *http.Response) {
		msg, rerr = io.ReadAll(io.LimitReader(resp.Body, sinks.HTTPMaxResponseBody))
	})
	if err != nil {
		return err
	}
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
		h.Set(kv.Name, kv.Value)
	}
	h.Set("Content-Type", s.contentType)
	if s.opts.Compression == CompressionGzip {
		h.Set("Content-Encoding", "gzip")
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "logcapturer")
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
