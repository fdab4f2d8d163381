package syslog

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources"
)

type countEmitter struct{ n atomic.Int64 }

func (e *countEmitter) Emit(_ context.Context, rec sources.Record) error {
	e.n.Add(int64(rec.Entries))
	return nil
}

// BenchmarkTCPSource is the source alone: framing, parsing, batching and
// encoding of RFC 5424 messages of 200 bytes from one TCP connection, into
// an Emitter that only counts.
func BenchmarkTCPSource(b *testing.B) {
	em := &countEmitter{}
	s, err := New(nil, nil, Options{Name: "net", Labels: map[string]string{"job": "bench"},
		Config: Config{ListenAddress: "127.0.0.1:0"}, Emitter: em})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	c, start := SendBench(b, s.Addr().String())
	defer c.Close()
	for em.n.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchHead is the header of the benchmarks' RFC 5424 messages: each is
// 200 bytes, BenchHead, then "m"s, then 8 digits.
const BenchHead = "<134>1 2026-12-05T10:00:00.000Z edge-host-01 benchapp 4242 ID47 - "

// SendBench dials the TCP listener at addr and sends b.N messages of 200
// bytes (octet counting) over that one connection, with the benchmark's
// timer reset just before the first; it returns when they are written,
// with the connection (the caller closes it) and when sending began. For
// the benchmarks of this package and of syslog_test.
func SendBench(b *testing.B, addr string) (net.Conn, time.Time) {
	b.Helper()
	msg := BenchHead + strings.Repeat("m", 200-len(BenchHead)-8) // + 8 digits
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(200)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	w := bufio.NewWriterSize(c, 64<<10)
	for i := range b.N {
		fmt.Fprintf(w, "200 %s%08d", msg, i%100000000)
	}
	if err := w.Flush(); err != nil {
		c.Close()
		b.Fatal(err)
	}
	return c, start
}
