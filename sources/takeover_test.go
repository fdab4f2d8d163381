package sources

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTakeoverPosition checks the rules that tell whether a file is still
// the one Promtail recorded an offset for, and that the position it gives
// is the one the tailer resumes at.
func TestTakeoverPosition(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	os.WriteFile(p, []byte("one\ntwo\nthree\n"), 0o644)
	c := NewFileConfig(TypeFile)
	c.Paths = []string{dir + "/*.log"}
	later := time.Now().Add(time.Hour)

	pos, err := c.TakeoverPosition(p, 8, later)
	if err != nil || pos.Offset != 8 || pos.Path != p {
		t.Fatalf("got %+v, %v", pos, err)
	}
	// The tailer resumes the file at that position.
	f, _ := os.Open(p)
	defer f.Close()
	fi, _ := f.Stat()
	k, _ := keyOf(fi)
	sp := newStoredPositions(map[string]int64{pos.FileID: pos.Offset}, nil)
	var scratch []byte
	if got, m := sp.lookup(f, k, fi.Size(), &scratch); m != matchFound || got.offset != 8 {
		t.Errorf("lookup: %d %v", got.offset, m)
	}

	var mm *Mismatch
	if _, err := c.TakeoverPosition(p, 100, later); !errors.As(err, &mm) {
		t.Errorf("offset past the end: %v", err)
	}
	if _, err := c.TakeoverPosition(p, 6, later); !errors.As(err, &mm) {
		t.Errorf("offset inside a line: %v", err)
	}
	if _, err := c.TakeoverPosition(filepath.Join(dir, "gone.log"), 1, later); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, ok := birthTime(f); ok {
		if _, err := c.TakeoverPosition(p, 8, time.Now().Add(-time.Hour)); !errors.As(err, &mm) {
			t.Errorf("file born after Promtail's last save: %v", err)
		}
	} else {
		t.Log("no birth time on this file system: that rule is not checked")
	}
	if !c.Tails(p) || c.Tails(filepath.Join(dir, "a.txt")) {
		t.Error("Tails")
	}
	c.Exclude = []string{"a.log"}
	if c.Tails(p) {
		t.Error("Tails of an excluded file")
	}
}
