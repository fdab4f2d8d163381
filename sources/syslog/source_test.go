package syslog

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const msg5424 = `<165>1 2003-10-11T22:14:15.003-07:00 mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`

func TestRFC5424OverTCPBothFramings(t *testing.T) {
	s, em := startSource(t, Config{}, map[string]string{"job": "syslog"})
	c := dial(t, s)
	write(t, c, octet(msg5424)+msg5424+"\n"+octet(`<13>1 - - - - - - octet with
a newline`)+"\n")
	es := em.waitEntries(t, 3, 5*time.Second)
	want := map[string]string{"job": "syslog", "facility": "local4", "severity": "notice",
		"hostname": "mymachine.example.com", "app_name": "evntslog"}
	for i, e := range es[:2] {
		if e.Line != "An application event" {
			t.Errorf("entry %d: line %q", i, e.Line)
		}
		if fmt.Sprint(e.Labels) != fmt.Sprint(want) {
			t.Errorf("entry %d: labels %v, want %v", i, e.Labels, want)
		}
		if e.Metadata["sd_exampleSDID_32473_iut"] != "3" || e.Metadata["sd_exampleSDID_32473_eventSource"] != "Application" {
			t.Errorf("entry %d: metadata %v", i, e.Metadata)
		}
		// receive time, not the message's 2003
		if d := time.Since(time.Unix(0, e.Time)); d < 0 || d > time.Minute {
			t.Errorf("entry %d: time %v is not the receive time", i, time.Unix(0, e.Time))
		}
	}
	if es[2].Line != "octet with\na newline" || es[2].Labels["severity"] != "notice" || es[2].Labels["facility"] != "user" {
		t.Errorf("third entry %+v", es[2])
	}
	if _, ok := es[2].Labels["hostname"]; ok {
		t.Errorf("NILVALUE hostname became a label: %v", es[2].Labels)
	}
}

func TestIncomingTimestampLabelsAndWholeMessage(t *testing.T) {
	s, em := startSource(t, Config{UseIncomingTimestamp: true, LabelStructuredData: true, UseRFC5424Message: true}, nil)
	c := dial(t, s)
	write(t, c, msg5424+"\n")
	e := em.waitEntries(t, 1, 5*time.Second)[0]
	if want := time.Date(2003, 10, 12, 5, 14, 15, 3e6, time.UTC); e.Time != want.UnixNano() {
		t.Errorf("time %v, want %v", time.Unix(0, e.Time).UTC(), want)
	}
	if e.Line != msg5424 {
		t.Errorf("line %q, want the whole message", e.Line)
	}
	if e.Labels["sd_exampleSDID_32473_eventSource"] != "Application" || e.Metadata != nil {
		t.Errorf("labels %v metadata %v", e.Labels, e.Metadata)
	}
}

func TestRFC3164TimeInLocation(t *testing.T) {
	now := time.Now()
	s, em := startSourceNow(t, Config{SyslogFormat: FormatRFC3164, UseIncomingTimestamp: true, Location: "Europe/Berlin"}, nil,
		func() time.Time { return now })
	c := dial(t, s)
	local := now.In(mustLoc(t, "Europe/Berlin")).Add(-time.Hour).Truncate(time.Second)
	write(t, c, fmt.Sprintf("<34>%s myhost su: 'su root' failed\n", local.Format(time.Stamp)))
	e := em.waitEntries(t, 1, 5*time.Second)[0]
	if e.Time != local.UnixNano() {
		t.Errorf("time %v, want %v", time.Unix(0, e.Time).UTC(), local.UTC())
	}
	if e.Line != "'su root' failed" || e.Labels["app_name"] != "su" || e.Labels["hostname"] != "myhost" || e.Labels["facility"] != "auth" || e.Labels["severity"] != "critical" {
		t.Errorf("entry %+v", e)
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skip(err)
	}
	return loc
}

func TestYearOfRFC3164Timestamp(t *testing.T) {
	cv := &converter{}
	recv := time.Date(2027, 1, 1, 0, 0, 5, 0, time.UTC)
	dec31 := time.Date(0, 12, 31, 23, 59, 58, 0, time.UTC)
	if got := cv.incoming(dec31, recv); got.Year() != 2026 {
		t.Errorf("Dec 31 received on Jan 1: year %d, want 2026", got.Year())
	}
	jan1 := time.Date(0, 1, 1, 0, 0, 1, 0, time.UTC)
	if got := cv.incoming(jan1, recv); got.Year() != 2027 {
		t.Errorf("Jan 1: year %d, want 2027", got.Year())
	}
}

func TestUnparsableMessageShippedRaw(t *testing.T) {
	s, em := startSource(t, Config{}, nil)
	c := dial(t, s)
	write(t, c, "not syslog at all\n"+msg5424+"\n")
	es := em.waitEntries(t, 2, 5*time.Second)
	if es[0].Line != "not syslog at all" || es[0].Labels["parse_error"] != "true" {
		t.Errorf("entry %+v", es[0])
	}
	if es[1].Line != "An application event" {
		t.Errorf("the connection did not go on: %+v", es[1])
	}
	if n := errorsOf(s, reasonParse); n != 1 {
		t.Errorf("parse errors %v", n)
	}
}

func TestLabelsTheSourceSetsAreRefused(t *testing.T) {
	_, err := New(nil, nil, Options{Name: "x", Labels: map[string]string{"hostname": "a", "sd_x": "b"},
		Config: Config{ListenAddress: "127.0.0.1:0"}, Emitter: newFakeEmitter()})
	if err == nil || !strings.Contains(err.Error(), "hostname, sd_x") {
		t.Fatalf("err %v", err)
	}
}
