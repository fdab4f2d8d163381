package pipeline

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
)

// hangingSink is a receiver whose Send blocks, ignoring ctx, until the
// test lets it go: a write to a hung NFS mount or a pipe nobody reads.
type hangingSink struct {
	*memSink
	hang    chan chan struct{} // each Send takes the channel it waits on
	started chan struct{}
}

func (s hangingSink) Send(ctx context.Context, b *sinks.Batch) error {
	notify(s.started)
	<-<-s.hang
	return s.memSink.Send(ctx, b)
}

// TestSendHungIsAReadinessReason: a send in flight longer than the bound
// is sink_send_hung in /readyz (one log line when it starts and one when
// it ends); a shutdown gives up on a send that ignores cancellation after
// ShutdownTimeout instead of waiting for ever, and what was in flight is
// sent again after the next start.
func TestSendHungIsAReadinessReason(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	s := hangingSink{memSink: &memSink{name: "s"}, hang: make(chan chan struct{}, 2), started: make(chan struct{}, 1)}
	first, forever := make(chan struct{}), make(chan struct{})
	s.hang <- first
	s.hang <- forever
	defer close(forever)
	const shutdownTimeout = 300 * time.Millisecond
	p, err := Open(slog.New(slog.NewTextHandler(&logs, nil)), nil, Options{DataDir: dir, CommitInterval: 5 * time.Millisecond,
		ShutdownTimeout: shutdownTimeout, SendHungAfter: 200 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: s, MaxWait: time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, signal := context.WithCancel(context.Background())
	defer signal()
	p.Start(ctx)
	a := startAdmin(t, p)

	emit(t, p, "app", "f", 1, "one")
	<-s.started
	waitReason(t, a, "sink/s", ReasonSinkSendHung, true)
	close(first) // the send returns: the condition ends
	waitReason(t, a, "sink/s", ReasonSinkSendHung, false)
	if n := strings.Count(logs.String(), "degraded: sink_send_hung"); n != 1 {
		t.Errorf("%d 'degraded: sink_send_hung' lines, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "recovered: sink_send_hung"); n != 1 {
		t.Errorf("%d 'recovered: sink_send_hung' lines, want 1", n)
	}

	emit(t, p, "app", "f", 2, "two")
	<-s.started
	waitReason(t, a, "sink/s", ReasonSinkSendHung, true)
	signal()
	began := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > shutdownTimeout+cancelGrace+time.Second {
		t.Errorf("Close took %s with a hung send, want about shutdown_timeout %s + %s", took, shutdownTimeout, cancelGrace)
	}
	if got := p.AbandonedSinks(); !slices.Equal(got, []string{"s"}) {
		t.Errorf("AbandonedSinks = %v, want [s]", got)
	}
	if !strings.Contains(logs.String(), "sends in flight ignore cancellation") {
		t.Errorf("the log does not say a send was left behind:\n%s", logs.String())
	}
	select {
	case <-p.loopsDone:
		t.Fatal("the hung send's worker returned before its Send did")
	default:
	}
	forever <- struct{}{} // the left-behind worker returns once its Send does
	<-p.loopsDone

	again := &memSink{name: "s"}
	p2 := openTest(t, dir, nil, Options{}, again)
	waitFor(t, "the hung batch sent again", func() bool { return slices.Equal(again.lines(), []string{"two"}) })
	if err := p2.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownStartsNoNewSends: once the context given to Start ends,
// blocks written afterwards (sources closing) are not sent: only what was
// in flight is finished, so the shutdown is as short as it can be and the
// rest waits in the WAL for the next start.
func TestShutdownStartsNoNewSends(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{}, 1)
	slow := &memSink{name: "s"}
	p, err := Open(nil, nil, Options{DataDir: dir,
		Sinks: []SinkOptions{{Sink: ctxSink{slow, started}, MaxWait: time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, signal := context.WithCancel(context.Background())
	defer signal()
	p.Start(ctx)
	emit(t, p, "app", "f", 1, "in flight")
	<-started
	signal()
	emit(t, p, "app", "f", 2, "after the signal")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := slow.lines(); !slices.Equal(got, []string{"in flight"}) {
		t.Fatalf("delivered %v, want only the line in flight", got)
	}
	again := &memSink{name: "s"}
	p2 := openTest(t, dir, nil, Options{}, again)
	waitFor(t, "the rest delivered after the restart", func() bool { return len(again.lines()) >= 1 })
	if err := p2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := again.lines(); !slices.Equal(got, []string{"after the signal"}) {
		t.Fatalf("after the restart the sink got %v", got)
	}
}
