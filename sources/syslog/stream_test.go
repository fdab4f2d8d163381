package syslog

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestFramingErrorClosesOnlyThatConnection: each kind of bad frame closes
// its connection and is counted; a client sending at the same time loses
// nothing and keeps its connection.
func TestFramingErrorClosesOnlyThatConnection(t *testing.T) {
	cases := map[string]string{
		"letter in count":     "12a <13>1 - - - - - - x",
		"zero count":          "0 <13>1 - - - - - - x",
		"leading zero":        "012 <13>1 - - - - - - x",
		"count too long":      "1234567890 <13>1 - - - - - - x",
		"count then newline":  "15\n<13>1 - - - - - - x",
		"after a good frame":  octet("<13>1 - - - - - - good") + "7x",
		"closed inside frame": "100 <13>1 - - - - - - short",
	}
	s, em := startSource(t, Config{}, nil)
	good := dial(t, s)
	sent := 0
	for name, input := range cases {
		bad := dial(t, s)
		write(t, bad, input)
		if name == "closed inside frame" {
			bad.(*net.TCPConn).CloseWrite()
		}
		closedByPeer(t, bad, 5*time.Second)
		write(t, good, octet(fmt.Sprintf("<13>1 - - - - - - %s", name)))
		sent++
	}
	es := em.waitEntries(t, sent+1, 5*time.Second) // + "good"
	lines := map[string]bool{}
	for _, e := range es {
		lines[e.Line] = true
	}
	for name := range cases {
		if !lines[name] {
			t.Errorf("the good client's message %q was lost", name)
		}
	}
	if !lines["good"] {
		t.Error("the frame before a bad one was lost")
	}
	if n := errorsOf(s, reasonFraming); n != float64(len(cases)) {
		t.Errorf("framing errors %v, want %d", n, len(cases))
	}
	if len(s.Connections()) != 1 {
		t.Errorf("connections %+v, want the good one", s.Connections())
	}
}

func TestLongMessages(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	msg := "<13>1 - host app - - - " + big
	t.Run("1MiB whole", func(t *testing.T) {
		s, em := startSource(t, Config{MaxMessageLength: 2 << 20}, nil)
		c := dial(t, s)
		write(t, c, octet(msg)+msg+"\n"+octet("<13>1 - - - - - - after"))
		es := em.waitEntries(t, 3, 10*time.Second)
		if es[0].Line != big || es[1].Line != big || es[2].Line != "after" {
			t.Errorf("lines of %d, %d bytes and %q", len(es[0].Line), len(es[1].Line), es[2].Line)
		}
		waitFor(t, "the buffer to shrink", 5*time.Second, func() bool { return len(s.Connections()) == 1 })
	})
	t.Run("truncated", func(t *testing.T) {
		s, em := startSource(t, Config{}, nil)
		c := dial(t, s)
		write(t, c, octet(msg)+msg+"\n"+octet("<13>1 - - - - - - after"))
		es := em.waitEntries(t, 3, 10*time.Second)
		for _, e := range es[:2] {
			if want := int(DefaultMaxMessageLength) - len("<13>1 - host app - - - "); len(e.Line) != want || e.Labels["app_name"] != "app" {
				t.Errorf("line of %d bytes (want %d), labels %v", len(e.Line), want, e.Labels)
			}
		}
		if es[2].Line != "after" {
			t.Errorf("after: %q", es[2].Line)
		}
		if n := testutil.ToFloat64(s.m.truncated); n != 2 {
			t.Errorf("truncated %v", n)
		}
	})
	t.Run("dropped", func(t *testing.T) {
		s, em := startSource(t, Config{MaxMessagePolicy: PolicyDrop}, nil)
		c := dial(t, s)
		write(t, c, octet(msg)+msg+"\n"+octet("<13>1 - - - - - - after"))
		es := em.waitEntries(t, 1, 10*time.Second)
		if len(es) != 1 || es[0].Line != "after" {
			t.Errorf("entries %d, first %.40q", len(es), es[0].Line)
		}
		waitFor(t, "drops counted", 5*time.Second, func() bool { return droppedOf(s, dropTooLong) == 2 })
	})
}

