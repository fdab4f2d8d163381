package stages

import (
	"testing"
)

func TestPack(t *testing.T) {
	labels := map[string]string{"pod": "myapp-24Kgo", "container": "myapp", "job": "k"}
	// Loki docs, pack stage, "Examples": pack the pod and container labels.
	r, _ := runOne(t, `
- pack:
    labels: [pod, container]
`, "something happened", labels)
	want := `{"container":"myapp","pod":"myapp-24Kgo","_entry":"something happened"}`
	if r.Line != want {
		t.Errorf("line = %s, want %s", r.Line, want)
	}
	checkLabels(t, r.Labels, map[string]string{"job": "k"})
	if !r.Time.Equal(testNow) {
		t.Errorf("time = %v, want the ingest time %v", r.Time, testNow)
	}
	r, _ = runOne(t, `
- pack: {labels: [nothere], ingest_timestamp: false}
`, `a "<b>" & c`, labels)
	if want := `{"_entry":"a \"\u003cb\u003e\" \u0026 c"}`; r.Line != want {
		t.Errorf("line = %s, want %s", r.Line, want)
	}
	if r.Time.Equal(testNow) {
		t.Errorf("time changed with ingest_timestamp: false")
	}
}

func TestDecolorize(t *testing.T) {
	for in, want := range map[string]string{
		// Loki docs, decolorize stage, "Examples".
		"[2022-11-04 22:17:57.811] \033[0;32mhttp\033[0m: GET /_health (0 ms) 204": "[2022-11-04 22:17:57.811] http: GET /_health (0 ms) 204",
		"plain": "plain",
		// Loki's regex leaves part of an OSC-8 hyperlink behind (kept).
		"\x1b]8;;https://x\x07": "ttps://x\x07",
	} {
		r, _ := runOne(t, "- decolorize:\n", in, nil)
		if r.Line != want {
			t.Errorf("%q → %q, want %q", in, r.Line, want)
		}
	}
}
