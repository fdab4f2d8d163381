package receiver

import (
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
)

// Defaults of Options.
const (
	DefaultMaxRequestBytes  = 16 * config.MiB
	DefaultMaxInflightBytes = 64 * config.MiB
	DefaultRetryAfter       = time.Second
	DefaultEmitWait         = 5 * time.Second
	DefaultDurableWait      = time.Minute
	DefaultShutdownTimeout  = 5 * time.Second
)

// Options configure a Server. The zero values of the sizes and durations
// mean their defaults.
type Options struct {
	// Name and Type are the source's name and type (metrics, logs).
	Name, Type string
	// ListenAddress is host:port; DefaultAddress when empty.
	ListenAddress string
	// DefaultAddress is the type's default (loki_push: 127.0.0.1:3500).
	DefaultAddress string
	TLS            TLSConfig
	Auth           Auth
	// MaxRequestBytes bounds a request's body, as sent and once
	// decompressed: larger is refused 413.
	MaxRequestBytes int64
	// MaxInflightBytes bounds the bytes of records handed to the pipeline
	// and not yet durable (sources.Inflight): a push that does not fit is
	// answered 429 with Retry-After.
	MaxInflightBytes int64
	// RetryAfter is the Retry-After of a 429 or 503 (rounded up to
	// seconds).
	RetryAfter time.Duration
	// EmitWait bounds how long a request waits in Emit (the pipeline's
	// queue full) before it is answered 429.
	EmitWait time.Duration
	// DurableWait bounds how long a request waits for its records'
	// completions before it is answered 503 (the client sends it again;
	// the records may still become durable: a duplicate).
	DurableWait time.Duration
	// ShutdownTimeout bounds how long Close waits for requests in
	// progress before it closes their connections.
	ShutdownTimeout time.Duration
	// Emitter receives the records; if it is a sources.WALFuller, a full
	// WAL is answered 429 before the body is read.
	Emitter sources.Emitter
	// Stages, when set, runs every request's entries through the source's
	// pipeline_stages and relabel hook (see Server.stage) before they are
	// emitted. The Server owns it from New on: Close stops and closes it
	// (New too, when it fails).
	Stages *sources.StageRunner
	// Now is the clock for receive times (tests); nil is time.Now.
	Now func() time.Time
	// Logger may be nil.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.ListenAddress == "" {
		o.ListenAddress = o.DefaultAddress
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = int64(DefaultMaxRequestBytes)
	}
	if o.MaxInflightBytes <= 0 {
		o.MaxInflightBytes = int64(DefaultMaxInflightBytes)
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.EmitWait <= 0 {
		o.EmitWait = DefaultEmitWait
	}
	if o.DurableWait <= 0 {
		o.DurableWait = DefaultDurableWait
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// CheckListenAddress reports at key a listen address that is not
// host:port with a numeric port (an empty host listens on every
// interface; "" is the default and fine).
func CheckListenAddress(ck *config.Check, key, addr string) {
	if addr == "" {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		ck.Problem(key, "must be host:port, got %q", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		ck.Problem(key, "port must be a number from 0 to 65535, got %q", port)
	}
	_ = host
}

// CheckSizes reports sizes that are negative or do not fit each other:
// a request larger than max_inflight_bytes could never be taken.
func CheckSizes(ck *config.Check, maxRequest, maxInflight config.ByteSize) {
	if maxRequest < 0 {
		ck.Problem("max_request_bytes", "must not be negative, got %s", maxRequest)
	}
	if maxInflight < 0 {
		ck.Problem("max_inflight_bytes", "must not be negative, got %s", maxInflight)
	}
	req, inf := maxRequest, maxInflight
	if req == 0 {
		req = DefaultMaxRequestBytes
	}
	if inf == 0 {
		inf = DefaultMaxInflightBytes
	}
	if req > 0 && inf > 0 && req > inf {
		ck.Problem("max_inflight_bytes", "must be at least max_request_bytes (%s), got %s", req, inf)
	}
}
