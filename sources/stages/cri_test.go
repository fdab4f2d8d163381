package stages

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCRIDocExamples: "Examples" and the format list on Promtail's cri
// page. (The page lists the extracted time as "timestamp"; Promtail's
// code, which this follows, extracts it as "time".)
func TestCRIDocExamples(t *testing.T) {
	rec := newRecorder()
	s, err := newCRIStage(criOptions{}, rec.env(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	e := entry(1, "2019-04-30T02:12:41.8443515Z stdout F message", map[string]string{"job": "k"})
	s.Process(e, rec.next)
	got := rec.take()
	if len(got) != 1 {
		t.Fatalf("%d entries", len(got))
	}
	want := map[string]any{"job": "k", "content": "message", "stream": "stdout", "flags": "F", "time": "2019-04-30T02:12:41.8443515Z"}
	if !reflect.DeepEqual(got[0].Extracted, want) {
		t.Errorf("extracted %v, want %v", got[0].Extracted, want)
	}
	if got[0].Line != "message" || got[0].Labels["stream"] != "stdout" ||
		!got[0].Time.Equal(mustTime(t, time.RFC3339Nano, "2019-04-30T02:12:41.8443515Z")) {
		t.Errorf("entry %+v", got[0])
	}

	// "only the first log line can be properly formatted using the cri stage"
	for i, c := range []struct {
		line string
		ok   bool
	}{
		{"2019-01-01T01:00:00.000000001Z stderr P test\ngood", true},
		{"2019-01-01 T01:00:00.000000001Z stderr testgood", false},
		{"2019-01-01T01:00:00.000000001Z testgood", false},
	} {
		_, _, _, content, ok := splitCRI(c.line)
		if ok != c.ok || (ok && content != "test\ngood") {
			t.Errorf("line %d: ok %v content %q", i, ok, content)
		}
	}
}

// TestCRIPartialLines: P lines are joined per stream until the F line;
// the joined entry has the first piece's Seq and the last piece's time;
// entries of other streams wait behind a held partial line.
func TestCRIPartialLines(t *testing.T) {
	rec := newRecorder()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s, err := newCRIStage(criOptions{}, rec.env(time.UTC, clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	in := []string{
		"2024-01-01T00:00:01Z stdout P part one, ",
		"2024-01-01T00:00:02Z stderr F an error",
		"2024-01-01T00:00:03Z stdout P part two, ",
		"2024-01-01T00:00:04Z stdout F the end",
		"2024-01-01T00:00:05Z stdout F alone",
	}
	for i, l := range in {
		s.Process(entry(uint64(i+1), l, nil), rec.next)
		if i == 2 {
			if seq, ok := s.Held(); !ok || seq != 1 {
				t.Fatalf("Held = %d %v, want 1", seq, ok)
			}
			if got := rec.take(); len(got) != 0 {
				t.Fatalf("handed on %q behind a partial line", lines(got))
			}
		}
	}
	got := rec.take()
	if want := []string{"part one, part two, the end", "an error", "alone"}; !reflect.DeepEqual(lines(got), want) {
		t.Fatalf("lines %q, want %q", lines(got), want)
	}
	if got[0].Seq != 1 || got[0].Time.Second() != 4 || got[0].Labels["stream"] != "stdout" {
		t.Errorf("joined entry: seq %d time %v labels %v", got[0].Seq, got[0].Time, got[0].Labels)
	}
	if got[1].Seq != 2 || got[1].Labels["stream"] != "stderr" {
		t.Errorf("stderr entry: seq %d labels %v", got[1].Seq, got[1].Labels)
	}
	if _, ok := s.Held(); ok {
		t.Error("still holds")
	}

	// A partial line whose stream goes quiet is handed on after criPartialWait.
	s.Process(entry(10, "2024-01-01T00:00:06Z stdout P never ends", nil), rec.next)
	s.Tick(clock.Add(criPartialWait-time.Millisecond), rec.next)
	if n := len(rec.take()); n != 0 {
		t.Fatalf("%d entries before the wait", n)
	}
	s.Tick(clock.Add(time.Millisecond), rec.next)
	if got := lines(rec.take()); !reflect.DeepEqual(got, []string{"never ends"}) {
		t.Fatalf("after the wait: %q", got)
	}
}

// TestCRIMaxPartialLines: Promtail counts the streams with a partial line
// held; one more hands them all on and starts again.
func TestCRIMaxPartialLines(t *testing.T) {
	rec := newRecorder()
	s, err := newCRIStage(criOptions{MaxPartialLines: 2}, rec.env(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range []string{
		"2024-01-01T00:00:01Z stdout P a",
		"2024-01-01T00:00:02Z stderr P b",
		"2024-01-01T00:00:03Z stdout P c", // a third: a and b are handed on
		"2024-01-01T00:00:04Z stdout F d",
	} {
		s.Process(entry(uint64(i+1), l, nil), rec.next)
	}
	if got, want := lines(rec.take()), []string{"a", "b", "cd"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
}

// TestCRITruncate: max_partial_line_size_truncate cuts the joined line;
// without it a joined line is handed on at maxJoinedBytes.
func TestCRITruncate(t *testing.T) {
	rec := newRecorder()
	s, err := newCRIStage(criOptions{MaxPartialLineSize: 8, MaxPartialLineSizeTruncate: true}, rec.env(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range []string{"T stdout P 12345", "T stdout P 67890", "T stdout F abc"} {
		s.Process(entry(uint64(i), l, nil), rec.next)
	}
	if got := lines(rec.take()); !reflect.DeepEqual(got, []string{"12345678"}) {
		t.Fatalf("lines %q", got)
	}

	s, err = newCRIStage(criOptions{}, rec.env(time.UTC, nil))
	if err != nil {
		t.Fatal(err)
	}
	piece := strings.Repeat("x", 16<<10)
	n := 2*maxJoinedBytes/len(piece) + 3
	for i := range n {
		s.Process(entry(uint64(i), "T stdout P "+piece, nil), rec.next)
	}
	s.Process(entry(uint64(n), "T stdout F ", nil), rec.next)
	got := rec.take()
	total := 0
	for _, e := range got {
		if len(e.Line) > maxJoinedBytes {
			t.Errorf("entry of %d bytes", len(e.Line))
		}
		total += len(e.Line)
	}
	if total != n*len(piece) || len(got) != 3 {
		t.Errorf("%d entries, %d bytes; want 3, %d", len(got), total, n*len(piece))
	}
}

func TestCRIOptionErrors(t *testing.T) {
	for _, c := range []struct {
		opts criOptions
		key  string
	}{
		{criOptions{MaxPartialLines: -1}, "max_partial_lines"},
		{criOptions{MaxPartialLineSizeTruncate: true}, "max_partial_line_size"},
	} {
		_, err := newCRIStage(c.opts, Env{})
		var oe *optionError
		if !errors.As(err, &oe) || oe.Key != c.key {
			t.Errorf("%+v: error %v, want one for key %s", c.opts, err, c.key)
		}
	}
}

// criRE is Promtail's expression for a CRI line.
var criRE = regexp.MustCompile("^(?s)(?P<time>\\S+?) (?P<stream>stdout|stderr) (?P<flags>\\S+?) (?P<content>.*)$")

// FuzzCRI: splitCRI agrees with Promtail's expression on every line, and
// the stage never panics and hands on each line's text exactly once.
func FuzzCRI(f *testing.F) {
	for _, s := range []string{"2019-04-30T02:12:41.8443515Z stdout F message", "2019-01-01T01:00:00.000000001Z stderr P test\ngood",
		"a stdout  b", "a\tstdout F x", "\xff stderr \xfe \xfd", "t stdout F ", "t stdout F", " stdout F x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ts, stream, flags, content, ok := splitCRI(line)
		m := criRE.FindStringSubmatch(line)
		if ok != (m != nil) {
			t.Fatalf("splitCRI ok=%v, expression matched %v", ok, m != nil)
		}
		if ok && (m[1] != ts || m[2] != stream || m[3] != flags || m[4] != content) {
			t.Fatalf("splitCRI %q %q %q %q, expression %q", ts, stream, flags, content, m[1:])
		}
		s, err := newCRIStage(criOptions{}, Env{})
		if err != nil {
			t.Fatal(err)
		}
		var out []*Entry
		for i := range 3 { // the same line three times: partial lines join
			s.Process(entry(uint64(i), line, nil), func(e *Entry) { out = append(out, copyEntry(e)) })
		}
		s.Flush(func(e *Entry) { out = append(out, copyEntry(e)) })
		var joined string
		for _, e := range out {
			joined += e.Line
		}
		want := line
		if ok {
			want = content
		}
		if joined != strings.Repeat(want, 3) {
			t.Fatalf("lines %q from %q", lines(out), line)
		}
	})
}
