package sources

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/logcapturer/logcapturer/internal/glob"
	"github.com/logcapturer/logcapturer/wal"
)

// match is one file found by a scan.
type match struct {
	path string
	key  fileKey
	fi   fs.FileInfo
	// labels, when set, are the file's labels (a kubernetes source's
	// decision); else fileLabels makes them.
	labels []wal.Label
}

// scan expands the globs, watches their directories, opens the files that
// appeared or changed and marks gone the open files whose path no longer
// leads to them. At startup (the first scan) it warns once per glob that
// matches nothing, and files opened then without a stored position follow
// StartAt.
func (t *tailer) scan(startup bool) {
	defer t.src.scans.Add(1)
	t.scanNo++
	t.watchDirs()

	matched := make(map[string]struct{})
	for _, p := range t.opts.Paths {
		ms := glob.Files(p) // patterns were validated by NewFile
		if startup && len(ms) == 0 {
			_, err := os.Stat(glob.Base(p))
			t.log.Warn("glob matches no file yet; files are picked up when they appear",
				"glob", p, "dir", glob.Base(p), "dir_exists", err == nil)
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
	var found []match
	pathOf := make(map[fileKey]string, len(paths))
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.openFailed(p, "stat", err, -1)
			continue
		}
		if !fi.Mode().IsRegular() {
			t.warnOnce(p, "irregular", "not a regular file; skipped", "mode", fi.Mode().Type().String())
			continue
		}
		k, ok := keyOf(fi)
		if !ok {
			t.warnOnce(p, "identity", "file has no inode; skipped")
			continue
		}
		if _, dup := pathOf[k]; dup {
			continue
		}
		pathOf[k] = p
		found = append(found, match{path: p, key: k, fi: fi})
	}

	now := time.Now()
	for _, tf := range t.files {
		p, ok := pathOf[tf.key]
		switch {
		case ok && p != tf.path:
			t.log.Info("file renamed; still reading it", "path", p, "old_path", tf.path, "file_id", tf.key.String())
			if t.byPath[tf.path] == tf {
				delete(t.byPath, tf.path)
			}
			tf.path = p
			t.byPath[p] = tf
			if t.kube == nil {
				tf.labels = t.fileLabels(p)
			}
			t.back(tf)
		case ok:
			t.back(tf)
		case tf.goneAt.IsZero():
			t.log.Debug("file gone; reading it to the end", "path", tf.path, "file_id", tf.key.String())
			tf.goneAt = now
			t.m.filesDeletedOpen.Inc()
		}
	}
	// Paths that now lead to a file not open take over from a gone one.
	for _, m := range found {
		if tf := t.byPath[m.path]; tf != nil && tf.key != m.key {
			delete(t.byPath, m.path)
		}
	}
	// Gone files closed while still linked somewhere are forgotten once
	// several scans did not find them; found again, they resume at their
	// position (openFile).
	for k, closedIn := range t.closedGone {
		if _, ok := pathOf[k]; ok {
			delete(t.closedGone, k)
		} else if t.scanNo-closedIn > rememberScans {
			delete(t.closedGone, k)
			delete(t.stored.byKey, k)
		}
	}
	t.expireHeads()
	// Idle files that vanished are forgotten.
	for k := range t.idle {
		if _, ok := pathOf[k]; !ok {
			delete(t.idle, k)
			delete(t.stored.byKey, k)
		}
	}
	opened := make(map[string]int) // by where reading starts: the startup summary
	for _, m := range found {
		if t.byKey[m.key] != nil {
			continue
		}
		fileStartup := startup
		if t.kube != nil {
			_, stored := t.stored.byKey[m.key]
			lbls, tail, atStartup := t.kube.decide(t, m, stored, startup)
			if !tail {
				continue
			}
			m.labels, fileStartup = lbls, atStartup
		}
		if idle, ok := t.idle[m.key]; ok {
			if idle.size == m.fi.Size() && idle.mtime.Equal(m.fi.ModTime()) {
				continue
			}
			delete(t.idle, m.key)
		}
		if len(t.files) >= t.opts.MaxOpenFiles && !t.evict() {
			t.m.error(reasonOpenLimit)
			if !t.limitWarned {
				t.limitWarned = true
				t.log.Warn("max_open_files reached: files wait for a descriptor (further waits are only counted)",
					"max_open_files", t.opts.MaxOpenFiles, "path", m.path)
			}
			break
		}
		if from := t.openFile(m, fileStartup); from != "" {
			opened[from]++
		}
	}
	if t.kube != nil {
		t.kube.forget(matched)
	}
	// Forget the warnings of paths that went away, so that they warn again
	// if they come back, and the paths that could not be opened.
	for p := range t.warned {
		if _, ok := matched[p]; !ok {
			delete(t.warned, p)
		}
	}
	for p := range t.unreadable {
		if _, ok := matched[p]; !ok {
			delete(t.unreadable, p)
		}
	}
	if startup {
		// One line for the startup, whatever the number of files; each
		// file's own line is at Debug.
		t.log.Info("tailing files", "files", len(t.files), "from_stored_position", opened[fromStored],
			"from_beginning", opened[fromBeginning], "from_end", opened[fromEnd], "unreadable", len(t.unreadable),
			"globs", len(t.opts.Paths))
	}
}

