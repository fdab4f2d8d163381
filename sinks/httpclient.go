package sinks

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/prometheus/client_golang/prometheus"
)

// The parts the loki and otlp sinks share: each posts one encoded body per
// request to a URL it checked with ParseHTTPURL, through an HTTPClient, with
// credentials from HTTPAuth (httpauth.go). What differs (the body, the
// headers the sink owns, how an answer is classified) stays in the sink.

// Failure reasons every HTTPClient user has (the reason label of its
// failure metric; see Reason).
const (
	ReasonConnection  = "connection"  // dial, reset, TLS, dropped connection
	ReasonTimeout     = "timeout"     // our timeout (or the receiver's 408)
	ReasonCredentials = "credentials" // a password or token file could not be read
	ReasonRejected    = "rejected"    // the request could not even be built, or a refused one
)

// Transport limits of an HTTPClient. Connections are reused across sends;
// the pipeline's fixed worker count bounds how many are busy at once.
const (
	httpMaxConnsPerHost = 32
	httpDialTimeout     = 10 * time.Second
	httpIdleConnTimeout = 90 * time.Second
)

// HTTPMaxResponseBody bounds what is read of an answer's body, and what is
// drained after it so that the connection can be reused.
const HTTPMaxResponseBody = 64 << 10

// ParseHTTPURL checks and parses the URL a sink posts to: http or https,
// a host, a port (if any) of 1-65535, no credentials (they belong in
// basic_auth) and no fragment. Each error starts with url, e.g.
//
//	url "localhost:3100": missing scheme: want http:// or https://
//
// example is shown when raw is empty: "url: required (e.g. <example>)".
func ParseHTTPURL(raw, example string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("url: required (e.g. %s)", example)
	}
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("url %q: missing scheme: want http:// or https://", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: scheme %q: want http or https", raw, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url %q: missing host", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("url %q: port %q: want 1-65535", raw, p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, fmt.Errorf("url %q: empty port", raw)
	}
	if u.User != nil {
		c := *u
		c.User = nil
		return nil, fmt.Errorf("url %q: credentials in the URL are not allowed: use basic_auth", c.String())
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("url %q: a fragment is not allowed", raw)
	}
	return u, nil
}

// CheckHTTPURL reports, at key url, a required URL that is missing, that
// CheckURL refuses, or that ParseHTTPURL refuses for what only a sink's
// URL must not have (credentials, a fragment). For a Check method.
func CheckHTTPURL(c *config.Check, raw, example string) {
	if c.Required("url", raw) {
		if _, err := ParseHTTPURL(raw, example); CheckURL(c, "url", raw) && err != nil {
			c.Problem("url", "%v", err)
		}
	}
}

// HTTPClient posts request bodies to one URL over a pooled transport and
// measures them: logcapturer_sink_encoded_bytes_total and
// logcapturer_sink_request_duration_seconds, which the sink registers with
// its own metrics (Collectors). It is safe for concurrent use.
type HTTPClient struct {
	url       string
	verb      string
	timeout   time.Duration
	transport *http.Transport
	client    *http.Client
	encoded   prometheus.Counter
	duration  *prometheus.HistogramVec
}

// httpCodeNoAnswer is the code label of the request duration when there
// was no answer (connection failed, timed out).
const httpCodeNoAnswer = "error"

// NewHTTPClient reads tlsc's files and returns a client for u whose
// requests each take at most timeout, connection included. verb names a
// request in errors ("push" gives "push to HOST: ..."); okCode is the
// status the receiver answers a good request with, whose duration series
// exists from the start. A TLS configuration with an http:// URL is logged
// as ignored on logger (nil discards). The error is TLSConfig.Client's.
func NewHTTPClient(logger *slog.Logger, u *url.URL, tlsc TLSConfig, proxy Proxy, timeout time.Duration, verb, okCode string) (*HTTPClient, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tlsCfg, err := tlsc.Client()
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" && tlsCfg != nil {
		logger.Warn("tls options are ignored for an http:// url", "url", RedactURL(u.String()))
	}
	proxyFn, err := proxy.Func()
	if err != nil {
		return nil, err
	}
	t := newHTTPTransport(tlsCfg, proxyFn, timeout)
	c := &HTTPClient{
		url: u.String(), verb: verb, timeout: timeout, transport: t, client: &http.Client{Transport: t},
		encoded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_sink_encoded_bytes_total",
			Help: "Request body bytes sent, after encoding and compression, retries included."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "logcapturer_sink_request_duration_seconds",
			Help:    "Duration of push requests by HTTP status code (\"error\" when there was no answer).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"code"}),
	}
	// The request duration's series exist from the start, for a good
	// answer and for no answer at all: a histogram vector serves nothing
	// before its first observation, so dashboards and alerts would not see
	// it until the first request had returned. Other codes appear with
	// their first answer.
	for _, code := range []string{okCode, httpCodeNoAnswer} {
		c.duration.WithLabelValues(code)
	}
	return c, nil
}

