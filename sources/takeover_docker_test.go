package sources

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTakeoverDocker: Promtail's docker position (the Unix second of the
// last entry sent) resumes a container's json-file log at its first record
// of that second or later, at the start of the partial line that record
// ends, after the last whole line when all are older, and at a record
// still being written or whose time does not parse; a container no docker
// source reads is fs.ErrNotExist.
func TestTakeoverDocker(t *testing.T) {
	lines := []string{
		`{"log":"a\n","stream":"stdout","time":"2026-01-05T10:00:01.5Z"}` + "\n",
		`{"log":"cut ","stream":"stdout","time":"2026-01-05T10:00:01.9Z"}` + "\n",
		`{"log":"by docker\n","stream":"stdout","time":"2026-01-05T10:00:02.1Z"}` + "\n",
		`{"log":"b\n","stream":"stderr","time":"2026-01-05T10:00:03Z"}` + "\n",
	}
	offsetOf := func(i int) int64 { return int64(len(strings.Join(lines[:i], ""))) }
	const id = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	for _, tc := range []struct {
		name  string
		tail  string // appended after lines
		since string
		want  int64
	}{
		{"before every record", "", "2026-01-05T10:00:00Z", 0},
		{"the second of the first record", "", "2026-01-05T10:00:01Z", 0},
		{"inside a partial line: its start", "", "2026-01-05T10:00:02Z", offsetOf(1)},
		{"a whole record", "", "2026-01-05T10:00:03Z", offsetOf(3)},
		{"after every record", "", "2026-01-05T10:00:04Z", offsetOf(4)},
		{"a record still being written", `{"log":"c\n","stream":"stdout","ti`, "2026-01-05T10:00:04Z", offsetOf(4)},
		{"a record whose time does not parse", `{"log":"c\n","stream":"stdout","time":"soon"}` + "\n", "2026-01-05T10:00:04Z", offsetOf(4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "containers", id)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, id+"-json.log")
			if err := os.WriteFile(path, []byte(strings.Join(lines, "")+tc.tail), 0o640); err != nil {
				t.Fatal(err)
			}
			since, err := time.Parse(time.RFC3339, tc.since)
			if err != nil {
				t.Fatal(err)
			}
			c := DockerSourceType().New().(*FileConfig)
			c.Paths = []string{filepath.Join(root, "containers", "*", "*-json.log")}
			pos, err := c.TakeoverDocker(id, since, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if pos.Path != path || pos.Offset != tc.want || pos.FileID == "" {
				t.Fatalf("position %+v, want %s at %d", pos, path, tc.want)
			}
			if _, err := c.TakeoverDocker(strings.Repeat("0", 64), since, time.Now()); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("another container: %v, want fs.ErrNotExist", err)
			}
			f := FileSourceType().New().(*FileConfig)
			f.Paths = c.Paths
			if _, err := f.TakeoverDocker(id, since, time.Now()); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a file source: %v, want fs.ErrNotExist", err)
			}
		})
	}
}