// Where openFile starts reading a file.
const (
	fromStored    = "stored position"
	fromBeginning = "beginning"
	fromEnd       = "end"
)

// back notes that tf's path leads to it again.
func (t *tailer) back(tf *tailedFile) {
	if !tf.goneAt.IsZero() {
		tf.goneAt = time.Time{}
		t.m.filesDeletedOpen.Dec()
	}
	if t.byPath[tf.path] == nil {
		t.byPath[tf.path] = tf
	}
}

// evict frees a descriptor for a file waiting for one: it parks the open
// file, still present and read to its end, that has been idle the longest
// and was not opened by this scan. It reports whether it found one.
func (t *tailer) evict() bool {
	var victim *tailedFile
	for _, tf := range t.files {
		if !tf.eof || tf.dirty || !tf.goneAt.IsZero() || tf.openedIn == t.scanNo || !tf.waitSince.IsZero() || t.stageBusy(tf) {
			continue
		}
		if victim == nil || tf.activeAt.Before(victim.activeAt) {
			victim = tf
		}
	}
	if victim == nil {
		return false
	}
	t.log.Debug("closed file to free a descriptor (max_open_files)", "path", victim.path, "offset", victim.offset)
	t.park(victim)
	t.files = slices.DeleteFunc(t.files, func(tf *tailedFile) bool { return tf == victim })
	return true
}

