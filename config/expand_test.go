package config_test

import (
	. "github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
	"reflect"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := env(map[string]string{"HOST": "web-1", "EMPTY": "", "PORT": "8401", "SECRET": "a: b # c ${HOST}"})
	for _, tt := range []struct {
		in, want string
		errs     []string
	}{
		{"plain", "plain", nil},
		{"${HOST}", "web-1", nil},
		{"${HOST}:${PORT}", "web-1:8401", nil},
		{"pre-${HOST}-post", "pre-web-1-post", nil},
		{"${EMPTY}", "", nil},
		{"${UNSET:-fallback}", "fallback", nil},
		{"${EMPTY:-fallback}", "fallback", nil},
		{"${HOST:-fallback}", "web-1", nil},
		{"${UNSET:-}", "", nil},
		{"${UNSET:-a:-b}", "a:-b", nil},
		{"${SECRET}", "a: b # c ${HOST}", nil}, // expanded once, never re-read
		{"$$", "$", nil},
		{"$${HOST}", "${HOST}", nil},
		{"price $$5", "price $5", nil},
		{"$$$${HOST}", "$${HOST}", nil},
		{"$HOST", "$HOST", nil},
		{"a$", "a$", nil},
		{"$", "$", nil},
		{"${UNSET}", "", []string{`environment variable "UNSET" is not set (give a default with ${UNSET:-default})`}},
		{"${UNSET}/${ALSO}", "/", []string{
			`environment variable "UNSET" is not set (give a default with ${UNSET:-default})`,
			`environment variable "ALSO" is not set (give a default with ${ALSO:-default})`,
		}},
		{"${}", "", []string{`invalid environment variable reference "${}" (use ${NAME} or ${NAME:-default}; write $$ for a literal $)`}},
		{"${A B}", "", []string{`invalid environment variable reference "${A B}" (use ${NAME} or ${NAME:-default}; write $$ for a literal $)`}},
		{"${HOST:?x}", "", []string{`invalid environment variable reference "${HOST:?x}" (use ${NAME} or ${NAME:-default}; write $$ for a literal $)`}},
		{"x${HOST", "x${HOST", []string{`unterminated "${" (write $$ for a literal $)`}},
	} {
		got, errs := Expand(tt.in, vars)
		if got != tt.want || !reflect.DeepEqual(errs, tt.errs) {
			t.Errorf("Expand(%q) = %q, %q; want %q, %q", tt.in, got, errs, tt.want, tt.errs)
		}
	}
}

// TestExpandInConfig checks where expansion applies: values yes, keys and
// comments no.
func TestExpandInConfig(t *testing.T) {
	src := `
# ${NOT_A_VAR} in a comment is left alone
data_dir: ${LC_DATA:-/tmp/lc}   # nor here: ${NOR_HERE}
sources:
  - name: ${NAME}
    type: file
    paths: ["${LOGDIR}/*.log", '$$HOME/x']
    labels:
      ${KEY}: value
sinks:
  - name: out
    type: stdout
    workers: ${WORKERS}
admin:
  token_file: "${TOKEN:-}"
`
	c, err := parseOnly(t, src, map[string]string{"NAME": "app", "LOGDIR": "/var/log", "WORKERS": "3", "KEY": "job"})
	if err == nil {
		t.Fatalf("${KEY} in a key was expanded: %+v", c)
	}
	got := problemsOf(t, err)
	if len(got) != 1 || got[0].Line != 9 || got[0].Key != "sources[0].labels.${KEY}" {
		t.Fatalf("got %v", err)
	}

	src = src[:len(src)-len("admin:\n  token_file: \"${TOKEN:-}\"\n")]
	src = strings.Replace(src, "${KEY}: value", "job: ${VALUE}", 1)
	c, err = parseOnly(t, src, map[string]string{"NAME": "app", "LOGDIR": "/var/log", "WORKERS": "3", "VALUE": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/tmp/lc" || c.Sources[0].Name != "app" || c.Sinks[0].Workers != 3 ||
		!reflect.DeepEqual(c.Sources[0].Options.(*sources.FileConfig).Paths, []string{"/var/log/*.log", "$HOME/x"}) ||
		c.Sources[0].Labels["job"] != "v" {
		t.Errorf("got %+v", c)
	}
}

func TestExpandUsesEnvironment(t *testing.T) {
	t.Setenv("LC_TEST_SINK", "from-env")
	c, err := ParseWith("t.yaml", []byte(oneSource+"sinks:\n  - name: ${LC_TEST_SINK}\n    type: stdout\n"), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes, SkipDirCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sinks[0].Name != "from-env" {
		t.Errorf("name = %q", c.Sinks[0].Name)
	}
}