func newHTTPTransport(tlsCfg *tls.Config, proxy func(*http.Request) (*url.URL, error), timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: min(httpDialTimeout, timeout), KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   min(httpDialTimeout, timeout),
		MaxIdleConns:          httpMaxConnsPerHost,
		MaxIdleConnsPerHost:   httpMaxConnsPerHost,
		MaxConnsPerHost:       httpMaxConnsPerHost,
		IdleConnTimeout:       httpIdleConnTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
	}
}

// URL returns the URL requests go to, as parsed (credentials cannot be in
// it: ParseHTTPURL refuses them).
func (c *HTTPClient) URL() string { return c.url }

// Collectors returns the client's metrics, for the sink to register with
// its own under its sink=<name> label.
func (c *HTTPClient) Collectors() []prometheus.Collector {
	return []prometheus.Collector{c.encoded, c.duration}
}

// Post sends body and returns the answer, whatever its status, with its
// body closed: read, when not nil, reads what it needs of the body first
// (at most HTTPMaxResponseBody is then drained, so that the connection is
// reused), and the request's duration is observed after it. header sets
// the request's headers; its error is returned as a *Retryable (reason
// credentials). Post blocks until the answer or until ctx is done or the
// client's timeout passes. With no answer it returns a *Retryable (reason
// timeout when the timeout passed, else connection) whose message names
// the host once; a request that cannot be built is a *Permanent (reason
// rejected).
func (c *HTTPClient) Post(ctx context.Context, body []byte, header func(http.Header) error, read func(*http.Response)) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, &Permanent{Reason: ReasonRejected, Err: fmt.Errorf("build %s request: %w", c.verb, err)}
	}
	if err := header(req.Header); err != nil {
		return nil, &Retryable{Err: err, Reason: ReasonCredentials}
	}
	c.encoded.Add(float64(len(body)))
	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		c.duration.WithLabelValues(httpCodeNoAnswer).Observe(time.Since(start).Seconds())
		reason := ReasonConnection
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			err = fmt.Errorf("%s to %s: no answer within %s: %w", c.verb, req.URL.Host, c.timeout, context.DeadlineExceeded)
			reason = ReasonTimeout
		} else {
			err = fmt.Errorf("%s to %s: %w", c.verb, req.URL.Host, URLCause(err))
		}
		return nil, &Retryable{Err: err, Reason: reason}
	}
	defer resp.Body.Close()
	if read != nil {
		read(resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, HTTPMaxResponseBody)) // lets the connection be reused
	c.duration.WithLabelValues(strconv.Itoa(resp.StatusCode)).Observe(time.Since(start).Seconds())
	return resp, nil
}

// CloseIdleConnections closes the connections not in use. Safe to call
// more than once; requests still running finish.
func (c *HTTPClient) CloseIdleConnections() { c.transport.CloseIdleConnections() }

// HTTPSink is what the sinks that send over HTTP (loki, otlp) set up alike
// from their options: a logger naming the sink, the client, the
// credentials and the extra headers.
type HTTPSink struct {
	Logger  *slog.Logger
	Client  *HTTPClient
	Auth    HTTPAuth
	Headers []HTTPHeader
}

// NewHTTPSink sets up the sink named name: a logger with sink=name (a nil
// logger discards), auth's files checked readable, a client for rawURL (a
// URL Validate accepted; example is ParseHTTPURL's) with tlsc's files read,
// verb and okCode as NewHTTPClient has them, and the headers compiled. The
// caller wraps the error with the sink's type and name.
func NewHTTPSink(logger *slog.Logger, name, rawURL, example string, auth HTTPAuth, tlsc TLSConfig, proxy Proxy, timeout time.Duration,
	headers map[string]string, verb, okCode string) (HTTPSink, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("sink", name)
	u, err := ParseHTTPURL(rawURL, example)
	if err != nil {
		return HTTPSink{}, err
	}
	if err := auth.ReadFiles(); err != nil {
		return HTTPSink{}, err
	}
	c, err := NewHTTPClient(logger, u, tlsc, proxy, timeout, verb, okCode)
	if err != nil {
		return HTTPSink{}, err
	}
	return HTTPSink{Logger: logger, Client: c, Auth: auth, Headers: CompileHeaders(headers)}, nil
}
