package journald

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

func readOne(t *testing.T, fields ...exportField) *entry {
	t.Helper()
	x := exportReader{br: bufio.NewReader(bytes.NewReader(appendExport(nil, fields...))), maxEntry: 1 << 20}
	var e entry
	if err := x.next(&e); err != nil {
		t.Fatal(err)
	}
	return &e
}

// json: true writes the whole entry as one JSON object, keys sorted:
// text as strings, binary values as arrays of byte numbers, repeated
// fields as arrays (the Journal JSON Format); unknown __ fields left out.
func TestFormatJSON(t *testing.T) {
	e := readOne(t, testEntry(0, "say \"hi\"\n\ttab",
		exportField{name: "BIN", value: "\xff\x00"},
		exportField{name: "TAG", value: "a"}, exportField{name: "TAG", value: "b"},
		exportField{name: "__NEW_THING", value: "x"})...)
	o := NewOptions()
	o.JSON = true
	f := newFormatter(o, nil)
	line, ok := f.line(nil, e)
	if !ok {
		t.Fatal("no line")
	}
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, line)
	}
	want := `map[BIN:[255 0] MESSAGE:say "hi"
	tab PRIORITY:6 TAG:[a b] _HOSTNAME:h1 _SYSTEMD_UNIT:app.service __CURSOR:s=abc;i=1;b=0;m=0;t=60a24181e4000;x=1 __MONOTONIC_TIMESTAMP:12345 __REALTIME_TIMESTAMP:1700000000000000]`
	if fmt.Sprint(got) != want {
		t.Errorf("got %v\nwant %s", got, want)
	}
}

func TestFormatLabels(t *testing.T) {
	e := readOne(t, testEntry(0, "m", exportField{name: "PRIORITY", value: "3"},
		exportField{name: "SYSLOG_IDENTIFIER", value: "bad\xffutf8"}, exportField{name: "_PID", value: "42"})...)
	o := NewOptions()
	o.FieldLabels = map[string]string{"hostname": "", "pid": "_PID"}
	o.Metadata = map[string]string{"pid": "_PID"}
	f := newFormatter(o, map[string]string{"unit": "configured wins"})
	// PRIORITY=6 comes first: the first value is the label's.
	if got := fmt.Sprint(f.entryLabels(e)); got != "[{pid 42} {priority info} {syslog_identifier bad\uFFFDutf8} {unit configured wins}]" {
		t.Errorf("labels %s", got)
	}
	if got := fmt.Sprint(f.metadata(e)); got != "[{pid 42}]" {
		t.Errorf("metadata %s", got)
	}
	if _, ok := f.line(nil, readOne(t, exportField{name: "__CURSOR", value: "c"}, exportField{name: "__REALTIME_TIMESTAMP", value: "1"})); ok {
		t.Error("an entry without MESSAGE gave a line")
	}
	for p, want := range map[string]string{"0": "emerg", "3": "error", "4": "warning", "7": "debug", "9": "9"} {
		if got := levelName([]byte(p)); got != want {
			t.Errorf("levelName(%s) = %s, want %s", p, got, want)
		}
	}
}
