package sources

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/logcapturer/logcapturer/wal"
)

const (
	// maxRoundBytes caps what one file may yield per round, so that one hot
	// file cannot starve the others.
	maxRoundBytes = 4 << 20
	// maxEventDrain caps the fsnotify events merged into one wake-up.
	maxEventDrain = 4096
	// maxBlockEntries caps the entries of a block (a read full of empty
	// lines), which bounds the entries slice kept by the source.
	maxBlockEntries = 16 << 10
	// readSlack is added to the read buffer so that a line of exactly
	// MaxLineBytes and its newline always fit in one read.
	readSlack = 4 << 10
)

// tailer is the state of a File source's goroutine. Everything in it is
// owned by that goroutine: no locks.
type tailer struct {
	src  *File
	opts *FileOptions
	log  *slog.Logger
	m    *metrics
	w    *fsnotify.Watcher // nil: rescans only

	// buf is the one read buffer of the source; entries' lines alias it.
	buf     []byte
	entries []wal.Entry
	// labels are the source's sorted labels; labels[fnSlot] is rewritten
	// with the path of each block's file.
	labels     []wal.Label
	fnSlot     int
	labelBytes int // encoded size bound of labels without the filename value

	files []*tailedFile          // in opening order: the read order of a round
	byID  map[string]*tailedFile // open files by identity
	// positions are the stored positions not used yet; an entry is deleted
	// when its file is opened, so a reused inode does not pick it up again.
	positions map[string]int64

	dirPatterns []string        // filepath.Dir of each glob, deduplicated
	watched     map[string]bool // directories watched by w
	warned      map[string]string
	watchWarned map[string]bool
	now         time.Time // start of the current read round
	watchErrLog bool      // an fsnotify error was logged already
	emitFailing bool      // the last Emit failed (logged once per failure streak)
}

// tailedFile is one open file. Nothing else is kept per file: the read buffer
// is the source's, and an incomplete last line is simply read again.
type tailedFile struct {
	f      *os.File
	id     string
	path   string
	offset int64 // next byte to read; always at a line start (or chunk cut)
	// eof is set when the last read found no complete line left.
	eof bool
	// goneAt is when a rescan found that the path no longer leads to this
	// file (deleted or rotated away). The file is read to its end, then
	// closed once it has been gone for a PollInterval.
	goneAt time.Time
}

func newTailer(f *File, w *fsnotify.Watcher) *tailer {
	t := &tailer{
		src:         f,
		opts:        &f.opts,
		log:         f.log,
		m:           f.metrics,
		w:           w,
		buf:         make([]byte, max(f.opts.BlockBytes, f.opts.MaxLineBytes+readSlack)),
		labels:      append([]wal.Label(nil), f.labels...),
		fnSlot:      f.fnSlot,
		byID:        make(map[string]*tailedFile),
		positions:   f.opts.Positions,
		watched:     make(map[string]bool),
		warned:      make(map[string]string),
		watchWarned: make(map[string]bool),
	}
	for _, l := range t.labels {
		t.labelBytes += len(l.Name) + len(l.Value) + 2*maxVarintLen
	}
	seen := make(map[string]bool)
	for _, p := range f.opts.Paths {
		d := filepath.Dir(p)
		if !seen[d] {
			seen[d] = true
			t.dirPatterns = append(t.dirPatterns, d)
		}
	}
	return t
}

// run is the source's goroutine: read every file until no file has more,
// then wait for an fsnotify event, the rescan tick, or ctx.
func (t *tailer) run(ctx context.Context) {
	defer t.shutdown()
	t.scan(true)

	var events <-chan fsnotify.Event
	var errs <-chan error
	if t.w != nil {
		events, errs = t.w.Events, t.w.Errors
	}
	tick := time.NewTicker(t.opts.PollInterval)
	defer tick.Stop()

	read := true
	for {
		if read {
			if err := t.readAll(ctx); err != nil {
				return
			}
		}
		var scan bool
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events, read = nil, false
				continue
			}
			scan, read = t.onEvent(ev)
		drain:
			for range maxEventDrain {
				select {
				case ev, ok := <-events:
					if !ok {
						events = nil
						break drain
					}
					s, r := t.onEvent(ev)
					scan, read = scan || s, read || r
				default:
					break drain
				}
			}
		case err, ok := <-errs:
			if !ok {
				errs, read = nil, false
				continue
			}
			t.onWatchError(err)
			scan, read = true, true
		case <-tick.C:
			scan, read = true, true
		}
		if scan {
			t.scan(false)
		}
	}
}

