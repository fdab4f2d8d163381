package pipeline

import (
	"errors"
	"testing"

	"github.com/logcapturer/logcapturer/wal"
)

// TestTakeover: a handover's positions are recorded with it in state.db,
// come back from SourcePositions after a restart, and are never recorded
// twice.
func TestTakeover(t *testing.T) {
	dir := t.TempDir()
	p, err := Open(nil, nil, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := p.TakeoverDone("promtail"); err != nil || done {
		t.Fatalf("done %v %v", done, err)
	}
	pos := wal.Position{FileID: "1-2-3-4", Path: "/var/log/a.log", Offset: 42}
	if err := p.Takeover("promtail", "1 file", map[string][]wal.Position{"app": {pos}}); err != nil {
		t.Fatal(err)
	}
	if got := p.SourcePositions("app")["1-2-3-4"]; got != pos {
		t.Errorf("got %+v", got)
	}
	if err := p.Takeover("promtail", "again", nil); !errors.Is(err, ErrTakeoverDone) {
		t.Errorf("second takeover: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p, err = Open(nil, nil, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if done, err := p.TakeoverDone("promtail"); err != nil || !done {
		t.Fatalf("after a restart: done %v %v", done, err)
	}
	if got := p.SourcePositions("app")["1-2-3-4"]; got != pos {
		t.Errorf("after a restart got %+v", got)
	}
}