// TestExactlyOnceOverTCP: 100,000 messages from 4 clients, both framings,
// each arrives once.
func TestExactlyOnceOverTCP(t *testing.T) {
	const clients, per = 4, 25000
	s, em := startSource(t, Config{}, nil)
	var wg sync.WaitGroup
	for k := range clients {
		c := dial(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := bufio.NewWriter(c)
			for i := range per {
				m := fmt.Sprintf("<14>1 2026-12-05T10:00:00Z h a - - - c%d-m%d %s", k, i, strings.Repeat("p", 150))
				if k%2 == 0 {
					fmt.Fprintf(w, "%d %s", len(m), m)
				} else {
					fmt.Fprintf(w, "%s\n", m)
				}
			}
			w.Flush()
			c.Close()
		}()
	}
	wg.Wait()
	es := em.waitEntries(t, clients*per, 60*time.Second)
	seen := make(map[string]int, len(es))
	for _, e := range es {
		f := strings.Fields(e.Line)
		seen[f[0]]++
	}
	for k := range clients {
		for i := range per {
			if n := seen[fmt.Sprintf("c%d-m%d", k, i)]; n != 1 {
				t.Fatalf("c%d-m%d arrived %d times", k, i, n)
			}
		}
	}
	if len(es) != clients*per {
		t.Errorf("%d entries, want %d", len(es), clients*per)
	}
}

// TestManyConnections: 10,000 connections opened, each sending one
// message, and dropped; all messages arrive, no connection stays.
func TestManyConnections(t *testing.T) {
	const n, parallel = 10000, 50
	s, em := startSource(t, Config{}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, parallel)
	for p := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < n; i += parallel {
				c, err := net.Dial("tcp", s.Addr().String())
				if err != nil {
					errs <- err
					return
				}
				if i%3 != 0 { // a third send nothing
					fmt.Fprintf(c, "<13>1 - - - - - - conn %d\n", i)
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := 0
	for i := range n {
		if i%3 != 0 {
			want++
		}
	}
	em.waitEntries(t, want, 30*time.Second)
	waitFor(t, "every connection to be gone", 10*time.Second, func() bool {
		return len(s.Connections()) == 0 && testutil.ToFloat64(s.m.connections) == 0
	})
	if got := testutil.ToFloat64(s.m.accepted); got != n {
		t.Errorf("accepted %v, want %d", got, n)
	}
	if em.Len() != want {
		t.Errorf("%d entries, want %d", em.Len(), want)
	}
}

// TestHalfFrameStalls: a client that sends half a frame and stalls is
// closed after idle_timeout and counted; another client is not affected.
func TestHalfFrameStalls(t *testing.T) {
	s, em := startSource(t, Config{IdleTimeout: configDuration(300 * time.Millisecond)}, nil)
	stall := dial(t, s)
	write(t, stall, "100 <13>1 - - - - - - half")
	other := dial(t, s)
	start := time.Now()
	closedByPeer(t, stall, 5*time.Second)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("closed after %s, before idle_timeout", d)
	}
	if n := errorsOf(s, reasonIdle); n != 1 {
		t.Errorf("idle errors %v", n)
	}
	write(t, other, "<13>1 - - - - - - fine\n") // the other one idled too: it was closed, a new one works
	other2 := dial(t, s)
	write(t, other2, "<13>1 - - - - - - fine\n")
	es := em.waitEntries(t, 1, 5*time.Second)
	if es[0].Line != "fine" {
		t.Errorf("entry %+v", es[0])
	}
}

// TestTCPBackpressure: while the Emitter waits, the source stops reading:
// the client's writes block (its socket buffers fill) and nothing is
// dropped; once the Emitter takes again, every message arrives.
func TestTCPBackpressure(t *testing.T) {
	s, em := startSource(t, Config{}, nil)
	em.Hold()
	c := dial(t, s)
	line := fmt.Sprintf("<13>1 - - - - - - %s", strings.Repeat("b", 1000))
	var sent int
	blocked := false
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := fmt.Fprintf(c, "%s %d\n", line, sent); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				blocked = true
				break
			}
			t.Fatal(err)
		}
		sent++
	}
	if !blocked {
		t.Fatalf("the client wrote %d messages without being slowed", sent)
	}
	// what is held: the batcher's block, the channel, one chunk per
	// connection, and the socket buffers; far less than sent.
	if em.Len() != 0 {
		t.Fatalf("entries arrived while the emitter held")
	}
	_ = c.SetWriteDeadline(time.Time{})
	em.Release()
	c.Close()
	// The last write timed out: it may have gone out partly; the whole
	// messages before it all arrive, once each.
	es := em.waitEntries(t, sent, 30*time.Second)
	seen := map[string]int{}
	for _, e := range es {
		if i := strings.LastIndexByte(e.Line, ' '); i == 1000 { // not the part of the last write that went out
			seen[e.Line[i:]]++
		}
	}
	for i := range sent {
		if n := seen[fmt.Sprintf(" %d", i)]; n != 1 {
			t.Fatalf("message %d arrived %d times", i, n)
		}
	}
	for _, r := range []string{dropBackpressure, dropShutdown, dropTooLong} {
		if n := droppedOf(s, r); n != 0 {
			t.Errorf("dropped %s: %v", r, n)
		}
	}
}

