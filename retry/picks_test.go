package retry

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func mustPicks(t testing.TB, ps ...Pick) Picks {
	t.Helper()
	p, err := NewPicks(ps)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPicks(t *testing.T) {
	p := mustPicks(t, Pick{12, 0, 2}, Pick{12, 2, 1}, Pick{12, 7, 1}, Pick{14, 2, 40})
	want := []Pick{{12, 0, 3}, {12, 7, 1}, {14, 2, 40}} // adjacent runs merged
	if got := p.Slice(); !reflect.DeepEqual(got, want) {
		t.Fatalf("runs %+v, want %+v", got, want)
	}
	if p.Entries() != 44 || p.Blocks() != 2 || p.String() != "12:0+3 12:7+1 14:2+40" || p.IsZero() {
		t.Fatalf("entries %d blocks %d %q", p.Entries(), p.Blocks(), p)
	}
	if p != mustPicks(t, want...) {
		t.Fatal("equal selections compare unequal")
	}
	if z := mustPicks(t); !z.IsZero() || z.String() != "all" || z.Slice() != nil {
		t.Fatalf("empty selection %+v", z)
	}
	for _, bad := range [][]Pick{
		{{1, 0, 0}},            // empty run
		{{1, -1, 2}},           // negative entry
		{{2, 0, 1}, {1, 0, 1}}, // index going back
		{{1, 0, 3}, {1, 2, 1}}, // overlap
		{{1, 0, maxPickEntry + 1}},
	} {
		if _, err := NewPicks(bad); err == nil {
			t.Errorf("NewPicks(%+v) accepted", bad)
		}
	}
}

// TestStorePicksAndOldValues: a selection survives the store and a replay,
// and values written before the format had a version (no trailer) still
// load, as whole ranges.
func TestStorePicksAndOldValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := openDB(t, path)
	defer db.Close()
	st := NewStore(db)
	t0 := time.Date(2026, 11, 25, 13, 32, 52, 0, time.UTC)
	picks := mustPicks(t, Pick{30, 0, 2}, Pick{31, 5, 1})
	d := DeadLetter{From: 30, To: 31, Entries: 3, Bytes: 30, Picks: picks, Reason: "too_old", Attempts: 1,
		FirstFailure: t0, LastFailure: t0, LastError: "2 errors like: ..."}
	r := Range{From: 40, To: 41, Entries: 1, Bytes: 9, Picks: mustPicks(t, Pick{41, 3, 1}), Attempts: 2,
		Due: t0.Add(time.Second), FirstFailure: t0, LastError: "503"}
	if _, err := st.PutDead("loki", Range{}, d); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutRetry("loki", Range{}, r); err != nil {
		t.Fatal(err)
	}
	rs, ds, err := st.Load("loki")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0] != d || len(rs) != 1 || rs[0] != r {
		t.Fatalf("loaded %+v %+v, want %+v %+v", ds, rs, d, r)
	}

	// Version 0 values, as the store wrote them before selections: the
	// same bytes without the trailer.
	old := DeadLetter{From: 50, To: 52, Entries: 7, Bytes: 70, Reason: "rejected", Attempts: 1, FirstFailure: t0, LastFailure: t0, LastError: "400"}
	v0 := encodeDead(old)
	v0 = v0[:len(v0)-len(appendTrailer(nil, Picks{}))]
	if !bytes.Equal(append(append([]byte(nil), v0...), appendTrailer(nil, Picks{})...), encodeDead(old)) {
		t.Fatal("trailer is not a suffix")
	}
	got, err := decodeDead(dlqKey(50, 0), v0)
	if err != nil || got != old {
		t.Fatalf("version 0 dead letter %+v %v, want %+v", got, err, old)
	}
	oldR := Range{From: 60, To: 60, Entries: 1, Attempts: 1, Due: t0, FirstFailure: t0, LastError: "x"}
	v0 = encodeRange(oldR)
	v0 = v0[:len(v0)-len(appendTrailer(nil, Picks{}))]
	if got, err := decodeRange(retryKey(oldR), v0); err != nil || got != oldR {
		t.Fatalf("version 0 range %+v %v, want %+v", got, err, oldR)
	}

	// A selection outside its range, or a newer version, is refused.
	bad := d
	bad.Picks = mustPicks(t, Pick{99, 0, 1})
	if _, err := decodeDead(dlqKey(bad.From, 0), encodeDead(bad)); err == nil {
		t.Fatal("selection outside the range accepted")
	}
	enc := encodeDead(old) // ends in the trailer 1, 0 (version 1, no selection)
	newer := append(enc[:len(enc)-2:len(enc)-2], 2, 0)
	if _, err := decodeDead(dlqKey(50, 0), newer); err == nil {
		t.Fatal("version 2 accepted")
	}

	// Replay carries the selection into the retry queue.
	s := newTestScheduler(t, db)
	defer s.Close()
	if _, err := s.Register("loki", 1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Replay("loki", 30); err != nil || n != 1 {
		t.Fatalf("replay %d %v", n, err)
	}
	rs, _, _ = st.Load("loki")
	found := false
	for _, rr := range rs {
		if rr.From == 30 {
			found = true
			if rr.Picks != picks || rr.Entries != 3 {
				t.Fatalf("replayed range %+v lost its selection", rr)
			}
		}
	}
	if !found {
		t.Fatal("replayed range not stored")
	}
}

