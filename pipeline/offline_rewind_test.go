package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestOfflineRewind: a stopped sink's cursor moves in state.db under the
// running pipeline's rules (within the WAL, a known sink), by index, time
// (the block holding T is sent whole), to the oldest block or past the
// newest; the next start delivers from there.
func TestOfflineRewind(t *testing.T) {
	dir := t.TempDir()
	a := &memSink{name: "a"}
	p := openTest(t, dir, nil, Options{}, a)
	emitSeconds(t, p, 5, 10, 0) // e0..e49 in blocks 1..5
	waitFor(t, "50 delivered", func() bool { return len(a.lines()) == 50 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	o, err := OpenOffline(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	cursor := func() uint64 {
		t.Helper()
		cs, _, _, err := o.st.load()
		if err != nil {
			t.Fatal(err)
		}
		return cs["a"]
	}
	res, err := o.RewindToOldest("a")
	if err != nil || res.Cursor != 0 || res.Index != 1 || res.Previous != 5 || res.Skipped != 0 ||
		res.FirstTime == nil || !res.FirstTime.Equal(rewindBase) || cursor() != 0 {
		t.Fatalf("to oldest = %+v, %v; stored %d", res, err, cursor())
	}
	// e23 (23.5 s) is in block 3 (e20..e29): that block is sent whole.
	res, err = o.RewindToTime("a", rewindBase.Add(23500*time.Millisecond))
	if err != nil || res.Cursor != 2 || res.Index != 3 || res.Skip != 0 || res.Skipped != 20 ||
		res.FirstTime == nil || !res.FirstTime.Equal(rewindBase.Add(20*time.Second)) || cursor() != 2 {
		t.Fatalf("to time = %+v, %v; stored %d", res, err, cursor())
	}
	res, err = o.RewindToNewest("a")
	if err != nil || res.Cursor != 5 || res.Index != 6 || res.FirstTime != nil || res.Skipped != 30 || cursor() != 5 {
		t.Fatalf("to newest = %+v, %v; stored %d", res, err, cursor())
	}
	// Outside the WAL: refused, with the side; the cursor stays.
	for _, c := range []struct {
		err   error
		after bool
	}{
		{second(o.RewindToIndex("a", 0)), false},
		{second(o.RewindToIndex("a", 7)), true},
		{second(o.RewindToTime("a", rewindBase.Add(-time.Second))), false},
		{second(o.RewindToTime("a", rewindBase.Add(time.Hour))), true},
	} {
		var re *RangeError
		if !errors.As(c.err, &re) || re.After != c.after || re.FirstIndex != 1 || re.LastIndex != 5 {
			t.Errorf("out of range: %v (%+v), want after=%v", c.err, re, c.after)
		}
	}
	var unknown *UnknownSinkError
	if _, err := o.RewindToIndex("nope", 1); !errors.As(err, &unknown) || unknown.Known[0] != "a" {
		t.Fatalf("unknown sink: %v", err)
	}
	if cursor() != 5 {
		t.Fatalf("a refused rewind moved the cursor to %d", cursor())
	}
	if _, err := o.RewindToIndex("a", 4); err != nil {
		t.Fatal(err)
	}
	o.Close()

	// The next start delivers blocks 4 and 5: e30..e49.
	b := &memSink{name: "a"}
	p = openTest(t, dir, nil, Options{}, b)
	defer p.Close()
	waitFor(t, "20 re-delivered", func() bool { return len(b.lines()) >= 20 })
	if got := strings.Join(b.lines(), " "); got != seq(30, 50) {
		t.Fatalf("after the offline rewind the sink got %s", got)
	}
}

func second[T any](_ T, err error) error { return err }

func seq(from, to int) string {
	var s []string
	for k := from; k < to; k++ {
		s = append(s, fmt.Sprintf("e%d", k))
	}
	return strings.Join(s, " ")
}

// TestRangeErrorText: the message says which side of the WAL was asked
// for, the oldest and newest entries, and mentions retention only when
// blocks were deleted.
func TestRangeErrorText(t *testing.T) {
	t1, t2 := rewindBase, rewindBase.Add(time.Hour)
	for _, c := range []struct {
		e    RangeError
		want string
	}{
		{RangeError{What: "index 0", FirstIndex: 1, LastIndex: 9, FirstTime: t1, LastTime: t2},
			"index 0 is outside the wal's retained range: it is before the oldest entry, index 1 at 2026-12-01T10:00:00Z (the newest is index 9 at 2026-12-01T11:00:00Z)"},
		{RangeError{What: "index 3", FirstIndex: 40, LastIndex: 90, FirstTime: t1, LastTime: t2},
			"index 3 is outside the wal's retained range: it is before the oldest entry, index 40 at 2026-12-01T10:00:00Z (the newest is index 90 at 2026-12-01T11:00:00Z; blocks before 40 were deleted by retention)"},
		{RangeError{What: "time 2027-01-01T00:00:00Z", After: true, FirstIndex: 40, LastIndex: 90, FirstTime: t1, LastTime: t2},
			"time 2027-01-01T00:00:00Z is outside the wal's retained range: it is after the newest entry, index 90 at 2026-12-01T11:00:00Z (the oldest is index 40 at 2026-12-01T10:00:00Z)"},
		{RangeError{What: "index 1", FirstIndex: 1, LastIndex: 0}, "index 1 is outside the wal: it is empty (next index 1)"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