// openFile opens the match and adds it to the tailed files, at its stored
// position if there is one whose fingerprint matches, else at its end if
// this is the startup scan and StartAt is "end", else at 0. It returns
// where it started reading (fromStored, fromBeginning, fromEnd), or ""
// when the file was not opened.
func (t *tailer) openFile(m match, startup bool) string {
	path := m.path
	fh, err := t.src.open(path)
	if err != nil {
		t.openFailed(path, "open", err, m.fi.Size())
		return ""
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		t.openFailed(path, "stat", err, m.fi.Size())
		return ""
	}
	k, ok := keyOf(fi)
	if !fi.Mode().IsRegular() || !ok || t.byKey[k] != nil {
		// Replaced between the scan's stat and the open: the next scan
		// sees what is there now.
		fh.Close()
		return ""
	}
	delete(t.warned, path)
	delete(t.idle, k)
	if u := t.unreadable[path]; u != nil {
		delete(t.unreadable, path)
		t.log.Info("file is readable again; tailing it", "path", path, "file_id", k.String(),
			"unreadable_for", time.Since(u.since).Round(time.Millisecond).String())
	}

	size := fi.Size()
	var offset int64
	var skip []streamSkip
	from := fromBeginning
	fresh := true // read from 0: it may be a copy of a file tailed now or lately
	switch pos, res := t.stored.lookup(fh, k, size, &t.scratch); res {
	case matchFound:
		offset, from, fresh = pos.offset, fromStored, false
		skip = decodeSkips(pos.cursor, offset)
	case matchMismatch:
		// The file was tailed before, but no longer starts with the
		// bytes that were read, or is shorter: truncated and perhaps
		// rewritten while it was closed, or a new file on a reused inode.
		t.m.error(reasonPosition)
		t.log.Warn("stored position does not match the file (truncated, rewritten or a reused inode); reading it from the beginning",
			"path", path, "file_id", k.String(), "size", size)
	default:
		if startup && t.opts.StartAt == StartAtEnd {
			offset, from, fresh = size, fromEnd, false
		}
	}
	nl := newlineByte // the byte order of UTF-16: see useEncoding
	if t.codec != nil {
		nl = t.codec.nl
		if t.codec.wide() && offset%2 == 1 {
			// UTF-16 lines start at even offsets. An odd stored one
			// is Promtail's (taken over), which splits UTF-16LE on
			// the byte '\n' and so stops before the newline's second
			// byte: the line starts after it. An odd end (start_at:
			// end) is a character being written: it starts there.
			if from == fromStored && offset < size {
				offset++
			} else {
				offset--
			}
		}
	}
	n := min(offset, int64(t.opts.FingerprintBytes))
	fp, err := hashPrefix(fh, n, &t.scratch)
	if err != nil {
		offset, fp, skip = 0, fingerprint{}, nil
	}
	labels := m.labels
	if labels == nil {
		labels = t.fileLabels(path)
	}
	tf := &tailedFile{f: fh, key: k, path: path, labels: labels, offset: offset, skip: skip, fp: fp,
		size: size, activeAt: time.Now(), openedIn: t.scanNo, fresh: fresh && offset == 0, nl: nl}
	if t.runner != nil {
		tf.st = t.runner.NewStream(tf.labels, wal.Position{Offset: offset}, tf)
	}
	t.files = append(t.files, tf)
	t.byKey[k] = tf
	t.byPath[path] = tf
	t.m.filesOpen.Inc()
	t.log.Debug("tailing file", "path", path, "file_id", k.String(), "offset", offset, "from", from)
	return from
}

// fileLabels returns the sorted stream labels of the file at path.
func (t *tailer) fileLabels(path string) []wal.Label {
	labels := append(make([]wal.Label, 0, len(t.src.labels)+4), t.src.labels...)
	if t.opts.promtailDocker() {
		labels = append(labels, dockerMetaLabels(path)...)
		sort.Slice(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name })
		return labels
	}
	labels = append(labels, wal.Label{Name: filenameLabel, Value: path})
	switch t.opts.Type {
	case TypeDocker:
		labels = append(labels, dockerLabels(path)...)
	case TypeCRI:
		labels = append(labels, criLabels(path)...)
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name })
	return labels
}

// openFailed handles a failed stat or open of a matched path: a vanished
// file is ignored (the next scan decides), anything else is warned about
// once per path, counted and recorded as unreadable (with size, if known,
// else -1) until the path opens or is no longer matched; the path is
// retried at each rescan.
func (t *tailer) openFailed(path, op string, err error, size int64) {
	if errors.Is(err, fs.ErrNotExist) {
		delete(t.unreadable, path)
		return
	}
	if u := t.unreadable[path]; u != nil {
		u.err, u.size = err.Error(), size
	} else {
		t.unreadable[path] = &unreadablePath{err: err.Error(), since: time.Now(), size: size}
	}
	switch {
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
// A failure (the inotify watch limit) is logged once per directory and
// counted.
func (t *tailer) watchDirs() {
	if t.w == nil {
		return
	}
	for _, dp := range t.dirPatterns {
		dirs := []string{dp}
		if glob.HasMeta(dp) {
			dirs = glob.Files(dp)
		}
		for _, d := range dirs {
			if t.watched[d] {
				continue
			}
			if glob.HasMeta(dp) {
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
				if !t.watchLimitLog {
					// Usually the inotify watch limit: logged once, counted
					// for every directory.
					t.watchLimitLog = true
					t.log.Warn("cannot watch directory; its files are seen at each rescan only (further directories are only counted)",
						"dir", d, "err", err)
				}
			}
		}
	}
}
