package syslog

import (
	"context"
	"errors"
	"net"
	"os"
	"time"
)

// readPackets reads the datagram socket (udp, unixgram): one message per
// datagram, a trailing LF (or CRLF) dropped. It never waits for the
// batcher: what it parsed is offered without blocking after each
// datagram; while the batcher cannot take it, the chunk fills, and once it
// is full the datagrams that follow are counted as dropped
// (dropped_entries_total{reason="backpressure"}) until the batcher takes
// it. A chunk not taken is offered again within maxWait.
func (s *Source) readPackets(ctx context.Context) {
	defer s.wg.Done()
	size := min(int(s.cfg.MaxMessageLength)+3, 1<<16) // +"\r\n" and one byte to see a longer one
	var gc *gelfConverter
	if s.cfg.gelf {
		size = 1 << 16 // a datagram is a chunk or a message, compressed: cut by the converter
		gc = newGELFConverter(&s.cfg, s.labels)
		gc.internal = s.internal
	}
	buf := make([]byte, size)
	cv := newConverter(&s.cfg, s.loc, s.labels)
	cv.internal = s.internal
	ck := s.chunks.get()
	defer func() {
		s.m.dropped.WithLabelValues(dropShutdown).Add(float64(len(ck.entries)))
		s.chunks.put(ck)
	}()
	offer := func() {
		if len(ck.entries) == 0 {
			return
		}
		ck.seal()
		select {
		case s.in <- ck:
			ck = s.chunks.get()
		default:
		}
	}
	waiting := false // a read deadline is set because ck waits
	for {
		if held := len(ck.entries) > 0 || gc != nil && gc.asm.pending(); held != waiting {
			waiting = held
			var dl time.Time
			if held {
				dl = time.Now().Add(maxWait)
			}
			_ = s.pc.SetReadDeadline(dl)
		}
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			switch {
			case ctx.Err() != nil || errors.Is(err, net.ErrClosed):
				return
			case errors.Is(err, os.ErrDeadlineExceeded):
				offer()
				if gc != nil { // chunks of messages that will not complete
					s.gelfIncomplete(gc.asm.expire(s.now()))
				}
				waiting = !waiting // set the deadline again, or clear it
				continue
			}
			s.m.errors.WithLabelValues(reasonRead).Inc()
			s.warn(reasonRead, "syslog datagram read failed", "error", err)
			continue
		}
		recv := s.now()
		s.m.received.Add(float64(n))
		if gc != nil {
			// Chunks are taken whatever the backpressure: only a whole
			// message needs room.
			msg, r := gc.assemble(buf[:n], recv)
			s.gelfCount(r)
			if msg == nil {
				continue
			}
			if ck.full() {
				offer()
				if len(ck.entries) > 0 {
					s.m.dropped.WithLabelValues(dropBackpressure).Inc()
					continue
				}
			}
			s.gelfCount(gc.entry(msg, s.clock.NextTime(recv), ck))
			offer()
			continue
		}
		msg := buf[:n]
		if k := len(msg); k > 0 && msg[k-1] == '\n' {
			msg = msg[:k-1]
			if k > 1 && msg[k-2] == '\r' {
				msg = msg[:k-2]
			}
		}
		if len(msg) > int(s.cfg.MaxMessageLength) {
			if s.cfg.MaxMessagePolicy == PolicyDrop {
				s.m.dropped.WithLabelValues(dropTooLong).Inc()
				continue
			}
			msg = msg[:s.cfg.MaxMessageLength]
			s.m.truncated.Inc()
		}
		if ck.full() {
			offer()
			if len(ck.entries) > 0 { // still full: the batcher is behind
				s.m.dropped.WithLabelValues(dropBackpressure).Inc()
				continue
			}
		}
		if cv.internal {
			cv.conn = connLabels(nil, from) // no lookup per datagram
		}
		if cv.convert(msg, s.clock.NextTime(recv), ck) {
			s.m.errors.WithLabelValues(reasonParse).Inc()
		}
		offer()
	}
}

// gelfIncomplete counts the GELF messages given up before all their
// chunks came, and warns (once, then at debug level).
func (s *Source) gelfIncomplete(n int) {
	if n == 0 {
		return
	}
	s.m.dropped.WithLabelValues(dropIncomplete).Add(float64(n))
	s.warn(dropIncomplete, "GELF messages given up before all their chunks came: 5s passed, too many messages or chunk bytes held, "+
		"or their chunk count changed", "messages", n)
}

// gelfCount counts what became of a GELF datagram or message.
func (s *Source) gelfCount(r gelfResult) {
	s.gelfIncomplete(r.chunks)
	switch {
	case r.badChunk != nil:
		s.m.errors.WithLabelValues(reasonParse).Inc()
		s.warn(reasonParse, "GELF datagram not decoded", "error", r.badChunk)
	case r.tooLong:
		s.m.dropped.WithLabelValues(dropTooLong).Inc()
		s.warn(dropTooLong, "GELF message longer than max_message_length uncompressed: dropped", "max_message_length", s.cfg.MaxMessageLength)
	case r.parse:
		s.m.errors.WithLabelValues(reasonParse).Inc()
		if r.entry {
			s.warn(reasonParse, "GELF message that is not a GELF JSON object: shipped as received, parse_error=\"true\"")
		} else {
			s.warn(reasonParse, "GELF message not decompressed, or a JSON null: dropped")
		}
	}
}
