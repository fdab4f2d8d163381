package stages

import (
	"reflect"
	"testing"
	"time"
)

// TestDocker: the example on Promtail's docker page ("Examples") and the
// cases around it.
func TestDocker(t *testing.T) {
	read := time.Unix(1000, 0).UTC()
	cases := []struct {
		name      string
		line      string
		extracted map[string]any // the docker stage's keys
		labels    map[string]string
		time      time.Time
		out       string
		failed    map[string]int
	}{
		{
			name:      "doc example",
			line:      `{"log":"log message\n","stream":"stderr","time":"2019-04-30T02:12:41.8443515Z"}`,
			extracted: map[string]any{"output": "log message\n", "stream": "stderr", "timestamp": "2019-04-30T02:12:41.8443515Z"},
			labels:    map[string]string{"job": "d", "stream": "stderr"},
			time:      mustTime(t, time.RFC3339Nano, "2019-04-30T02:12:41.8443515Z"),
			out:       "log message\n",
		},
		{
			name:      "not JSON: unchanged, counted",
			line:      `plain text`,
			extracted: map[string]any{},
			labels:    map[string]string{"job": "d"},
			time:      read,
			out:       `plain text`,
			failed:    map[string]int{"docker/malformed_json": 1},
		},
		{
			name:      "missing fields are nil; bad time counted",
			line:      `{"log":{"b":1,"a":"<"},"time":"yesterday"}`,
			extracted: map[string]any{"output": `{"a":"\u003c","b":1}`, "stream": nil, "timestamp": "yesterday"},
			labels:    map[string]string{"job": "d"},
			time:      read,
			out:       `{"a":"\u003c","b":1}`,
			failed:    map[string]int{"docker/" + reasonTimestampNoParse: 1},
		},
		{
			name:      "numbers as Promtail prints them",
			line:      `{"log":3e2,"stream":"stdout","time":"2019-04-30T02:12:41Z"}`,
			extracted: map[string]any{"output": 300.0, "stream": "stdout", "timestamp": "2019-04-30T02:12:41Z"},
			labels:    map[string]string{"job": "d", "stream": "stdout"},
			time:      mustTime(t, time.RFC3339, "2019-04-30T02:12:41Z"),
			out:       "300",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			s := newDockerStage(rec.env(time.UTC, nil))
			e := entry(1, c.line, map[string]string{"job": "d"})
			e.Time = read
			s.Process(e, rec.next)
			got := rec.take()[0]
			for _, k := range []string{"output", "stream", "timestamp"} {
				want, wok := c.extracted[k]
				have, hok := got.Extracted[k]
				if wok != hok || !reflect.DeepEqual(want, have) {
					t.Errorf("extracted[%s] = %#v (%v), want %#v (%v)", k, have, hok, want, wok)
				}
			}
			if !reflect.DeepEqual(got.Labels, c.labels) {
				t.Errorf("labels %v, want %v", got.Labels, c.labels)
			}
			if !got.Time.Equal(c.time) {
				t.Errorf("time %v, want %v", got.Time, c.time)
			}
			if got.Line != c.out {
				t.Errorf("line %q, want %q", got.Line, c.out)
			}
			if c.failed == nil {
				c.failed = map[string]int{}
			}
			if !reflect.DeepEqual(rec.failed, c.failed) {
				t.Errorf("failed %v, want %v", rec.failed, c.failed)
			}
		})
	}
}

// TestDockerFudge: a line without a time gets the last time of its stream
// plus 1ns (the timestamp stage's default), per stream label.
func TestDockerFudge(t *testing.T) {
	rec := newRecorder()
	s := newDockerStage(rec.env(time.UTC, nil))
	for i, l := range []string{
		`{"log":"a","stream":"stdout","time":"2019-04-30T02:12:41Z"}`,
		`{"log":"b","stream":"stdout"}`,
		`{"log":"c","stream":"stderr"}`,
	} {
		e := entry(uint64(i), l, nil)
		e.Time = time.Unix(5, 0)
		s.Process(e, rec.next)
	}
	got := rec.take()
	base := mustTime(t, time.RFC3339, "2019-04-30T02:12:41Z")
	for i, want := range []time.Time{base, base.Add(1), time.Unix(5, 0)} {
		if !got[i].Time.Equal(want) {
			t.Errorf("entry %d time %v, want %v", i, got[i].Time, want)
		}
	}
}

// FuzzDocker: no line makes the docker stage panic; what it hands on is
// one entry with a storable time.
func FuzzDocker(f *testing.F) {
	for _, s := range []string{`{"log":"log message\n","stream":"stderr","time":"2019-04-30T02:12:41.8443515Z"}`,
		`{"log":[1,"x",{"a":null}],"stream":5,"time":1e300}`, `{"stream":"\xff"}`, `null`, `[]`, `{`} {
		f.Add(s)
	}
	s := newDockerStage(Env{})
	f.Fuzz(func(t *testing.T, line string) {
		n := 0
		e := entry(1, line, map[string]string{"job": "x"})
		e.Time = time.Unix(1, 0)
		s.Process(e, func(e *Entry) {
			n++
			if e.Time.Before(minTime) || e.Time.After(maxTime) {
				t.Fatalf("time %v", e.Time)
			}
		})
		if n != 1 {
			t.Fatalf("%d entries", n)
		}
	})
}
