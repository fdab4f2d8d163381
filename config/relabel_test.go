package config_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	. "github.com/logcapturer/logcapturer/config"
)

// TestRelabelConfigs: relabel_configs is a common source key holding
// Prometheus relabel rules: every action decodes with Prometheus's
// defaults; a regex that does not compile, an unknown key, an unknown
// action and a rule Prometheus refuses are problems at their lines; a
// reload sees changed rules as a changed source.
func TestRelabelConfigs(t *testing.T) {
	types := []SourceType{{Name: "lines", New: func() SourceConfig { return &pathOnly{} }}}
	parse := func(rules string) (*Config, error) {
		return ParseWith("r.yaml", []byte("sources:\n  - name: a\n    type: lines\n    relabel_configs:\n"+rules+
			"sinks:\n  - name: out\n    type: stdout\n"), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: types, SkipDirCheck: true})
	}
	c, err := parse(`      - source_labels: [__journal__systemd_unit]
        target_label: unit
      - action: drop
        source_labels: [unit]
        regex: 'cron\..*'
      - action: labelmap
        regex: __syslog_message_(.+)
      - {action: labeldrop, regex: tmp}
      - {action: hashmod, source_labels: [unit], modulus: 4, target_label: shard}
      - {action: keepequal, source_labels: [a], target_label: b}
      - {action: lowercase, source_labels: [unit], target_label: unit_lc}
`)
	if err != nil {
		t.Fatal(err)
	}
	rules := c.Sources[0].RelabelConfigs
	var acts []string
	for _, r := range rules {
		acts = append(acts, string(r.Action))
	}
	if want := []string{"replace", "drop", "labelmap", "labeldrop", "hashmod", "keepequal", "lowercase"}; !reflect.DeepEqual(acts, want) {
		t.Fatalf("actions %v, want %v", acts, want)
	}
	if r := rules[0]; r.Regex.String() != "(.*)" || r.Replacement != "$1" || r.Separator != ";" {
		t.Errorf("defaults not applied: %+v", r)
	}

	_, err = parse(`      - source_labels: [a]
        regex: 'a(b'
        target_label: x
      - {action: drop, source_labels: [a], regexp: x}
      - {action: explode}
      - {action: hashmod, source_labels: [a], target_label: x}
`)
	var got []string
	for _, p := range problemsOf(t, err) {
		got = append(got, p.String())
	}
	want := []string{
		"r.yaml:6: sources[0].relabel_configs[0].regex: does not compile",
		`r.yaml:8: sources[0].relabel_configs[1]: unknown key "regexp"; did you mean "regex"?`,
		`r.yaml:9: sources[0].relabel_configs[2]: unknown relabel action "explode"`,
		"r.yaml:10: sources[0].relabel_configs[3]: relabel configuration for hashmod requires non-zero modulus",
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: %s\nwant prefix: %s", i, got[i], want[i])
		}
	}

	_, err = parse("      regex: x\n")
	if ps := problemsOf(t, err); len(ps) != 1 || ps[0].Key != "sources[0].relabel_configs" || !strings.Contains(ps[0].Msg, "must be a list") {
		t.Errorf("a mapping for relabel_configs: %v", ps)
	}

	a, _ := parse("      - {source_labels: [a], target_label: b}\n")
	b, _ := parse("      - {source_labels: [a], target_label: b, regex: '(.*)'}\n")
	d, _ := parse("      - {source_labels: [a], target_label: b, regex: 'x'}\n")
	if !a.Sources[0].Equal(&b.Sources[0]) || a.Sources[0].Equal(&d.Sources[0]) {
		t.Error("Equal does not compare relabel_configs by their rules")
	}
}

// TestPromtailJournalJob: a journal cursor's entry of Promtail's positions
// file names its job under Promtail 3.x's "cursor-" and the older
// "journal-" prefix; a file's entry (an offset) names none, whatever its
// path.
func TestPromtailJournalJob(t *testing.T) {
	pp, err := ParsePromtailPositions("p.yaml", []byte(`positions:
  cursor-system: "s=1;i=2"
  journal-old: "s=3;i=4"
  /var/log/cursor-x.log: "120"
  cursor-dir/app.log: "7"
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range pp.Entries {
		job, ok := e.JournalJob()
		got = append(got, fmt.Sprintf("%s %t", job, ok))
	}
	if want := []string{"system true", "old true", " false", " false"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("jobs %q, want %q", got, want)
	}
}

// TestPromtailDockerContainer: a docker target's entry of Promtail's
// positions file is cursor-<64 hex digits>: Unix seconds; journal cursors,
// files and other keys are not.
func TestPromtailDockerContainer(t *testing.T) {
	id := strings.Repeat("0a", 32)
	pp, err := ParsePromtailPositions("p.yaml", []byte(`positions:
  cursor-`+id+`: "1767607202"
  cursor-system: "1767607202"
  cursor-`+id[:63]+`: "1"
  cursor-`+strings.ToUpper(id)+`: "1"
  cursor-`+id[:62]+`ff: "s=1;i=2"
  /var/lib/docker/containers/`+id+`/`+id+`-json.log: "120"
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range pp.Entries {
		cid, since, ok := e.DockerContainer()
		got = append(got, fmt.Sprintf("%t %s %s", ok, cid, since.Format(time.RFC3339)))
	}
	want := []string{"true " + id + " 2026-01-05T10:00:02Z"}
	for range 5 {
		want = append(want, "false  0001-01-01T00:00:00Z")
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %q, want %q", got, want)
	}
}
