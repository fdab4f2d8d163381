package pipeline

import (
	"math/rand/v2"
	"testing"

	"github.com/logcapturer/logcapturer/sources"
)

// countsModel appends n blocks to c (sources app and web in turn, 1..20
// entries of 10 bytes each) and returns the exact per-block tallies of
// sinks "all" and "web" (index 1…n, index 0 unused).
func countsModel(t *testing.T, c *counts, n int) (all, web []tally) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	all, web = make([]tally, n+1), make([]tally, n+1)
	for i := 1; i <= n; i++ {
		src := "app"
		if i%3 == 0 {
			src = "web"
		}
		e := 1 + rng.IntN(20)
		c.appended(uint64(i), []sources.Record{{Source: src, Entries: e, Bytes: 10 * e}}, 1)
		all[i] = tally{int64(e), int64(10 * e)}
		if src == "web" {
			web[i] = all[i]
		}
	}
	return all, web
}

func sum(ts []tally, from, to uint64) tally {
	var s tally
	for i := from + 1; i <= to; i++ {
		s = s.add(ts[i])
	}
	return s
}

func TestCountsExactNearHeadAndBoundedFurther(t *testing.T) {
	const n = 3 * countRing
	c := newCounts([]string{"all", "web"}, []map[string]bool{nil, {"web": true}}, 0)
	all, web := countsModel(t, c, n)
	rng := rand.New(rand.NewPCG(3, 4))
	// Within the ring: exact, for both routes.
	for k := 0; k < 2000; k++ {
		to := uint64(n - rng.IntN(countRing-1))
		from := to - uint64(rng.IntN(int(to-(n-countRing+1))+1))
		if got, exact := c.between("all", from, to); !exact || got != sum(all, from, to) {
			t.Fatalf("all (%d,%d] = %v exact=%v, want %v", from, to, got, exact, sum(all, from, to))
		}
		if got, exact := c.between("web", from, to); !exact || got != sum(web, from, to) {
			t.Fatalf("web (%d,%d] = %v exact=%v, want %v", from, to, got, exact, sum(web, from, to))
		}
	}
	// From the start (the base) to the head: exact.
	if got, exact := c.between("all", 0, n); !exact || got != sum(all, 0, n) {
		t.Fatalf("whole = %v %v, want %v", got, exact, sum(all, 0, n))
	}
	// Further back: off by at most one stride of blocks (20 entries each).
	for k := 0; k < 500; k++ {
		from := uint64(rng.IntN(n - countRing))
		got, _ := c.between("all", from, n)
		want := sum(all, from, n)
		if d := got.Entries - want.Entries; d > int64(20*c.stride) || -d > int64(20*c.stride) {
			t.Fatalf("(%d,%d] = %d entries, want %d within %d", from, n, got.Entries, want.Entries, 20*c.stride)
		}
	}
	// A cursor on a mark is exact.
	m := c.marks[len(c.marks)/4].index
	if got, exact := c.between("all", m, n); !exact || got != sum(all, m, n) {
		t.Fatalf("from mark %d = %v %v, want %v", m, got, exact, sum(all, m, n))
	}
	if len(c.marks) > maxMarks {
		t.Fatalf("%d marks, bound %d", len(c.marks), maxMarks)
	}
}

func TestCountsTakeBackReusedIndexes(t *testing.T) {
	c := newCounts([]string{"all"}, []map[string]bool{nil}, 0)
	all, _ := countsModel(t, c, 100)
	// A reopen after a failed append: indexes 91.. are appended again.
	c.appended(91, []sources.Record{{Source: "app", Entries: 1, Bytes: 1}}, 1)
	want := sum(all, 0, 90).add(tally{1, 1})
	if got, exact := c.between("all", 0, 91); !exact || got != want {
		t.Fatalf("after reuse = %v %v, want %v", got, exact, want)
	}
	if got, _ := c.between("all", 0, 100); got != want {
		t.Fatalf("past the head = %v, want %v (nothing beyond 91 counts)", got, want)
	}
}

func BenchmarkCountsBetweenFar(b *testing.B) {
	c := newCounts([]string{"a", "b", "c", "d"}, make([]map[string]bool, 4), 0)
	for i := 1; i <= 1<<20; i++ {
		c.appended(uint64(i), []sources.Record{{Source: "app", Entries: 10, Bytes: 1000}}, 1)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.between("c", uint64(i%(1<<19)), 1<<20)
	}
}
