package stages

import (
	"errors"
	"testing"
	"time"
)

func strp(s string) *string { return &s }

// TestTimestampFormats: the formats of Promtail's timestamp page
// ("Reference Time", and the example under "Examples"), each parsed to
// the UTC time it stands for.
func TestTimestampFormats(t *testing.T) {
	plus2 := time.FixedZone("plus2", 2*3600)
	now := time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		opts     timestampOptions
		value    any
		want     string // RFC3339Nano, UTC
		location *time.Location
	}{
		// "Examples": source time, format RFC3339Nano.
		{"doc example RFC3339Nano", timestampOptions{Format: "RFC3339Nano"}, "2006-01-02T15:04:05.999999999-07:00", "2006-01-02T22:04:05.999999999Z", nil},
		// "Reference Time": the named forms.
		{"ANSIC", timestampOptions{Format: "ANSIC"}, "Mon Jan  2 15:04:05 2006", "2006-01-02T13:04:05Z", plus2},
		{"UnixDate", timestampOptions{Format: "UnixDate"}, "Mon Jan  2 15:04:05 UTC 2006", "2006-01-02T15:04:05Z", nil},
		{"RubyDate", timestampOptions{Format: "RubyDate"}, "Mon Jan 02 15:04:05 -0700 2006", "2006-01-02T22:04:05Z", nil},
		{"RFC822", timestampOptions{Format: "RFC822"}, "02 Jan 06 15:04 UTC", "2006-01-02T15:04:00Z", nil},
		{"RFC822Z", timestampOptions{Format: "RFC822Z"}, "02 Jan 06 15:04 -0700", "2006-01-02T22:04:00Z", nil},
		{"RFC850", timestampOptions{Format: "RFC850"}, "Monday, 02-Jan-06 15:04:05 UTC", "2006-01-02T15:04:05Z", nil},
		{"RFC1123", timestampOptions{Format: "RFC1123"}, "Mon, 02 Jan 2006 15:04:05 UTC", "2006-01-02T15:04:05Z", nil},
		{"RFC1123Z", timestampOptions{Format: "RFC1123Z"}, "Mon, 02 Jan 2006 15:04:05 -0700", "2006-01-02T22:04:05Z", nil},
		{"RFC3339", timestampOptions{Format: "RFC3339"}, "2006-01-02T15:04:05-07:00", "2006-01-02T22:04:05Z", nil},
		// Measured against Promtail (issue 18): RFC3339 accepts fractional seconds.
		{"RFC3339 with fraction", timestampOptions{Format: "RFC3339"}, "2019-01-01T01:00:00.123456789Z", "2019-01-01T01:00:00.123456789Z", nil},
		{"Unix", timestampOptions{Format: "Unix"}, "1562708916", "2019-07-09T21:48:36Z", nil},
		{"Unix with fraction", timestampOptions{Format: "Unix"}, "1562708916.000000123", "2019-07-09T21:48:36.000000123Z", nil},
		{"Unix from a JSON number", timestampOptions{Format: "Unix"}, 1562708916.414123, "2019-07-09T21:48:36.414123Z", nil},
		{"UnixMs", timestampOptions{Format: "UnixMs"}, "1562708916414", "2019-07-09T21:48:36.414Z", nil},
		{"UnixUs", timestampOptions{Format: "UnixUs"}, "1562708916414123", "2019-07-09T21:48:36.414123Z", nil},
		{"UnixNs", timestampOptions{Format: "UnixNs"}, "1562708916000000123", "2019-07-09T21:48:36.000000123Z", nil},
		// Custom layouts: with location (measured: "2006-01-02 15:04:05,000" works).
		{"custom layout with location", timestampOptions{Format: "2006-01-02 15:04:05,000", Location: strp("America/New_York")}, "2024-03-05 10:11:12,345", "2024-03-05T15:11:12.345Z", nil},
		{"custom layout in Env.Location", timestampOptions{Format: "2006-01-02 15:04:05"}, "2024-03-05 10:11:12", "2024-03-05T08:11:12Z", plus2},
		{"custom layout with its own zone", timestampOptions{Format: "2006-01-02 15:04:05 -0700"}, "2024-03-05 10:11:12 +0100", "2024-03-05T09:11:12Z", plus2},
		// "If the custom format has no year component specified, Promtail
		// will assume that the current year ... should be used."
		{"no year", timestampOptions{Format: "Jan _2 15:04:05"}, "Mar  5 10:11:12", "2024-03-05T10:11:12Z", time.UTC},
		// fallback_formats: tried when format fails.
		{"fallback", timestampOptions{Format: "RFC3339", FallbackFormats: []string{"UnixMs", "2006/01/02 15:04"}}, "2024/03/05 10:11", "2024-03-05T10:11:00Z", time.UTC},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			loc := c.location
			if loc == nil {
				loc = time.UTC
			}
			c.opts.Source = "time"
			s, err := newTimestampStage(c.opts, rec.env(loc, func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			e := entry(1, "line", nil)
			e.Time = now
			e.Extracted["time"] = c.value
			s.Process(e, rec.next)
			out := rec.take()
			if len(out) != 1 {
				t.Fatalf("got %d entries", len(out))
			}
			if got := out[0].Time.Format(time.RFC3339Nano); got != c.want || out[0].Time.Location() != time.UTC {
				t.Errorf("time = %s (%v), want %s UTC", got, out[0].Time.Location(), c.want)
			}
			if len(rec.failed) != 0 {
				t.Errorf("failures counted: %v", rec.failed)
			}
		})
	}
}

