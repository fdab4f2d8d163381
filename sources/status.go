package sources

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// File states in FileStatus.State.
const (
	FileOpen     = "open"     // open and tailed
	FileIdle     = "idle"     // closed while present (close_inactive, max_open_files); reopened when it changes
	FileDraining = "draining" // its path no longer leads to it (rotated or deleted): read to its end, then closed
	// FileUnreadable: matched, but it cannot be opened (permission denied,
	// say; retried at each rescan), or it is open and its reads fail
	// (retried at each wake-up). Error and Since say why and since when.
	FileUnreadable = "unreadable"
	// FileWaiting (kubernetes sources): matched, not read yet: its pod is
	// not in the pods listed so far (a list made since will tell).
	FileWaiting = "waiting"
	// FileSkipped (kubernetes sources): matched and not read; Error says
	// why (no such pod in the API, its targets dropped by relabel_configs
	// or not covering it, a rotated log from before the start).
	FileSkipped = "skipped"
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
	// Error is why an unreadable file cannot be read (the open, stat or
	// read error), and Since when it first failed; both are empty
	// otherwise. A file that never opened has no FileID and offset 0;
	// its Size is the scan's stat (0 if unknown).
	Error string     `json:"error,omitempty"`
	Since *time.Time `json:"since,omitempty"`
	// Cursor is the position of a source that reads by cursor (journald:
	// the journal cursor of the last entry handed to the WAL; Offset is
	// then 0), and CursorTime that entry's time (UTC). Empty for files.
	Cursor     string     `json:"cursor,omitempty"`
	CursorTime *time.Time `json:"cursor_time,omitempty"`
}

// ConnStatus is one open connection of a listening source (a syslog
// source's TCP or unix stream clients), as the status shows it.
type ConnStatus struct {
	// Remote is the peer's address ("local" for a unix socket peer).
	Remote string `json:"remote"`
	// Since is when the connection was accepted (UTC).
	Since time.Time `json:"since"`
	// Entries is how many of its messages were handed on towards the
	// WAL; Bytes how many bytes were read from it.
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
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

// Type returns the source's type: file, docker, cri or kubernetes.
func (f *File) Type() string {
	if f.opts.Kubernetes != nil {
		return TypeKubernetes
	}
	return f.opts.Type
}

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

// publishStatus copies the state of the open, idle and unreadable files
// into the board, then reports ConditionUnreadable if it changed. It costs
// one pass over the files, like sweep. Tailer goroutine only.
func (t *tailer) publishStatus() {
	on, detail := t.fillBoard()
	if t.opts.Conditions == nil || (on == t.condOn && detail == t.condDetail) {
		return
	}
	t.condOn, t.condDetail = on, detail
	t.opts.Conditions.SetSourceCondition(t.opts.Name, ConditionUnreadable, on, detail)
}

// fillBoard rewrites the board, sets logcapturer_source_lag_bytes to the
// sum of its files' LagBytes, and says whether the source has files and
// every one is unreadable, with a detail naming the first.
func (t *tailer) fillBoard() (allUnreadable bool, detail string) {
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
		if tf.readErr != "" {
			since := tf.readErrSince.UTC()
			fs.State, fs.Error, fs.Since = FileUnreadable, tf.readErr, &since
		}
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
		fs.Error, fs.Since = "", nil
		b.files = append(b.files, fs)
		seen[k] = true
	}
	for k := range b.prev {
		if !seen[k] {
			delete(b.prev, k) // closed for good
		}
	}
	for p, u := range t.unreadable {
		since := u.since.UTC()
		b.files = append(b.files, FileStatus{Path: p, Size: max(0, u.size), State: FileUnreadable, Error: u.err, Since: &since})
	}
	if t.kube != nil {
		b.files = t.kube.appendStatus(b.files, t.byPath)
	}
	var lag int64
	for i := range b.files {
		lag += b.files[i].LagBytes
	}
	t.m.lagBytes.Set(float64(lag))
	var first *FileStatus
	for i := range b.files {
		f := &b.files[i]
		if f.State == FileWaiting || f.State == FileSkipped {
			continue
		}
		if f.State != FileUnreadable {
			return false, ""
		}
		if first == nil || f.Path < first.Path {
			first = f
		}
	}
	if first == nil {
		return false, ""
	}
	return true, fmt.Sprintf("%d matched file(s), none readable: %s", len(b.files), first.Error)
}
