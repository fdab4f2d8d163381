package syslog

import (
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestLogger sends with util-linux's logger (Debian's bsdutils), the way
// a host's scripts would, over every transport and format it has.
func TestLogger(t *testing.T) {
	bin, err := exec.LookPath("logger")
	if err != nil {
		t.Skip("logger (util-linux, Debian package bsdutils) is not installed; .ci/run installs it")
	}
	cases := []struct {
		name   string
		cfg    Config
		args   []string
		sdMeta bool
	}{
		{"tcp rfc5424 octet-count", Config{}, []string{"--tcp", "--rfc5424", "--octet-count"}, true},
		{"tcp rfc5424 newline", Config{}, []string{"--tcp", "--rfc5424"}, true},
		{"udp rfc5424", Config{ListenProtocol: ProtoUDP}, []string{"--udp", "--rfc5424"}, true},
		{"tcp rfc3164", Config{SyslogFormat: FormatRFC3164}, []string{"--tcp", "--rfc3164"}, false},
		{"udp rfc3164", Config{SyslogFormat: FormatRFC3164, ListenProtocol: ProtoUDP}, []string{"--udp", "--rfc3164"}, false},
		{"udp auto 3164", Config{SyslogFormat: FormatAuto, ListenProtocol: ProtoUDP}, []string{"--udp", "--rfc3164"}, false},
		{"tcp auto 5424", Config{SyslogFormat: FormatAuto}, []string{"--tcp", "--rfc5424", "--octet-count"}, true},
		{"unixgram", Config{ListenProtocol: ProtoUnixgram, SyslogFormat: FormatAuto}, []string{"--udp"}, false},
		{"unix stream", Config{ListenProtocol: ProtoUnix, SyslogFormat: FormatAuto}, []string{"--tcp"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			unix := cfg.ListenProtocol == ProtoUnix || cfg.ListenProtocol == ProtoUnixgram
			if unix {
				cfg.ListenAddress = filepath.Join(t.TempDir(), "log.sock")
			}
			cfg.UseIncomingTimestamp = true
			s, em := startSource(t, cfg, map[string]string{"job": "logger"})
			args := append([]string{}, tc.args...)
			if unix {
				args = append(args, "--socket", cfg.ListenAddress)
			} else {
				_, p, _ := net.SplitHostPort(s.Addr().String())
				args = append(args, "--server", "127.0.0.1", "--port", p)
			}
			args = append(args, "--tag", "myapp", "--priority", "local3.warning", "hello from logger")
			before := time.Now().Add(-time.Second)
			if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				t.Fatalf("logger %v: %v: %s", args, err, out)
			}
			e := em.waitEntries(t, 1, 5*time.Second)[0]
			if e.Line != "hello from logger" {
				t.Errorf("line %q", e.Line)
			}
			want := map[string]string{"job": "logger", "facility": "local3", "severity": "warning", "app_name": "myapp"}
			for k, v := range want {
				if e.Labels[k] != v {
					t.Errorf("label %s=%q, want %q (labels %v)", k, e.Labels[k], v, e.Labels)
				}
			}
			if e.Labels["hostname"] == "" && !unix {
				t.Errorf("no hostname label: %v", e.Labels)
			}
			if tm := time.Unix(0, e.Time); tm.Before(before.Truncate(time.Second)) || tm.After(time.Now().Add(time.Second)) {
				t.Errorf("time %v is not the message's (now %v)", tm, time.Now())
			}
			if tc.sdMeta && e.Metadata["sd_timeQuality_tzKnown"] == "" {
				t.Errorf("logger's timeQuality structured data is not in the metadata: %v", e.Metadata)
			}
		})
	}
}
