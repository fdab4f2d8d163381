package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HTTPOptions configures an HTTP sink.
type HTTPOptions struct {
	Name string
	// URL receives one POST per batch: the entries in Format, one a line.
	URL string
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	Format  Format
	Headers map[string]string
	// Proxy chooses a proxy; the zero value, none.
	Proxy Proxy
}

// Validate checks the options; errors name the field.
func (o *HTTPOptions) Validate() error {
	u, err := url.Parse(o.URL)
	if err != nil {
		return fmt.Errorf("url %q: %w", o.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: want an http:// or https:// URL", o.URL)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q: no host", o.URL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("url %q: bad port %q", o.URL, p)
		}
	}
	return nil
}

// HTTPMaxConns bounds an HTTP sink's connections (each has two goroutines in
// net/http): more than a sink's workers ever need at once.
const HTTPMaxConns = 8

// HTTP posts each batch to a URL: a generic webhook sink, and the real-HTTP
// target of the retry and outage tests. 2xx acknowledges; 408, 429 and 5xx
// and transport errors are retryable (Retry-After honoured); any other
// status is permanent.
type HTTP struct {
	opts   HTTPOptions
	logger *slog.Logger
	client *http.Client
	mu     sync.Mutex
	bufs   []*bytes.Buffer // one body buffer per concurrent Send, reused
}

var _ Sink = (*HTTP)(nil)

// NewHTTP returns an HTTP sink. A nil logger discards.
func NewHTTP(logger *slog.Logger, opts HTTPOptions) (*HTTP, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("http sink %s: %w", opts.Name, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	proxy, err := opts.Proxy.Func()
	if err != nil {
		return nil, fmt.Errorf("http sink %s: %w", opts.Name, err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = proxy
	tr.MaxIdleConnsPerHost = HTTPMaxConns
	tr.MaxConnsPerHost = HTTPMaxConns // bounds connection goroutines during an outage
	// The timeout is a context deadline per request, not Client.Timeout,
	// which starts a goroutine per request.
	return &HTTP{opts: opts, logger: logger, client: &http.Client{Transport: tr}}, nil
}

// Name returns the sink's name.
func (s *HTTP) Name() string { return s.opts.Name }

// Destination returns the URL without its credentials (RedactURL).
func (s *HTTP) Destination() string { return RedactURL(s.opts.URL) }

func (s *HTTP) buffer() *bytes.Buffer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.bufs); n > 0 {
		b := s.bufs[n-1]
		s.bufs = s.bufs[:n-1]
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (s *HTTP) release(b *bytes.Buffer) {
	if b.Cap() > 16<<20 {
		return
	}
	s.mu.Lock()
	s.bufs = append(s.bufs, b)
	s.mu.Unlock()
}

// Send posts the batch. Safe for concurrent use.
func (s *HTTP) Send(ctx context.Context, b *Batch) error {
	body := s.buffer()
	defer s.release(body)
	if _, _, err := writeBatch(body, nil, b, s.opts.Format); err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL, bytes.NewReader(body.Bytes()))
	if err != nil {
		return &Permanent{Reason: "bad_request", Err: err}
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if s.opts.Format == FormatJSON {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	for k, v := range s.opts.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return &Retryable{Err: fmt.Errorf("post %s: %w", s.Destination(), URLCause(err)), Reason: "connection"}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	return classifyHTTP(resp.StatusCode, resp.Header.Get("Retry-After"), bytes.TrimSpace(msg), time.Now())
}

// classifyHTTP maps an HTTP answer to nil (2xx), *Retryable (408, 429,
// 5xx, with the Retry-After hint) or *Permanent (any other status).
func classifyHTTP(code int, retryAfter string, body []byte, now time.Time) error {
	if code >= 200 && code < 300 {
		return nil
	}
	err := fmt.Errorf("http %d: %s", code, body)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &Unauthorized{Err: err}
	case code == http.StatusTooManyRequests:
		return &Retryable{Err: err, After: ParseRetryAfter(retryAfter, now), Reason: "rate_limited"}
	case code == http.StatusRequestTimeout:
		return &Retryable{Err: err, After: ParseRetryAfter(retryAfter, now), Reason: "timeout"}
	case code >= 500:
		return &Retryable{Err: err, After: ParseRetryAfter(retryAfter, now), Reason: "server_error"}
	}
	return &Permanent{Reason: "http_" + strconv.Itoa(code), Err: err}
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110). It returns 0 when the value is absent, unreadable or in the
// past, and caps it at MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), MaxRetryAfter)
}

// MaxRetryAfter bounds a receiver's hint, so a broken proxy cannot park a
// batch for days.
const MaxRetryAfter = time.Hour

// Close releases idle connections. Safe to call twice.
func (s *HTTP) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// URLCause returns the cause inside an *url.Error (which net/http's
// client wraps every failed request in, and whose text repeats the method
// and the URL): for an error message that names the URL once, in its own
// words. Other errors are returned as they are; errors.Is and errors.As
// see the same net and context errors through it.
func URLCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