// onEvent says whether an fsnotify event calls for a rescan and a read round.
// Events are only wake-ups: what to read is decided by the scan and by
// fstat of the open files.
func (t *tailer) onEvent(ev fsnotify.Event) (scan, read bool) {
	ev.Name = filepath.Clean(ev.Name)
	if t.watched[ev.Name] && ev.Has(fsnotify.Remove|fsnotify.Rename) {
		// fsnotify dropped the watch of a removed directory; the rescan
		// adds it again if the directory comes back.
		delete(t.watched, ev.Name)
		return true, true
	}
	if t.wanted(ev.Name) {
		if ev.Has(fsnotify.Create | fsnotify.Remove | fsnotify.Rename | fsnotify.Chmod) {
			return true, true
		}
		return false, ev.Has(fsnotify.Write)
	}
	if ev.Has(fsnotify.Create) && t.isWatchableDir(ev.Name) {
		return true, true
	}
	return false, false
}

// onWatchError logs the first fsnotify error of the source and counts all
// of them. After an overflow events were lost: the caller rescans and reads.
func (t *tailer) onWatchError(err error) {
	t.m.error(reasonWatch)
	if t.watchErrLog {
		return
	}
	t.watchErrLog = true
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		t.log.Warn("file watcher queue overflowed; rescanning (further watcher errors are only counted)", "err", err)
		return
	}
	t.log.Warn("file watcher error (further watcher errors are only counted)", "err", err)
}

// wanted reports whether path matches one of the globs and none of the
// excludes.
func (t *tailer) wanted(path string) bool {
	for _, p := range t.opts.Paths {
		if ok, _ := filepath.Match(p, path); ok {
			return !t.excluded(path)
		}
	}
	return false
}

// excluded matches the exclude globs against path and its base name.
func (t *tailer) excluded(path string) bool {
	if len(t.opts.Exclude) == 0 {
		return false
	}
	base := filepath.Base(path)
	for _, ex := range t.opts.Exclude {
		if ok, _ := filepath.Match(ex, base); ok {
			return true
		}
		if ok, _ := filepath.Match(ex, path); ok {
			return true
		}
	}
	return false
}

// isWatchableDir reports whether path matches the directory part of a glob
// that has wildcards in it (e.g. a new pod directory for
// /var/log/pods/*/*.log).
func (t *tailer) isWatchableDir(path string) bool {
	for _, d := range t.dirPatterns {
		if hasMeta(d) {
			if ok, _ := filepath.Match(d, path); ok {
				return true
			}
		}
	}
	return false
}

func hasMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }

// readAll runs read rounds until a round finds no new data in any file. It
// returns only ctx's error.
func (t *tailer) readAll(ctx context.Context) error {
	for {
		t.now = time.Now()
		progress := false
		for _, tf := range t.files {
			n, err := t.drain(ctx, tf)
			if err != nil {
				return err
			}
			if n > 0 {
				progress = true
			}
		}
		t.closeFinished()
		if !progress {
			return nil
		}
	}
}

// closeFinished closes the files that are gone, read to the end, and past
// their grace period.
func (t *tailer) closeFinished() {
	kept := t.files[:0]
	for _, tf := range t.files {
		if tf.eof && t.expired(tf) {
			t.log.Info("closed file: gone and read to the end", "path", tf.path, "file_id", tf.id, "offset", tf.offset)
			t.closeFile(tf)
			continue
		}
		kept = append(kept, tf)
	}
	clear(t.files[len(kept):])
	t.files = kept
}

// expired reports whether tf had been gone for a PollInterval at the start
// of the round: long enough for a writer to have moved to the new file after
// a rotation. The round's clock is used for both the final read and the
// close, so a file is never closed between them.
func (t *tailer) expired(tf *tailedFile) bool {
	return !tf.goneAt.IsZero() && t.now.Sub(tf.goneAt) >= t.opts.PollInterval
}

func (t *tailer) closeFile(tf *tailedFile) {
	if err := tf.f.Close(); err != nil {
		t.log.Debug("close file", "path", tf.path, "err", err)
	}
	delete(t.byID, tf.id)
	t.m.filesOpen.Dec()
}

// shutdown closes the watcher (waiting for its goroutine) and every file.
func (t *tailer) shutdown() {
	if t.w != nil {
		if err := t.w.Close(); err != nil {
			t.log.Debug("close file watcher", "err", err)
		}
	}
	for _, tf := range t.files {
		t.closeFile(tf)
	}
	t.files = nil
}
