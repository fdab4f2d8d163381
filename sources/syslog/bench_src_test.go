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
	head := "<134>1 2026-12-05T10:00:00.000Z edge-host-01 benchapp 4242 ID47 - "
	msg := head + strings.Repeat("m", 200-len(head)-8)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(200)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	w := bufio.NewWriterSize(c, 64<<10)
	for i := range b.N {
		fmt.Fprintf(w, "200 %s%08d", msg, i%100000000)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	for em.n.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
