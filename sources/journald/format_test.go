package journald

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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

// json: true writes the whole entry as Promtail's json: true does: the
// data fields (no __CURSOR or other address field), a repeated one with
// its last value, every value a string as encoding/json (json-iterator's
// standard configuration) writes it: HTML characters and control
// characters escaped, invalid UTF-8 as \ufffd. Found by a reviewer: the
// Journal JSON Format (byte arrays, arrays of repeated values, address
// fields) made every line differ from Promtail's.
func TestFormatJSON(t *testing.T) {
	e := readOne(t, testEntry(0, "say \"hi\"\n\ttab \x1b[31m<b>&",
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
	want, _ := json.Marshal(map[string]string{"BIN": "\xff\x00", "MESSAGE": "say \"hi\"\n\ttab \x1b[31m<b>&", "PRIORITY": "6",
		"TAG": "b", "_HOSTNAME": "h1", "_SYSTEMD_UNIT": "app.service"})
	if string(line) != string(want) {
		t.Errorf("got  %s\nwant %s", line, want)
	}
	if !strings.Contains(string(line), `\u001b[31m\u003cb\u003e\u0026`) || !strings.Contains(string(line), `"BIN":"\ufffd\u0000"`) {
		t.Errorf("escapes: %s", line)
	}
}

func TestFormatLabels(t *testing.T) {
	e := readOne(t, testEntry(0, "m", exportField{name: "PRIORITY", value: "3"},
		exportField{name: "SYSLOG_IDENTIFIER", value: "bad\xffutf8"}, exportField{name: "_PID", value: "42"})...)
	o := NewOptions()
	o.FieldLabels = map[string]string{"hostname": "", "pid": "_PID"}
	o.Metadata = map[string]string{"pid": "_PID"}
	f := newFormatter(o, map[string]string{"unit": "configured wins"})
	// PRIORITY=3 comes last: the last value is the label's, as in
	// Promtail's map of the fields.
	if got := fmt.Sprint(f.entryLabels(e)); got != "[{pid 42} {priority error} {syslog_identifier bad\uFFFDutf8} {unit configured wins}]" {
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
