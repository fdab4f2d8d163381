package journald

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/sources"
)

func cursorOf(i int) string {
	return fmt.Sprintf("s=abc;i=%x;b=0;m=0;t=%x;x=1", i+1, 1700000000000000+i)
}

// stagedParams are fast() with a StageRunner for stages (YAML) and relabel.
func stagedParams(t *testing.T, stages string, relabel func(map[string]string) bool) Params {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(stages), &doc); err != nil {
		t.Fatal(err)
	}
	r, err := sources.NewStageRunner(sources.Deps{Name: "journal", PipelineStages: doc.Content[0]}, sources.StageOptions{Relabel: relabel})
	if err != nil {
		t.Fatal(err)
	}
	p := fast()
	p.Stages, p.InternalLabels = r, relabel != nil
	return p
}

// TestStagesShapeBlocksAndCoverDrops: json + labels + drop change what is
// emitted; the relabel hook sees Promtail's __journal_* labels and the
// stages do not; the last block's cursor is the dropped last entry's, and
// a restart from it starts journalctl after that entry.
func TestStagesShapeBlocksAndCoverDrops(t *testing.T) {
	dir := t.TempDir()
	fix := fixture(testEntry(0, `{"level":"info","msg":"one"}`), testEntry(1, `{"level":"error","msg":"two"}`),
		testEntry(2, `{"level":"debug","msg":"noise"}`))
	os.WriteFile(filepath.Join(dir, "fixture"), fix, 0o644)
	js := fakeJournalctl(t, dir, `cat "$(dirname "$0")/fixture"; exec sleep 1000`)
	var mu sync.Mutex
	var seen []map[string]string
	p := stagedParams(t, `
- json: {expressions: {level: level, msg: msg}}
- labels: {level: ""}
- drop: {source: level, value: debug}
- output: {source: msg}
`, func(l map[string]string) bool {
		mu.Lock()
		seen = append(seen, maps.Clone(l))
		mu.Unlock()
		l["unit_from_hook"] = l["__journal__systemd_unit"]
		return true
	})
	h := startSource(t, testOptions(js), p)
	got := h.rec.waitLines(t, 2, 10*time.Second)
	if strings.Join(got, ",") != "one,two" {
		t.Fatalf("lines %q, want one,two (the debug entry dropped)", got)
	}
	waitFor(t, 5*time.Second, "a block at the dropped entry's cursor", func() bool {
		rec, _ := h.rec.lastRecord()
		return rec.Position.Cursor == cursorOf(2)
	})
	h.rec.mu.Lock()
	b := h.rec.blocks[0]
	h.rec.mu.Unlock()
	if got, want := fmt.Sprint(b.Entries[0].Labels), "[{hostname h1} {level info} {priority info} {unit app.service} {unit_from_hook app.service}]"; got != want {
		t.Errorf("entry labels %s, want %s (no __ label past the hook)", got, want)
	}
	mu.Lock()
	first := seen[0]
	mu.Unlock()
	// No address field (__CURSOR, ...): go-systemd's GetEntry, Promtail's
	// reader, does not put them among the fields, and a label of each
	// would make every entry its own stream.
	_, cursor := first["__journal___cursor"]
	_, realtime := first["__journal___realtime_timestamp"]
	if first["__journal_message"] != `{"level":"info","msg":"one"}` || first["__journal_priority_keyword"] != "info" ||
		cursor || realtime || first["unit"] != "app.service" {
		t.Errorf("the hook saw %v", first)
	}
	h.src.Close()

	// A restart from the durable position resumes after the dropped entry.
	p2 := stagedParams(t, "[{drop: {expression: debug}}]", nil)
	p2.Cursor = cursorOf(2)
	h2 := startSource(t, testOptions(js), p2)
	waitFor(t, 5*time.Second, "the second run", func() bool { return len(runs(t, dir)) == 2 })
	if r := runs(t, dir)[1]; !strings.Contains(r, "--after-cursor="+cursorOf(2)) {
		t.Fatalf("second run %q: must start after the dropped entry", r)
	}
	h2.src.Close()
}

// TestStagesHeldEntryHoldsCursor: while a multiline stage holds an entry,
// the blocks' cursor stays at the entry before it (journalctl
// --after-cursor yields the held entry again); once max_wait_time
// releases it (journalctl quiet: the source ticks), the cursor moves to
// it.
func TestStagesHeldEntryHoldsCursor(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fixture"), fixture(testEntry(0, "start a"), testEntry(1, "  more"), testEntry(2, "start b")), 0o644)
	js := fakeJournalctl(t, dir, `cat "$(dirname "$0")/fixture"; exec sleep 1000`)
	h := startSource(t, testOptions(js), stagedParams(t, `[{multiline: {firstline: '^start', max_wait_time: 400ms}}]`, nil))
	got := h.rec.waitLines(t, 1, 10*time.Second)
	if got[0] != "start a\n  more" {
		t.Fatalf("first line %q", got[0])
	}
	h.rec.mu.Lock()
	firstPos := h.rec.blocks[0].Position.Cursor
	h.rec.mu.Unlock()
	if firstPos != cursorOf(1) {
		t.Fatalf("block with the first group at cursor %q, want %q (the entry before the held one)", firstPos, cursorOf(1))
	}
	got = h.rec.waitLines(t, 2, 10*time.Second)
	if got[1] != "start b" {
		t.Fatalf("lines %q", got)
	}
	if rec, _ := h.rec.lastRecord(); rec.Position.Cursor != cursorOf(2) {
		t.Fatalf("cursor after the release %q, want %q", rec.Position.Cursor, cursorOf(2))
	}
}
