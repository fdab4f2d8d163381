package sources

import (
	"slices"
	"strings"
	"sync"
)

// File states in FileStatus.State.
const (
	FileOpen     = "open"     // open and tailed
	FileIdle     = "idle"     // closed while present (close_inactive, max_open_files); reopened when it changes
	FileDraining = "draining" // its path no longer leads to it (rotated or deleted): read to its end, then closed
)

// FileStatus is where a source stands in one file, as of the end of its
// last read round.
type FileStatus struct {
	Path   string `json:"path"`
	FileID string `json:"file_id"`
	// Offset is the next byte to read: everything before it is in the WAL
	// (or on its way there).
	Offset int64 `json:"offset"`
	// Size is the file's size at the last stat.
	Size int64 `json:"size"`
	// LagBytes is Size - Offset (never negative).
	LagBytes int64  `json:"lag_bytes"`
	State    string `json:"state"`
}

// statusBoard is what a File publishes of its files for Files: the tailer
// goroutine rewrites it at the end of every read round, under mu, reusing
// its slice, so a reader never touches the tailer's own state.
type statusBoard struct {
	mu    sync.Mutex
	files []FileStatus
	prev  map[fileKey]boardFile // last published state of every file, for idle ones
	seen  map[fileKey]bool      // scratch
}

type boardFile struct {
	FileStatus
	fp fingerprint // FileID is formatted again only when it changes
}

// Type returns the source's type: file, docker or cri.
func (f *File) Type() string { return f.opts.Type }

// Files returns the state of every file the source tails or keeps idle,
// sorted by path, as of the end of the last read round. It copies a short
// list under a mutex and never waits for the tailer's I/O. Safe for
// concurrent use.
func (f *File) Files() []FileStatus {
	f.board.mu.Lock()
	out := slices.Clone(f.board.files)
	f.board.mu.Unlock()
	slices.SortFunc(out, func(x, y FileStatus) int {
		if c := strings.Compare(x.Path, y.Path); c != 0 {
			return c
		}
		return strings.Compare(x.FileID, y.FileID)
	})
	return out
}

// publishStatus copies the state of the open and idle files into the
// board. It costs one pass over the files, like sweep. Tailer goroutine
// only.
func (t *tailer) publishStatus() {
	b := &t.src.board
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.prev == nil {
		b.prev = make(map[fileKey]boardFile)
		b.seen = make(map[fileKey]bool)
	}
	b.files = b.files[:0]
	seen := b.seen
	clear(seen)
	for _, tf := range t.files {
		st := FileOpen
		if !tf.goneAt.IsZero() {
			st = FileDraining
		}
		old, ok := b.prev[tf.key]
		id := old.FileID
		if !ok || old.fp != tf.fp {
			id = fileID(tf.key, tf.fp)
		}
		fs := FileStatus{Path: tf.path, FileID: id, Offset: tf.offset, Size: tf.size,
			LagBytes: max(0, tf.size-tf.offset), State: st}
		b.files = append(b.files, fs)
		b.prev[tf.key] = boardFile{fs, tf.fp}
		seen[tf.key] = true
	}
	for k, idle := range t.idle {
		bf, ok := b.prev[k]
		if !ok || seen[k] {
			continue
		}
		fs := bf.FileStatus
		if idle.size >= 0 {
			fs.Size = idle.size
		}
		fs.LagBytes, fs.State = max(0, fs.Size-fs.Offset), FileIdle
		b.files = append(b.files, fs)
		seen[k] = true
	}
	for k := range b.prev {
		if !seen[k] {
			delete(b.prev, k) // closed for good
		}
	}
}
