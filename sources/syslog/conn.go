package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// conn is one stream connection, served by one goroutine.
type conn struct {
	nc      net.Conn
	remote  string
	since   time.Time
	entries atomic.Int64
	bytes   atomic.Int64
}

// accept accepts connections until the listener is closed. A connection
// over MaxConnections is closed at once and counted. Temporary accept
// failures (too many open files) back off from 5ms to 1s, as net/http
// does.
func (s *Source) accept(ctx context.Context) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.m.errors.WithLabelValues(reasonAccept).Inc()
			s.warn(reasonAccept, "syslog accept failed", "error", err)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		s.m.accepted.Inc()
		c := &conn{nc: nc, remote: remoteName(nc), since: time.Now().UTC()}
		s.mu.Lock()
		switch {
		case s.closed:
			s.mu.Unlock()
			nc.Close()
			return
		case len(s.conns) >= s.cfg.MaxConnections:
			s.mu.Unlock()
			// Counted before the close: a client that sees its
			// connection refused finds the refusal in the metrics.
			s.m.errors.WithLabelValues(reasonMaxConnections).Inc()
			s.warn(reasonMaxConnections, "syslog connection refused: max_connections reached",
				"max_connections", s.cfg.MaxConnections, "remote", c.remote)
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.m.connections.Inc()
		go s.serve(ctx, c)
	}
}

func remoteName(nc net.Conn) string {
	if a := nc.RemoteAddr(); a != nil && a.String() != "" {
		return a.String()
	}
	return "local"
}

// deadlineReader sets the idle deadline before each read and notes when
// each read returned (the receive time of what it read).
type deadlineReader struct {
	nc   net.Conn
	idle time.Duration
	now  func() time.Time
	last time.Time
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	if err := r.nc.SetReadDeadline(time.Now().Add(r.idle)); err != nil {
		return 0, err
	}
	n, err := r.nc.Read(p)
	r.last = r.now()
	return n, err
}

// serve reads one connection: frames, parses, and hands chunks to the
// batcher. It hands its chunk over before each read that may block, so
// nothing waits in a connection; the hand-over blocks while the batcher
// waits for the Emitter, and then the connection is not read: TCP's flow
// control slows the sender. Never read-then-drop.
func (s *Source) serve(ctx context.Context, c *conn) {
	defer s.wg.Done()
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.m.connections.Dec()
	}()
	idle := time.Duration(s.cfg.IdleTimeout)
	if tc, ok := c.nc.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(idle))
		if err := tc.HandshakeContext(ctx); err != nil {
			if ctx.Err() == nil {
				s.m.errors.WithLabelValues(reasonTLS).Inc()
				s.warn(reasonTLS, "syslog TLS handshake failed", "remote", c.remote, "error", err)
			}
			return
		}
	}
	rd := &deadlineReader{nc: c.nc, idle: idle, now: s.now}
	fr := newFramer(rd, int(s.cfg.MaxMessageLength), readBuffer, s.cfg.MaxMessagePolicy == PolicyDrop)
	cv := newConverter(&s.cfg, s.loc, s.labels)
	if s.internal {
		cv.internal, cv.conn = true, connLabels(ctx, c.nc.RemoteAddr())
	}
	ck := s.chunks.get()
	var received int64
	// handOver never drops: the batcher reads s.in until the stopper
	// closes it, which it does only once every connection is gone, and
	// at a stop it keeps what it takes for its final flush. So what was
	// read and parsed is handed over, at a stop too.
	handOver := func() {
		s.m.received.Add(float64(fr.received - received))
		c.bytes.Add(fr.received - received)
		received = fr.received
		if len(ck.entries) == 0 {
			return
		}
		n := len(ck.entries)
		ck.seal()
		s.in <- ck
		c.entries.Add(int64(n))
		ck = s.chunks.get()
	}
	fr.beforeRead = handOver
	for {
		msg, st, err := fr.next()
		if err != nil {
			s.connEnded(ctx, c, fr, err)
			handOver()
			s.chunks.put(ck)
			return
		}
		switch st {
		case frameDropped:
			s.m.dropped.WithLabelValues(dropTooLong).Inc()
			continue
		case frameCut:
			s.m.truncated.Inc()
		}
		if cv.convert(msg, s.clock.NextTime(rd.last), ck) {
			s.m.errors.WithLabelValues(reasonParse).Inc()
		}
		if ck.full() {
			handOver()
		}
	}
}

// connEnded counts and logs why a connection ended.
func (s *Source) connEnded(ctx context.Context, c *conn, fr *framer, err error) {
	switch {
	case ctx.Err() != nil, errors.Is(err, io.EOF):
	case errors.Is(err, ErrFraming):
		s.m.errors.WithLabelValues(reasonFraming).Inc()
		s.warn(reasonFraming, "closing syslog connection: bad framing", "remote", c.remote, "error", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		if fr.partial() {
			s.m.errors.WithLabelValues(reasonIdle).Inc()
			s.warn(reasonIdle, "closing syslog connection idle in the middle of a frame", "remote", c.remote,
				"idle_timeout", time.Duration(s.cfg.IdleTimeout))
		} else {
			s.logger.Debug("closing idle syslog connection", "remote", c.remote)
		}
	case errors.Is(err, net.ErrClosed):
	default:
		s.m.errors.WithLabelValues(reasonRead).Inc()
		s.warn(reasonRead, "syslog connection read failed", "remote", c.remote, "error", err)
	}
}
