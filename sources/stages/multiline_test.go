package stages

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func u64p(n uint64) *uint64 { return &n }

// runLines feeds lines (one stream, Seq 1..n, time i seconds) through s.
func runLines(s Stage, rec *recorder, labels map[string]string, first uint64, ls ...string) {
	for i, l := range ls {
		e := entry(first+uint64(i), l, labels)
		e.Time = time.Unix(int64(first)+int64(i), 0).UTC()
		s.Process(e, rec.next)
	}
}

// TestMultilineFlaskExample: "Examples / Predefined Log Format" on
// Promtail's multiline page: the traceback becomes one entry.
func TestMultilineFlaskExample(t *testing.T) {
	in := []string{
		`[2020-12-03 11:36:20] "GET /hello HTTP/1.1" 200 -`,
		`[2020-12-03 11:36:23] ERROR in app: Exception on /error [GET]`,
		`Traceback (most recent call last):`,
		`  File "/home/pallets/.pyenv/versions/3.8.5/lib/python3.8/site-packages/flask/app.py", line 2447, in wsgi_app`,
		`    response = self.full_dispatch_request()`,
		`  File "/home/pallets/src/deployment_tools/hello.py", line 10, in error`,
		`    raise Exception("Sorry, this route always breaks")`,
		`Exception: Sorry, this route always breaks`,
		`[2020-12-03 11:36:23] "GET /error HTTP/1.1" 500 -`,
		`[2020-12-03 11:36:26] "GET /hello HTTP/1.1" 200 -`,
		`[2020-12-03 11:36:27] "GET /hello HTTP/1.1" 200 -`,
	}
	rec := newRecorder()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s, err := newMultilineStage(multilineOptions{FirstLine: strp(`^\[\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}:\d{2}\]`), MaxWaitTime: strp("3s")}, rec.env(time.UTC, clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	runLines(s, rec, map[string]string{"job": "flask"}, 1, in...)
	got := rec.take()
	want := []string{in[0], strings.Join(in[1:8], "\n"), in[8], in[9]}
	if !reflect.DeepEqual(lines(got), want) {
		t.Fatalf("entries:\n%q\nwant\n%q", lines(got), want)
	}
	// The joined entry keeps its first line's Seq and time.
	if got[1].Seq != 2 || !got[1].Time.Equal(time.Unix(2, 0)) {
		t.Errorf("block: seq %d time %v, want 2 and %v", got[1].Seq, got[1].Time, time.Unix(2, 0))
	}
	if seq, ok := s.Held(); !ok || seq != 11 {
		t.Errorf("Held = %d %v, want 11", seq, ok)
	}
	s.Tick(clock.Add(2*time.Second), rec.next)
	if n := len(rec.take()); n != 0 {
		t.Fatalf("Tick before max_wait_time handed on %d entries", n)
	}
	s.Tick(clock.Add(time.Second), rec.next)
	if got := lines(rec.take()); !reflect.DeepEqual(got, []string{in[10]}) {
		t.Fatalf("after max_wait_time: %q", got)
	}
	if _, ok := s.Held(); ok {
		t.Error("still holds after the last block left")
	}
}

// TestMultilineAkkaExample: "Examples / Custom Log Format": a zero-width
// space marks the first line.
func TestMultilineAkkaExample(t *testing.T) {
	in := []string{
		"\u200b[2021-01-07 14:17:43,494] [DEBUG] [akka.io.TcpListener] - New connection accepted",
		"\u200b[2021-01-07 14:17:43,499] [ERROR] [akka.actor.ActorSystemImpl] - Error during processing of request",
		"java.lang.Exception: oh no! oh is unknown",
		"\tat com.grafana.UserRoutes.$anonfun$userRoutes$6(UserRoutes.scala:28)",
		"\tat akka.http.scaladsl.server.Directive$.$anonfun$addByNameNullaryApply$2(Directive.scala:166)",
	}
	rec := newRecorder()
	s, err := newMultilineStage(multilineOptions{FirstLine: strp(`^\x{200B}\[`), MaxWaitTime: strp("3s")}, rec.env(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	runLines(s, rec, nil, 1, in...)
	s.Flush(rec.next)
	want := []string{in[0], strings.Join(in[1:], "\n")}
	if got := lines(rec.take()); !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
}

// TestMultilineMeasured: what issue 18 measured against Promtail: lines
// before a first line pass through alone; a flush at max_lines keeps the
// start entry, and the rest of the block becomes its own entry (with the
// start line's time).
func TestMultilineMeasured(t *testing.T) {
	rec := newRecorder()
	s, err := newMultilineStage(multilineOptions{FirstLine: strp(`^START`), MaxLines: u64p(3)}, rec.env(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	runLines(s, rec, nil, 1, "orphan 1", "orphan 2", "START a", "a1", "a2", "a3", "a4", "START b")
	s.Flush(rec.next)
	got := rec.take()
	want := []string{"orphan 1", "orphan 2", "START a\na1\na2", "a3\na4", "START b"}
	if !reflect.DeepEqual(lines(got), want) {
		t.Fatalf("entries %q, want %q", lines(got), want)
	}
	wantSeq := []uint64{1, 2, 3, 6, 8}
	wantTime := []int64{1, 2, 3, 3, 8} // the rest of the block: the start line's time
	for i, e := range got {
		if e.Seq != wantSeq[i] || e.Time.Unix() != wantTime[i] {
			t.Errorf("entry %d %q: seq %d time %d, want %d %d", i, e.Line, e.Seq, e.Time.Unix(), wantSeq[i], wantTime[i])
		}
	}
}

// TestMultilinePerStream: blocks are per label set; max_wait_time is the
// idle time of each stream; entries leave in Seq order, the other
// streams' entries waiting behind a block under way.
func TestMultilinePerStream(t *testing.T) {
	rec := newRecorder()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s, err := newMultilineStage(multilineOptions{FirstLine: strp(`^START`)}, rec.env(time.UTC, clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	a := map[string]string{"stream": "a"}
	b := map[string]string{"stream": "b"}
	s.Process(entry(1, "START a", a), rec.next)
	s.Process(entry(2, "b alone", b), rec.next) // b has no block: passes, but after a's block
	clock.Add(2 * time.Second)
	s.Process(entry(3, "START b", b), rec.next)
	s.Process(entry(4, "b1", b), rec.next)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("handed on %q before a's block ended", lines(got))
	}
	if seq, ok := s.Held(); !ok || seq != 1 {
		t.Fatalf("Held = %d %v, want 1", seq, ok)
	}
	s.Tick(clock.Add(time.Second), rec.next) // a idle 3s, b 1s
	if got, want := lines(rec.take()), []string{"START a", "b alone"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a's wait: %q, want %q", got, want)
	}
	if seq, ok := s.Held(); !ok || seq != 3 {
		t.Fatalf("Held = %d %v, want 3", seq, ok)
	}
	s.Process(entry(5, "a continued", a), rec.next) // a known stream: a block of its own
	s.Tick(clock.Add(2*time.Second), rec.next)
	if got, want := lines(rec.take()), []string{"START b\nb1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after b's wait: %q, want %q", got, want)
	}
	s.Tick(clock.Add(time.Second), rec.next)
	if got, want := lines(rec.take()), []string{"a continued"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a's second wait: %q, want %q", got, want)
	}
}

// TestMultilineBounded: a block is cut at maxJoinedBytes, and what the
// stage holds stays under maxHeldBytes however many streams wait.
func TestMultilineBounded(t *testing.T) {
	rec := newRecorder()
	s, err := newMultilineStage(multilineOptions{FirstLine: strp(`^START`), MaxLines: u64p(0)}, rec.env(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 100<<10)
	seq := uint64(1)
	s.Process(entry(seq, "START", nil), rec.next)
	for range 30 { // 3 MiB in one block
		seq++
		s.Process(entry(seq, big, nil), rec.next)
	}
	s.Flush(rec.next)
	total := 0
	for _, e := range rec.take() {
		if len(e.Line) >= maxJoinedBytes+len(big)+1 {
			t.Errorf("entry of %d bytes", len(e.Line))
		}
		total += strings.Count(e.Line, "x")
	}
	if total != 30*len(big) {
		t.Errorf("lost bytes: %d of %d", total, 30*len(big))
	}

	// Many streams, each with a block under way.
	for i := range 200 {
		seq++
		l := map[string]string{"n": string(rune('a' + i%26)), "m": string(rune('a' + i/26))}
		s.Process(entry(seq, "START "+big, l), rec.next)
		if held := s.pending + s.out.bytes; held > maxHeldBytes {
			t.Fatalf("holds %d bytes", held)
		}
	}
	s.Flush(rec.next)
	out := rec.take()
	if len(out) != 200 {
		t.Fatalf("%d entries, want 200", len(out))
	}
	for i := 1; i < len(out); i++ {
		if out[i].Seq <= out[i-1].Seq {
			t.Fatalf("out of order: %d after %d", out[i].Seq, out[i-1].Seq)
		}
	}
}

func TestMultilineOptionErrors(t *testing.T) {
	for _, c := range []struct {
		opts multilineOptions
		key  string
	}{
		{multilineOptions{}, "firstline"},
		{multilineOptions{FirstLine: strp("(")}, "firstline"},
		{multilineOptions{FirstLine: strp("x"), MaxWaitTime: strp("3")}, "max_wait_time"},
		{multilineOptions{FirstLine: strp("x"), MaxWaitTime: strp("-1s")}, "max_wait_time"},
	} {
		_, err := newMultilineStage(c.opts, Env{})
		var oe *optionError
		if !errors.As(err, &oe) || oe.Key != c.key {
			t.Errorf("%+v: error %v, want one for key %s", c.opts, err, c.key)
		}
	}
}
