package config

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0}, {"0s", 0}, {"250ms", 250 * time.Millisecond}, {"5m", 5 * time.Minute},
		{"1h30m", 90 * time.Minute}, {"1.5s", 1500 * time.Millisecond}, {"-1s", -time.Second},
		{"100us", 100 * time.Microsecond},
	} {
		got, err := ParseDuration(tt.in)
		if err != nil || time.Duration(got) != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "fast", "5", "100", "1d", "5 m", "ms", "0.0"} {
		_, err := ParseDuration(in)
		if err == nil || err.Error() != "must be a duration like 250ms, got "+strconv.Quote(in) {
			t.Errorf("ParseDuration(%q) error = %v", in, err)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	var v struct {
		D Duration `yaml:"d"`
	}
	if err := yaml.Unmarshal([]byte("d: 250ms\n"), &v); err != nil || v.D != Duration(250*time.Millisecond) {
		t.Fatalf("got %v, %v", v.D, err)
	}
	err := yaml.Unmarshal([]byte("\nd: fast\n"), &v)
	if err == nil || !strings.Contains(err.Error(), `line 2: must be a duration like 250ms, got "fast"`) {
		t.Errorf("error = %v", err)
	}
	if err := yaml.Unmarshal([]byte("d: {a: 1}\n"), &v); err == nil {
		t.Error("a mapping decoded as a duration")
	}
	out, err := yaml.Marshal(struct{ D Duration }{Duration(90 * time.Second)})
	if err != nil || string(out) != "d: 1m30s\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
	if got := Duration(5 * time.Minute).String(); got != "5m0s" {
		t.Errorf("String = %q", got)
	}
}