// TestMaxConnections: a connection over max_connections is closed at once
// and counted; the open ones go on, and once one closes a new one is
// served.
func TestMaxConnections(t *testing.T) {
	s, em := startSource(t, Config{MaxConnections: 2}, nil)
	a, b := dial(t, s), dial(t, s)
	waitFor(t, "two connections", 5*time.Second, func() bool { return len(s.Connections()) == 2 })
	over := dial(t, s)
	closedByPeer(t, over, 5*time.Second)
	if n := errorsOf(s, reasonMaxConnections); n != 1 {
		t.Errorf("max_connections errors %v", n)
	}
	write(t, a, "<13>1 - - - - - - a\n")
	b.Close()
	waitFor(t, "b gone", 5*time.Second, func() bool { return len(s.Connections()) == 1 })
	write(t, dial(t, s), "<13>1 - - - - - - c\n")
	if es := em.waitEntries(t, 2, 5*time.Second); len(es) != 2 {
		t.Errorf("entries %+v", es)
	}
}

// TestRepeatedMessagesDistinctTimes: messages read together share their
// receive time; each gets 1 ns after the one before, or Loki would store
// one of three equal lines of a stream (Promtail stamps each message as
// it takes it).
func TestRepeatedMessagesDistinctTimes(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s, em := startSourceNow(t, Config{}, nil, func() time.Time { return at })
	c := dial(t, s)
	msg := octet("<13>1 - - - - - - same")
	write(t, c, msg+msg+msg)
	es := em.waitEntries(t, 3, 5*time.Second)
	for i, e := range es {
		if want := at.Add(time.Duration(i)).UnixNano(); e.Time != want {
			t.Errorf("entry %d %q at %v, want %v", i, e.Line, e.Time, want)
		}
	}
}

// TestStopHandsOverParsedMessages: at a stop while the pipeline is slow
// (the batcher waits in Emit, its queue is full, connections wait to hand
// their parsed messages over), every message read and parsed is handed
// to the final flush, none dropped, and nothing is counted as dropped.
// Before, a connection waiting to hand over at the stop dropped its chunk
// (and counted it twice). Found by a reviewer.
func TestStopHandsOverParsedMessages(t *testing.T) {
	s, em := startSource(t, Config{ListenProtocol: ProtoTCP}, nil)
	em.Hold() // the WAL is slow: the batcher's Emit waits
	first := octet("<13>1 2024-01-02T03:04:05Z h a - - - first")
	write(t, dial(t, s), first)
	<-em.waiting // the batcher is in Emit
	const conns, per = 16, 10
	total := len(first)
	for c := range conns {
		var b strings.Builder
		for i := range per {
			b.WriteString(octet(fmt.Sprintf("<13>1 2024-01-02T03:04:05Z h a - - - conn%d msg%d", c, i)))
		}
		total += b.Len()
		write(t, dial(t, s), b.String())
	}
	// A connection counts its bytes when it hands over, before it waits:
	// once all are counted, every message is parsed, and the connections
	// the batcher's queue has no room for wait to hand theirs over.
	waitFor(t, "every byte parsed", 5*time.Second, func() bool {
		var n int64
		for _, c := range s.Connections() {
			n += c.Bytes
		}
		return n == int64(total)
	})
	released := make(chan struct{})
	go func() {
		defer close(released)
		<-em.waiting // the final flush: let the pipeline take it
		em.Release()
	}()
	s.Close()
	<-released
	if got := em.Len(); got != conns*per+1 {
		t.Errorf("%d of %d parsed messages in the WAL after a stop whose final flush the pipeline took", got, conns*per+1)
	}
	if d := droppedOf(s, dropShutdown); d != 0 {
		t.Errorf("dropped{shutdown} = %v, want 0", d)
	}
}
