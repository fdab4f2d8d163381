package journald

import (
	"strings"
	"testing"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks"
)

func parse(t *testing.T, src string) (*config.Config, error) {
	t.Helper()
	doc := "data_dir: /tmp/x\nsources:\n" + src + "sinks:\n  - name: out\n    type: stdout\n"
	return config.ParseWith("c.yaml", []byte(doc), &config.ParseOptions{SkipDirCheck: true,
		SinkTypes: []config.SinkType{sinks.StdoutSinkType()}, SourceTypes: []config.SourceType{SourceType()}})
}

func TestConfigKeys(t *testing.T) {
	cfg, err := parse(t, `  - name: j
    type: journald
    path: /var/log/journal
    matches: "_SYSTEMD_UNIT=nginx.service + _SYSTEMD_UNIT=ssh.service"
    max_age: 12h
    json: true
    priority: err..emerg
    field_labels: {transport: "", pid: _PID}
    metadata: {boot_id: _BOOT_ID}
    journalctl_path: /usr/bin/journalctl
    max_entry_bytes: 64KiB
    labels: {job: systemd}
`)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Sources[0].Options.(*Options)
	if o.Path != "/var/log/journal" || !o.JSON || o.MaxAge.String() != "12h0m0s" || o.MaxEntryBytes != 64<<10 ||
		o.FieldLabels["pid"] != "_PID" || o.Metadata["boot_id"] != "_BOOT_ID" || o.Priority != "err..emerg" {
		t.Errorf("decoded %+v", o)
	}
	if fl := o.fieldLabels(); fl["transport"] != "" || fl["unit"] != "_SYSTEMD_UNIT" || fl["pid"] != "_PID" {
		t.Errorf("field labels in force %v", fl)
	}
}

func TestConfigProblems(t *testing.T) {
	_, err := parse(t, `  - name: j
    type: journald
    path: /a
    root: /b
    matches: "nginx.service"
    since: yesterday
    priority: loud
    field_labels: {"bad-name": X, ok: "not a field"}
    journalctl_path: ""
    max_entry_bytes: 10
    paths: [x]
`)
	if err == nil {
		t.Fatal("no problems")
	}
	for _, want := range []string{
		`c.yaml:5: sources[0].path: set only one of path, files and root`,
		`c.yaml:7: sources[0].matches: "nginx.service" is not a FIELD=value match`,
		`c.yaml:8: sources[0].since: must be now, beginning or an RFC 3339 time`,
		`c.yaml:9: sources[0].priority: must be a level name`,
		`sources[0].field_labels.bad-name: is not a valid label name`,
		`sources[0].field_labels.ok: "not a field" is not a journal field name`,
		`sources[0].journalctl_path: must not be empty`,
		`sources[0].max_entry_bytes: must be between 1KiB and 1GiB`,
		`unknown key "paths"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	_, err = parse(t, "  - name: j\n    type: journald\n    since: now\n    max_age: 1h\n")
	if err == nil || !strings.Contains(err.Error(), "set since or max_age, not both") {
		t.Errorf("since with max_age: %v", err)
	}
}
