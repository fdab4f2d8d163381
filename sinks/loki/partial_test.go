package loki_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// refusedLines returns the lines of the entries a *sinks.Permanent names.
func refusedLines(t *testing.T, b *sinks.Batch, err error) ([]string, *sinks.Permanent) {
	t.Helper()
	var p *sinks.Permanent
	if !errors.As(err, &p) {
		t.Fatalf("err %v, want *sinks.Permanent", err)
	}
	var out []string
	for _, s := range p.Refused {
		for _, e := range b.Blocks[s.Block].Entries[s.First : s.First+s.Count] {
			out = append(out, string(e.Line))
		}
	}
	return out, p
}

// TestPartialRealLokiBody: Loki's real partial 400 (lokitest.RealPartialTooOld,
// measured from Loki's main branch) over HTTP names exactly the two old
// entries; the three current ones count as written.
func TestPartialRealLokiBody(t *testing.T) {
	r := newReceiver(t)
	s := newSink(t, nil, loki.Options{URL: r.URL()})
	r.Reply(lokitest.Reply{Status: 400, Body: lokitest.RealPartialTooOld})
	old := time.Date(2026, 11, 22, 13, 32, 52, 250_000_000, time.UTC).UnixNano()
	cur := time.Date(2026, 12, 2, 13, 32, 40, 0, time.UTC).UnixNano()
	lbl := []wal.Label{{Name: "job", Value: "t"}}
	b := batch(
		wal.Block{Source: "t", Labels: lbl, Entries: []wal.Entry{{Time: cur, Line: []byte("cur-1")}, {Time: old, Line: []byte("old-1")}}},
		wal.Block{Source: "t", Labels: lbl, Entries: []wal.Entry{{Time: cur + 1, Line: []byte("cur-2")}, {Time: old + 5e8, Line: []byte("old-2")}, {Time: cur + 2, Line: []byte("cur-3")}}},
	)
	err := s.Send(context.Background(), b)
	got, p := refusedLines(t, b, err)
	if strings.Join(got, " ") != "old-1 old-2" || p.Rejected != 2 || p.Reason != loki.ReasonTooOld {
		t.Fatalf("refused %q, rejected %d, reason %s; want old-1 old-2, 2, too_old (%v)", got, p.Rejected, p.Reason, err)
	}
	var pe *loki.PushError
	if !errors.As(err, &pe) || pe.Refused != 2 || !strings.Contains(err.Error(), "2 entries refused, the rest written") {
		t.Fatalf("push error %+v", pe)
	}
}

// TestPartialLikeLoki sends batches of entries, some too old (many in the
// bound's own second), some too new and some too long, to a receiver that
// checks them as Loki's distributor does; the entries the sink names are
// exactly those the receiver refused, and the others are those it stored.
func TestPartialLikeLoki(t *testing.T) {
	for _, enc := range []string{loki.EncodingProtobuf, loki.EncodingJSON} {
		t.Run(enc, func(t *testing.T) {
			r := newReceiver(t)
			now := time.Date(2026, 12, 2, 13, 32, 52, 400_000_000, time.UTC)
			r.SetLimits(&lokitest.Limits{RejectOldSamplesMaxAge: 72 * time.Hour, CreationGracePeriod: 10 * time.Minute,
				MaxLineSize: 40, Now: func() time.Time { return now }})
			s := newSink(t, nil, loki.Options{URL: r.URL(), Encoding: enc})
			rng := rand.New(rand.NewPCG(1, 2))
			bound := now.Add(-72 * time.Hour).UnixNano()
			grace := now.Add(10 * time.Minute).UnixNano()
			used := map[int64]bool{}
			n := 0
			for round := 0; round < 20; round++ {
				var blocks []wal.Block
				for bi := 0; bi < 1+rng.IntN(4); bi++ {
					blk := wal.Block{Source: "app", Labels: []wal.Label{{Name: "job", Value: fmt.Sprintf("j%d", bi%2)}}}
					for ei := 0; ei < 1+rng.IntN(30); ei++ {
						var ts int64
						for ts == 0 || used[ts] { // distinct times: equal times in the bound's second cannot be told apart
							switch rng.IntN(6) {
							case 0: // too old, some seconds before the bound
								ts = bound - rng.Int64N(50e9)
							case 1: // the bound's own second, either side of it
								ts = bound/1e9*1e9 + rng.Int64N(1e9)
							case 2: // too new, in the grace period's last second or later
								ts = grace/1e9*1e9 + rng.Int64N(3e9)
							default:
								ts = now.UnixNano() - rng.Int64N(3600e9)
							}
						}
						used[ts] = true
						line := fmt.Sprintf("line-%d %s", n, strings.Repeat("x", rng.IntN(50)))
						n++
						blk.Entries = append(blk.Entries, wal.Entry{Time: ts, Line: []byte(line)})
					}
					blocks = append(blocks, blk)
				}
				b := batch(blocks...)
				before, refusedBefore := len(r.Entries()), len(r.Refused())
				err := s.Send(context.Background(), b)
				stored, refused := lines(r.Entries()[before:]), lines(r.Refused()[refusedBefore:])
				if len(refused) == 0 {
					if err != nil {
						t.Fatalf("round %d: nothing refused, err %v", round, err)
					}
					continue
				}
				got, p := refusedLines(t, b, err)
				if len(got) != len(refused) || p.Rejected != len(refused) {
					t.Fatalf("round %d: sink names %d refused entries (rejected %d), Loki refused %d: %v",
						round, len(got), p.Rejected, len(refused), err)
				}
				for _, l := range got {
					if !refused[l] || stored[l] {
						t.Fatalf("round %d: %q named refused; Loki refused it: %v, stored it: %v", round, l, refused[l], stored[l])
					}
				}
				if len(got)+len(stored) != b.Entries {
					t.Fatalf("round %d: %d refused + %d stored != %d sent", round, len(got), len(stored), b.Entries)
				}
			}
		})
	}
}

func lines(es []lokitest.Entry) map[string]bool {
	m := make(map[string]bool, len(es))
	for _, e := range es {
		m[e.Line] = true
	}
	return m
}

// TestPartialUnmatched: a 400 in Loki's per-entry format whose count does
// not match the batch leaves the whole batch refused, counted each time
// and logged once.
func TestPartialUnmatched(t *testing.T) {
	r := newReceiver(t)
	reg := prometheus.NewPedanticRegistry()
	var logs syncBuffer
	s, err := loki.New(slog.New(slog.NewTextHandler(&logs, nil)), reg, loki.Options{URL: r.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := time.Date(2026, 11, 22, 13, 32, 52, 0, time.UTC).UnixNano()
	b := batch(wal.Block{Source: "t", Labels: []wal.Label{{Name: "job", Value: "t"}},
		Entries: []wal.Entry{{Time: old, Line: []byte("only one old entry")}, {Time: old + 864000e9, Line: []byte("current")}}})
	for i := 0; i < 3; i++ {
		r.Reply(lokitest.Reply{Status: 400, Body: lokitest.RealPartialTooOld}) // says 2
		err := s.Send(context.Background(), b)
		if got, p := refusedLines(t, b, err); got != nil || p.Refused != nil || p.Rejected != 0 {
			t.Fatalf("refused %q (rejected %d) from a body that does not match", got, p.Rejected)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	if got := counter(t, reg, "logcapturer_sink_loki_unmatched_refusals_total"); got != 3 {
		t.Fatalf("unmatched refusals %v, want 3", got)
	}
	if n := strings.Count(logs.String(), "do not match the batch"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logs.String())
	}
}

// counter returns the value of the counter name in g (summed over labels).
func counter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