// TestTimestampNoYearAcrossNewYear: a December time read in January is
// last year's, a January time read in December next year's.
func TestTimestampNoYearAcrossNewYear(t *testing.T) {
	for _, c := range []struct {
		now, value, want string
	}{
		{"2025-01-01T00:00:10Z", "Dec 31 23:59:59", "2024-12-31T23:59:59Z"},
		{"2024-12-31T23:59:59Z", "Jan  1 00:00:10", "2025-01-01T00:00:10Z"},
	} {
		now := mustTime(t, time.RFC3339, c.now)
		got, err := parseWithoutYear(time.Stamp, c.value, time.UTC, now)
		if err != nil {
			t.Fatal(err)
		}
		if got.Format(time.RFC3339) != c.want {
			t.Errorf("%s at %s = %s, want %s", c.value, c.now, got.Format(time.RFC3339), c.want)
		}
	}
}

// TestTimestampActionOnFailure: "Action on Failure": fudge (default) sets
// the last known timestamp of the same label set plus 1ns; skip keeps
// the entry's time. Every failure is counted with its reason.
func TestTimestampActionOnFailure(t *testing.T) {
	read := mustTime(t, time.RFC3339, "2024-06-15T12:00:00Z")
	good := mustTime(t, time.RFC3339, "2024-01-01T00:00:00Z")
	a := map[string]string{"job": "a"}
	b := map[string]string{"job": "b"}
	steps := []struct {
		labels    map[string]string
		value     any // nil: no source value
		wantFudge time.Time
		wantSkip  time.Time
	}{
		{b, "garbage", read, read}, // no good time yet for b: kept
		{a, "2024-01-01T00:00:00Z", good, good},
		{a, "garbage", good.Add(1), read},
		{a, nil, good.Add(2), read},
		{a, map[string]any{}, good.Add(3), read}, // not convertible to text
		{b, "garbage", read, read},               // another label set
		{a, "2024-01-01T00:00:00Z", good, good},
		{a, "2300-01-01T00:00:00Z", good.Add(1), read}, // beyond what the WAL stores
	}
	for _, action := range []string{"fudge", "skip", ""} {
		t.Run(action, func(t *testing.T) {
			rec := newRecorder()
			o := timestampOptions{Source: "ts", Format: "RFC3339"}
			if action != "" {
				o.ActionOnFailure = strp(action)
			}
			s, err := newTimestampStage(o, rec.env(time.UTC, nil))
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range steps {
				e := entry(uint64(i), "l", st.labels)
				e.Time = read
				if st.value != nil {
					e.Extracted["ts"] = st.value
				}
				s.Process(e, rec.next)
				want := st.wantFudge
				if action == "skip" {
					want = st.wantSkip
				}
				if got := rec.take()[0].Time; !got.Equal(want) {
					t.Errorf("step %d: time %v, want %v", i, got, want)
				}
			}
			want := map[string]int{
				"timestamp/" + reasonTimestampNoParse:  3,
				"timestamp/" + reasonTimestampMissing:  1,
				"timestamp/" + reasonTimestampNotText:  1,
				"timestamp/" + reasonTimestampTooLarge: 1,
			}
			for k, n := range want {
				if rec.failed[k] != n {
					t.Errorf("failed[%s] = %d, want %d (all: %v)", k, rec.failed[k], n, rec.failed)
				}
			}
		})
	}
}