// FuzzDecodeRecords: stored values never panic the decoders, and what
// decodes re-encodes to a value that decodes the same.
func FuzzDecodeRecords(f *testing.F) {
	t0 := time.Unix(1700000000, 0).UTC()
	p, _ := NewPicks([]Pick{{3, 0, 2}, {4, 1, 1}})
	f.Add(encodeDead(DeadLetter{From: 3, To: 4, Entries: 3, Picks: p, Reason: "too_old", FirstFailure: t0, LastFailure: t0}))
	f.Add(encodeRange(Range{From: 3, To: 4, Entries: 3, Picks: p, Due: t0, FirstFailure: t0}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 4, 1, 1, 1, 0, 0, 0, 1, 3, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		if d, err := decodeDead(dlqKey(3, 0), v); err == nil {
			if d2, err := decodeDead(dlqKey(3, 0), encodeDead(d)); err != nil || d2 != d {
				t.Fatalf("dead letter %+v re-decodes as %+v, %v", d, d2, err)
			}
		}
		k := retryKey(Range{From: 3, Due: t0})
		if r, err := decodeRange(k, v); err == nil {
			if r2, err := decodeRange(k, encodeRange(r)); err != nil || r2 != r {
				t.Fatalf("range %+v re-decodes as %+v, %v", r, r2, err)
			}
		}
	})
}

// BenchmarkPicks encodes the selection of a 10,000-entry batch of 100
// blocks and reports its stored size: every other entry refused (the worst
// case, 5,000 runs) and the refused entries in one run per block (too old
// entries of time-sorted blocks).
func BenchmarkPicks(b *testing.B) {
	for _, tc := range []struct {
		name string
		step int // entries between refused ones
		run  int // refused entries per run
	}{{"alternate", 2, 1}, {"run_per_block", 100, 40}} {
		b.Run(tc.name, func(b *testing.B) {
			var ps []Pick
			for blk := 0; blk < 100; blk++ {
				for e := 0; e+tc.run <= 100; e += tc.step {
					ps = append(ps, Pick{Index: uint64(1000 + blk), First: e, Count: tc.run})
				}
			}
			var p Picks
			for b.Loop() {
				var err error
				if p, err = NewPicks(ps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(appendTrailer(nil, p))), "stored_bytes")
			b.ReportMetric(float64(p.Entries()), "entries")
		})
	}
}
