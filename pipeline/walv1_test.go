package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/logcapturer/logcapturer/wal"
)

// TestDeliversVersion1WAL opens a data directory whose WAL was written by
// the release with block format version 1 (wal/testdata/v1) and checks
// that a sink gets every entry of it, in order and byte for byte, and that
// the sources' positions are recovered from its blocks.
func TestDeliversVersion1WAL(t *testing.T) {
	fixture := filepath.Join("..", "wal", "testdata", "v1")
	var blocks []wal.Block
	js, err := os.ReadFile(filepath.Join(fixture, "blocks.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &blocks); err != nil {
		t.Fatal(err)
	}
	var want []string
	positions := map[string]map[string]int64{}
	for _, b := range blocks {
		for _, e := range b.Entries {
			want = append(want, string(e.Line))
		}
		if positions[b.Source] == nil {
			positions[b.Source] = map[string]int64{}
		}
		positions[b.Source][b.Position.FileID] = b.Position.Offset
	}

	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "wal"), os.DirFS(filepath.Join(fixture, "wal"))); err != nil {
		t.Fatal(err)
	}
	a := &memSink{name: "a"}
	p := openTest(t, dir, nil, Options{}, a)
	waitFor(t, "every fixture entry at the sink", func() bool { return len(a.lines()) >= len(want) })
	for src, want := range positions {
		if got := p.Positions(src); !equalPositions(got, want) {
			t.Errorf("positions of %s: %v, want %v", src, got, want)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := a.lines(); !slices.Equal(got, want) {
		t.Fatalf("delivered\n%q\nwant\n%q", got, want)
	}
}

func equalPositions(got map[string]int64, want map[string]int64) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
