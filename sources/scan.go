package sources

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// scan expands the globs, watches their directories, opens the files that
// appeared and marks gone the open files whose path no longer leads to them.
// At startup (the first scan) it warns once per glob that matches nothing,
// and files opened then without a stored position follow StartAt.
func (t *tailer) scan(startup bool) {
	defer t.src.scans.Add(1)
	t.watchDirs()

	matched := make(map[string]struct{})
	for _, p := range t.opts.Paths {
		ms, _ := filepath.Glob(p) // patterns were validated by NewFile
		if startup && len(ms) == 0 {
			_, err := os.Stat(filepath.Dir(p))
			t.log.Warn("glob matches no file yet; files are picked up when they appear",
				"glob", p, "dir_exists", err == nil)
		}
		for _, m := range ms {
			if !t.excluded(m) {
				matched[m] = struct{}{}
			}
		}
	}
	paths := make([]string, 0, len(matched))
	for p := range matched {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	// Identify every match. A file reachable by two names (hard link,
	// symlink) is tailed once, under the first name in sorted order.
	type match struct{ path, id string }
	var found []match
	pathOf := make(map[string]string, len(paths))
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.openFailed(p, "stat", err)
			continue
		}
		if !fi.Mode().IsRegular() {
			t.warnOnce(p, "irregular", "not a regular file; skipped", "mode", fi.Mode().Type().String())
			continue
		}
		id, ok := fileIdentity(fi)
		if !ok {
			t.warnOnce(p, "identity", "file has no inode; skipped")
			continue
		}
		if _, dup := pathOf[id]; dup {
			continue
		}
		pathOf[id] = p
		found = append(found, match{p, id})
	}

	now := time.Now()
	for _, tf := range t.files {
		p, ok := pathOf[tf.id]
		switch {
		case ok && p != tf.path:
			t.log.Info("file renamed; still reading it", "path", p, "old_path", tf.path, "file_id", tf.id)
			tf.path, tf.goneAt = p, time.Time{}
		case ok:
			tf.goneAt = time.Time{}
		case tf.goneAt.IsZero():
			t.log.Debug("file gone; reading it to the end", "path", tf.path, "file_id", tf.id)
			tf.goneAt = now
		}
	}
	for _, m := range found {
		if t.byID[m.id] == nil {
			t.openFile(m.path, startup)
		}
	}
	// Forget the warnings of paths that went away, so that they warn again
	// if they come back.
	for p := range t.warned {
		if _, ok := matched[p]; !ok {
			delete(t.warned, p)
		}
	}
}

// openFile opens path and adds it to the tailed files, at its stored
// position if there is one, else at its end if this is the startup scan and
// StartAt is "end", else at 0.
func (t *tailer) openFile(path string, startup bool) {
	fh, err := t.src.open(path)
	if err != nil {
		t.openFailed(path, "open", err)
		return
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		t.openFailed(path, "stat", err)
		return
	}
	id, ok := fileIdentity(fi)
	if !fi.Mode().IsRegular() || !ok || t.byID[id] != nil {
		// Replaced between the scan's stat and the open: the next scan
		// sees what is there now.
		fh.Close()
		return
	}
	delete(t.warned, path)

	size := fi.Size()
	var offset int64
	from := "beginning"
	if pos, ok := t.positions[id]; ok {
		delete(t.positions, id)
		if pos < 0 || pos > size {
			t.m.error(reasonPosition)
			t.log.Warn("stored position is past the end of the file; reading it from the beginning",
				"path", path, "file_id", id, "position", pos, "size", size)
			pos = 0
		}
		offset, from = pos, "stored position"
	} else if startup && t.opts.StartAt == StartAtEnd {
		offset, from = size, "end"
	}
	tf := &tailedFile{f: fh, id: id, path: path, offset: offset}
	t.files = append(t.files, tf)
	t.byID[id] = tf
	t.m.filesOpen.Inc()
	t.log.Info("tailing file", "path", path, "file_id", id, "offset", offset, "from", from)
}

// openFailed handles a failed stat or open of a matched path: a vanished
// file is ignored (the next scan decides), anything else is warned about
// once per path and counted; the path is retried at each rescan.
func (t *tailer) openFailed(path, op string, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, fs.ErrPermission):
		if t.warnOnce(path, reasonPermission, "permission denied; retrying at each rescan", "op", op, "err", err) {
			t.m.error(reasonPermission)
		}
	default:
		if t.warnOnce(path, reasonOpen, "cannot open file; retrying at each rescan", "op", op, "err", err) {
			t.m.error(reasonOpen)
		}
	}
}

// warnOnce logs msg at Warn for path unless the last warning for path was of
// the same kind. It reports whether it logged.
func (t *tailer) warnOnce(path, kind, msg string, args ...any) bool {
	if t.warned[path] == kind {
		return false
	}
	t.warned[path] = kind
	t.log.Warn(msg, append([]any{"path", path}, args...)...)
	return true
}

// watchDirs adds an fsnotify watch on every existing directory of the
// globs not watched yet. A missing directory is retried at the next scan.
func (t *tailer) watchDirs() {
	if t.w == nil {
		return
	}
	for _, dp := range t.dirPatterns {
		dirs := []string{dp}
		if hasMeta(dp) {
			dirs, _ = filepath.Glob(dp)
		}
		for _, d := range dirs {
			if t.watched[d] {
				continue
			}
			if hasMeta(dp) {
				if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
					continue
				}
			}
			err := t.w.Add(d)
			switch {
			case err == nil:
				t.watched[d] = true
				delete(t.watchWarned, d)
			case errors.Is(err, fs.ErrNotExist):
			case !t.watchWarned[d]:
				t.watchWarned[d] = true
				t.m.error(reasonWatch)
				t.log.Warn("cannot watch directory; its files are seen at each rescan only",
					"dir", d, "err", err)
			}
		}
	}
}
