package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// refusingSink refuses (as a partial success) the lines refuse picks and
// records every line it is sent.
type refusingSink struct {
	mu     sync.Mutex
	refuse func(string) bool
	sent   []string
}

func (s *refusingSink) Name() string { return "loki" }
func (s *refusingSink) Close() error { return nil }
func (s *refusingSink) Send(_ context.Context, b *sinks.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var spans []sinks.Span
	for bi, blk := range b.Blocks {
		for ei, e := range blk.Entries {
			s.sent = append(s.sent, string(e.Line))
			if s.refuse != nil && s.refuse(string(e.Line)) {
				spans = sinks.AppendSpan(spans, bi, ei)
			}
		}
	}
	if spans == nil {
		return nil
	}
	return &sinks.Permanent{Reason: "too_old", Err: errors.New("400"), Refused: spans}
}

func (s *refusingSink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sent...)
}

// runPipeline runs a pipeline on dataDir with sink s, emits the blocks,
// waits for cond and closes it.
func runPipeline(t *testing.T, dataDir string, s sinks.Sink, blocks [][]string, cond func(*pipeline.Pipeline) bool) {
	t.Helper()
	p, err := pipeline.Open(nil, nil, pipeline.Options{DataDir: dataDir, CommitInterval: 5 * time.Millisecond,
		Sinks: []pipeline.SinkOptions{{Sink: s, MaxWait: 20 * time.Millisecond, MinBackoff: time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	for i, lines := range blocks {
		blk := wal.Block{Source: "app", Position: wal.Position{FileID: "f", Path: "/f", Offset: int64(i + 1)}}
		n := 0
		for _, l := range lines {
			blk.Entries = append(blk.Entries, wal.Entry{Time: time.Now().UnixNano(), Line: []byte(l)})
			n += len(l)
		}
		rec := sources.Record{Source: "app", Position: blk.Position, Entries: len(lines), Bytes: n, Data: wal.EncodeBlock(nil, &blk)}
		if err := p.Emit(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !cond(p) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; dead letters %+v", p.DeadLetters("loki"))
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDLQShowAndReplayPartial: offline, dlq show lists only the refused
// entries of a partial rejection, and dlq replay queues only them: the next
// run sends those and nothing else.
func TestDLQShowAndReplayPartial(t *testing.T) {
	dataDir := t.TempDir()
	s := &refusingSink{refuse: func(l string) bool { return strings.HasPrefix(l, "old") }}
	blocks := [][]string{{"cur-a", "old-b", "cur-c"}, {"old-d", "old-e", "cur-f"}}
	runPipeline(t, dataDir, s, blocks, func(p *pipeline.Pipeline) bool {
		n := 0
		for _, d := range p.DeadLetters("loki") {
			n += d.Entries
		}
		return n == 3
	})

	var out bytes.Buffer
	if code := runMain([]string{"dlq", "show", "--data-dir", dataDir}, &out, &out); code != 0 {
		t.Fatalf("dlq show: %d\n%s", code, out.String())
	}
	for _, l := range []string{"old-b", "old-d", "old-e"} {
		if !strings.Contains(out.String(), l) {
			t.Fatalf("dlq show lacks %s:\n%s", l, out.String())
		}
	}
	if strings.Contains(out.String(), "cur-") || !strings.Contains(out.String(), "only the") {
		t.Fatalf("dlq show lists delivered entries or no selection:\n%s", out.String())
	}

	out.Reset()
	if code := runMain([]string{"dlq", "replay", "--data-dir", dataDir}, &out, &out); code != 0 {
		t.Fatalf("dlq replay: %d\n%s", code, out.String())
	}
	ok := &refusingSink{}
	runPipeline(t, dataDir, ok, nil, func(p *pipeline.Pipeline) bool {
		return len(ok.lines()) >= 3 && len(p.DeadLetters("loki")) == 0
	})
	if got := strings.Join(ok.lines(), " "); got != "old-b old-d old-e" {
		t.Fatalf("the replay sent %q, want only the refused entries", got)
	}
}
