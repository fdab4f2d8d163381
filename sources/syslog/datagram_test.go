package syslog

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestUDP(t *testing.T) {
	s, em := startSource(t, Config{ListenProtocol: ProtoUDP, MaxMessageLength: 64}, nil)
	c := dial(t, s)
	write(t, c, "<13>1 - h a - - - one\n")
	write(t, c, "<13>1 - h a - - - two")
	write(t, c, "<13>1 - h a - - - "+string(make([]byte, 100))) // cut to 64
	es := em.waitEntries(t, 3, 5*time.Second)
	if es[0].Line != "one" || es[1].Line != "two" || len(es[2].Line) != 64-len("<13>1 - h a - - - ") {
		t.Errorf("entries %+v", es)
	}
}

// TestUDPDropsWhenTheWALIsBehind: datagrams the batcher cannot take are
// counted as dropped, and the source reads on.
func TestUDPDropsWhenTheWALIsBehind(t *testing.T) {
	s, em := startSource(t, Config{ListenProtocol: ProtoUDP}, nil)
	em.Hold()
	c := dial(t, s)
	const n = 20000
	for i := range n {
		fmt.Fprintf(c, "<13>1 - - - - - - %d", i)
		if i%500 == 0 {
			time.Sleep(time.Millisecond) // let the kernel buffer drain into the source
		}
	}
	waitFor(t, "drops counted", 10*time.Second, func() bool { return droppedOf(s, dropBackpressure) > 0 })
	em.Release()
	sentAfter := 0
	waitFor(t, "a message sent after the release", 10*time.Second, func() bool {
		fmt.Fprintf(c, "<13>1 - - - - - - after") // until the backlog is gone, it may be dropped too
		sentAfter++
		time.Sleep(20 * time.Millisecond)
		for _, e := range em.Entries() {
			if e.Line == "after" {
				return true
			}
		}
		return false
	})
	if got, dropped := em.Len(), int(droppedOf(s, dropBackpressure)); got+dropped > n+sentAfter {
		t.Errorf("%d arrived + %d dropped > %d sent", got, dropped, n+sentAfter)
	}
}

func TestUnixSockets(t *testing.T) {
	dir := t.TempDir()
	for _, proto := range []string{ProtoUnix, ProtoUnixgram} {
		t.Run(proto, func(t *testing.T) {
			path := filepath.Join(dir, proto+".sock")
			s, em := startSource(t, Config{ListenProtocol: proto, ListenAddress: path}, nil)
			c, err := net.Dial(proto, path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			write(t, c, "<13>1 - h a - - - over "+proto+"\n")
			if es := em.waitEntries(t, 1, 5*time.Second); es[0].Line != "over "+proto {
				t.Errorf("entry %+v", es[0])
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// a new source on the same path starts (a stale socket is removed)
			s2, err := New(nil, nil, Options{Name: "again", Config: Config{ListenProtocol: proto, ListenAddress: path}, Emitter: em})
			if err != nil {
				t.Fatal(err)
			}
			s2.Close()
		})
	}
}

// TestCloseWhileTheEmitterWaits: Close returns while the Emitter holds,
// within the final flush's bound, and leaves no goroutine (goleak).
func TestCloseWhileTheEmitterWaits(t *testing.T) {
	em := newFakeEmitter()
	s, err := New(nil, nil, Options{Name: "x", Config: Config{ListenAddress: "127.0.0.1:0"}, Emitter: em})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	em.Hold()
	c := dial(t, s)
	for i := range 1000 {
		fmt.Fprintf(c, "<13>1 - - - - - - %d\n", i)
	}
	<-em.waiting
	start := time.Now()
	go func() { time.Sleep(200 * time.Millisecond); em.Release() }()
	s.Close()
	if d := time.Since(start); d > finalFlushTimeout+time.Second {
		t.Errorf("Close took %s", d)
	}
	s.Close() // twice is fine
	if got, dropped := em.Len(), int(droppedOf(s, dropShutdown)); got+dropped != 1000 && got < 1 {
		t.Errorf("%d arrived, %d dropped at shutdown", got, dropped)
	}
}