// TestFudgeCacheBounded: the last good times are kept for a bounded
// number of label sets, least recently used first out.
func TestFudgeCacheBounded(t *testing.T) {
	c := newFudgeCache(2)
	t0 := time.Unix(100, 0)
	l := func(v string) map[string]string { return map[string]string{"f": v} }
	c.put(l("1"), t0)
	c.put(l("2"), t0)
	c.get(l("1")) // 1 is now the most recent
	c.put(l("3"), t0)
	if _, ok := c.get(l("2")); ok {
		t.Error("2 should have been dropped")
	}
	for _, k := range []string{"1", "3"} {
		if _, ok := c.get(l(k)); !ok {
			t.Errorf("%s should be kept", k)
		}
	}
	if len(c.items) != 2 || c.lru.Len() != 2 {
		t.Errorf("size %d/%d", len(c.items), c.lru.Len())
	}
}

func TestTimestampOptionErrors(t *testing.T) {
	for _, c := range []struct {
		opts timestampOptions
		key  string
	}{
		{timestampOptions{Format: "RFC3339"}, "source"},
		{timestampOptions{Source: "t"}, "format"},
		{timestampOptions{Source: "t", Format: "RFC3339", Location: strp("Mars/Olympus")}, "location"},
		{timestampOptions{Source: "t", Format: "RFC3339", ActionOnFailure: strp("drop")}, "action_on_failure"},
		{timestampOptions{Source: "t", Format: "RFC3339", FallbackFormats: []string{""}}, "fallback_formats[0]"},
	} {
		_, err := newTimestampStage(c.opts, Env{})
		var oe *optionError
		if !errors.As(err, &oe) || oe.Key != c.key {
			t.Errorf("%+v: error %v, want one for key %s", c.opts, err, c.key)
		}
	}
}

// FuzzTimestampParse: no text makes a timestamp format panic, and what
// parses is within what the WAL can store or counted as a failure.
func FuzzTimestampParse(f *testing.F) {
	for _, s := range []string{"1562708916.000000123", "1562708916414", "2019-01-01T01:00:00.123Z",
		"Mon Jan  2 15:04:05 2006", "9223372036.854775807", "-1.5", "2024-03-05 10:11:12,345", "Mar  5 10:11:12", "1e400"} {
		f.Add(s)
	}
	formats := []string{"ANSIC", "UnixDate", "RubyDate", "RFC822", "RFC822Z", "RFC850", "RFC1123", "RFC1123Z",
		"RFC3339", "RFC3339Nano", "Unix", "UnixMs", "UnixUs", "UnixNs", "2006-01-02 15:04:05,000", "Jan _2 15:04:05"}
	var stages []*timestampStage
	for _, fm := range formats {
		s, err := newTimestampStage(timestampOptions{Source: "t", Format: fm}, Env{Location: time.UTC})
		if err != nil {
			f.Fatal(err)
		}
		stages = append(stages, s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range stages {
			e := &Entry{Extracted: map[string]any{"t": text}, Time: time.Unix(1, 0)}
			s.Process(e, func(*Entry) {})
			if e.Time.Before(minTime) || e.Time.After(maxTime) {
				t.Fatalf("time %v out of range from %q", e.Time, text)
			}
		}
	})
}
