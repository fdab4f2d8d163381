package sources

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/text/transform"

	"github.com/logcapturer/logcapturer/internal/glob"
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
	// rememberScans is how many scans the position of a file that may
	// come back is kept for: a gone file closed while still linked (a
	// scan may have missed it), a truncated file's head (its copy).
	rememberScans = 3
)

// tailer is the state of a File source's goroutine. Everything in it is
// owned by that goroutine: no locks.
type tailer struct {
	src  *File
	opts *FileOptions
	log  *slog.Logger
	m    *metrics
	w    *fsnotify.Watcher // nil: rescans only
	// kube decides which files a kubernetes source reads (nil otherwise).
	kube *kubeFiles

	// buf is the one read buffer of the source; entries' lines alias it.
	buf     []byte
	entries []wal.Entry
	// asm decodes and groups lines; nil for plain files without multiline,
	// timestamps or stages, which take the fast path (split).
	asm *assembler
	// run runs the pipeline_stages (nil: none; see tailstages.go).
	runner  *StageRunner
	scratch []byte      // fingerprint reads
	labels  []wal.Label // scratch for a block's labels

	files  []*tailedFile           // in opening order: the read order of a round
	byKey  map[fileKey]*tailedFile // open files by device and inode
	byPath map[string]*tailedFile  // open files by their current path
	dirty  []*tailedFile           // files an fsnotify WRITE named since the last round
	work   [2][]*tailedFile        // scratch of readDirty
	idle   map[fileKey]idleFile    // files closed while present, until they change
	stored *storedPositions        // positions not used yet
	// heads are the positions a copy of a file resumes at, by the hash
	// of the file's first FingerprintBytes: those of files truncated
	// lately, and at startup those recovered from the WAL (see copy.go).
	heads map[uint64]headPos
	// closedGone are gone files closed while still linked under some
	// name (renamed out of the globs, or missed by a scan that raced a
	// rename), by the scan that closed them: their position stays in
	// stored for a few scans in case a scan finds them again.
	closedGone map[fileKey]int64

	// unreadable are the matched paths that cannot be opened or stat'ed
	// (other than for being gone), by path: Files reports them, and when
	// nothing else is readable the source reports ConditionUnreadable.
	unreadable map[string]*unreadablePath
	// condOn and condDetail are what was last reported to
	// opts.Conditions for ConditionUnreadable.
	condOn     bool
	condDetail string
	// cuts is the number of chunks split cut off lines longer than
	// MaxLineBytes in its last call.
	cuts int
	// codec converts lines to UTF-8 (the encoding option; nil: none). nl
	// and tr are those of the file being read (see useEncoding); conv
	// holds the converted lines of one split, which entries alias.
	codec *lineCodec
	// clock times the entries that take the read time.
	clock EntryClock
	nl    newline
	tr    transform.Transformer
	conv  []byte

	dirPatterns   []string        // filepath.Dir of each glob, deduplicated
	watched       map[string]bool // directories watched by w
	warned        map[string]string
	watchWarned   map[string]bool
	limitWarned   bool      // max_open_files was reached (logged once)
	now           time.Time // start of the current read round
	scanNo        int64     // number of the current scan
	nextFlush     time.Time // earliest max_wait deadline of a file (zero: none)
	watchErrLog   bool      // an fsnotify error was logged already
	watchLimitLog bool      // a failed directory watch was logged already
	emitFailing   bool      // the last Emit failed (logged once per failure streak)
	// nextStageSweep: the stages are ticked at least this often even when
	// they hold nothing (the runner forgets idle label sets).
	nextStageSweep time.Time
	// stageDue is when the stages are ticked next while they hold entries
	// (zero: not set).
	stageDue time.Time
}

// idleFile is what is known of a file closed while it was still there (by
// close_inactive or max_open_files): it is reopened when its size or
// modification time change.
type idleFile struct {
	size  int64
	mtime time.Time
}

// tailedFile is one open file. Nothing else is kept per file: the read buffer
// is the source's, and an unfinished entry is simply read again.
type tailedFile struct {
	f   *os.File
	key fileKey
	// st is the file's stream in the StageRunner (nil without stages).
	st     *StageStream
	path   string
	labels []wal.Label // sorted: configured, filename, type labels
	offset int64       // next byte to read; always where no entry is under way
	// skip: see streamSkip. Empty unless streams interleave in the file
	// (Docker, CRI) and an entry of one was under way at offset while
	// entries of another that end past offset were emitted.
	skip []streamSkip
	// fp is the fingerprint of the first min(offset, FingerprintBytes)
	// bytes: it checks the file was not truncated and rewritten, and
	// makes the position's FileID.
	fp   fingerprint
	size int64 // at the last stat
	// eof is set when the last read found nothing more to emit, at the
	// round clock eofAt. A gone file is closed only if it had expired at
	// eofAt: that read then flushed its unterminated tail (see expired).
	eof   bool
	eofAt time.Time
	// dirty: an fsnotify WRITE named the file since the last round.
	dirty bool
	// goneAt is when a rescan found that the path no longer leads to this
	// file (deleted or rotated away). The file is read to its end, then
	// closed once it has been gone and still for a PollInterval.
	goneAt time.Time
	// activeAt is when the file was opened or last grew.
	activeAt time.Time
	// waitSince is when an entry under way at the end of the file (a
	// multiline entry, a partial line) started waiting for more, at size
	// waitSize; after max_wait it is emitted as it is.
	waitSince time.Time
	waitSize  int64
	openedIn  int64 // scan number that opened the file
	// fresh: opened at 0 without a stored position; its first read
	// checks whether it is a copy of another file (see checkCopy).
	fresh bool
	// copyOf is the open file this one is a copy of (copytruncate): it
	// is not read while that file is tailed, and resumes at that file's
	// offset when it is truncated, closed or parked (see adopt).
	copyOf *tailedFile
	// announce: the offset was set without reading (a copy resumed at its
	// original's offset); a block with no entries records it in the WAL
	// if no entry does first.
	announce bool
	// readErr is the last stat or read error of the file, since
	// readErrSince; cleared by the next successful read.
	readErr      string
	readErrSince time.Time
	// cutWarned: a line of the file was cut at MaxLineBytes and that was
	// logged (once per file; every cut is counted).
	cutWarned bool
	// nl is how the file's lines end (the encoding option): newlineBOM
	// until a UTF-16 file without a stated byte order has two bytes.
	nl newline
}

// unreadablePath is a matched path that cannot be opened or stat'ed.
type unreadablePath struct {
	err   string
	since time.Time
	size  int64 // at the scan's stat; -1 if unknown
}

func newTailer(f *File, w *fsnotify.Watcher) *tailer {
	t := &tailer{
		src:         f,
		opts:        &f.opts,
		log:         f.log,
		m:           f.metrics,
		w:           w,
		buf:         make([]byte, max(f.opts.BlockBytes, f.opts.MaxLineBytes+readSlack)),
		byKey:       make(map[fileKey]*tailedFile),
		byPath:      make(map[string]*tailedFile),
		idle:        make(map[fileKey]idleFile),
		stored:      newStoredPositions(f.opts.Positions, f.opts.Cursors),
		heads:       storedHeads(f.opts.Positions, f.opts.FingerprintBytes),
		closedGone:  make(map[fileKey]int64),
		unreadable:  make(map[string]*unreadablePath),
		watched:     make(map[string]bool),
		warned:      make(map[string]string),
		watchWarned: make(map[string]bool),
	}
	t.runner = f.run
	t.codec = f.codec
	if f.kube != nil {
		t.kube = newKubeFiles(f.kube, f.opts.Kubernetes.Rules)
	}
	if f.opts.Type != TypeFile || f.multiline != nil || f.stamp != nil || f.run != nil {
		t.asm = newAssembler(&f.opts, f.multiline)
		t.asm.arena = make([]byte, 0, len(t.buf))
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
// then wait for an fsnotify event, the rescan tick, a max_wait deadline,
// or ctx.
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
	flush := time.NewTimer(time.Hour)
	defer flush.Stop()
	// stageTimer runs the stages' Tick every stageTickEvery while they
	// hold entries, and every streamSweepEvery anyway.
	stageTimer := time.NewTimer(time.Hour)
	defer stageTimer.Stop()

	all, read := true, true
	for {
		if read {
			if err := t.readRound(ctx, all); err != nil {
				return
			}
			if len(t.dirty) > 0 {
				// Copies released by files closed at the end of the
				// round (see releaseCopies) resume at once.
				all = false
				continue
			}
		}
		var flushC <-chan time.Time
		if !t.nextFlush.IsZero() {
			flush.Reset(max(time.Until(t.nextFlush), time.Millisecond))
			flushC = flush.C
		}
		var stageC <-chan time.Time
		if t.runner != nil {
			due := t.nextStageSweep
			if t.runner.Holding() {
				if t.stageDue.IsZero() {
					t.stageDue = time.Now().Add(stageTickEvery)
				}
				if t.stageDue.Before(due) {
					due = t.stageDue
				}
			}
			stageTimer.Reset(max(time.Until(due), time.Millisecond))
			stageC = stageTimer.C
		}
		var scan bool
		all = false
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
		case <-t.src.kubeListed:
			scan, read = true, true
		case <-flushC:
			read, all = true, true
		case <-stageC:
			read, t.stageDue = false, time.Time{}
			if !t.nextStageSweep.After(time.Now()) {
				t.nextStageSweep = time.Now().Add(streamSweepEvery)
			}
			if err := t.tickStages(ctx); err != nil {
				return
			}
		}
		if scan {
			t.scan(false)
			all = true
		}
	}
}

// onEvent says whether an fsnotify event calls for a rescan and a read round.
// Events are only wake-ups: what to read is decided by the scan and by
// fstat of the open files. A WRITE marks the file it names for the next
// round, so that a write to one of a thousand files reads one file.
func (t *tailer) onEvent(ev fsnotify.Event) (scan, read bool) {
	ev.Name = filepath.Clean(ev.Name)
	if t.watched[ev.Name] && ev.Has(fsnotify.Remove|fsnotify.Rename) {
		// fsnotify dropped the watch of a removed directory; the rescan
		// adds it again if the directory comes back.
		delete(t.watched, ev.Name)
		return true, true
	}
	if tf := t.byPath[ev.Name]; tf != nil && ev.Op == fsnotify.Write {
		if !tf.dirty {
			tf.dirty = true
			t.dirty = append(t.dirty, tf)
		}
		return false, true
	}
	if t.kube != nil && ev.Op == fsnotify.Write && t.kube.passedOver(ev.Name) {
		// A kubernetes source's file it does not read (yet): the rescan
		// every poll_interval decides again, not each write.
		return false, false
	}
	if t.wanted(ev.Name) {
		// A create, rename, remove or chmod, or a write to a file that
		// is not open (new, idle, or waiting for a descriptor).
		return true, true
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
		if glob.Match(p, path) {
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
		if glob.Match(ex, base) || glob.Match(ex, path) {
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
		if glob.HasMeta(d) && glob.Match(d, path) {
			return true
		}
	}
	return false
}

// readRound reads files until none has more: every open file when all is
// set, else the files WRITE events named and the gone files (a write to a
// file renamed out of the globs names no file we know, and a gone file
// must be read once more before it is closed). Files marked while the
// round runs (copies that resume) are read in it too. Then it closes the
// files that are finished and computes the next max_wait deadline. It
// returns only ctx's error.
func (t *tailer) readRound(ctx context.Context, all bool) error {
	t.now = time.Now()
	work := t.work[0][:0]
	if all {
		work = append(work, t.files...)
	} else {
		work = append(work, t.dirty...)
		for _, tf := range t.files {
			if !tf.goneAt.IsZero() && !tf.dirty {
				work = append(work, tf)
			}
		}
	}
	t.takeDirty()
	next := t.work[1][:0]
	for len(work) > 0 {
		next = next[:0]
		for _, tf := range work {
			if tf.f == nil { // closed since it was queued
				continue
			}
			n, err := t.drain(ctx, tf)
			if err != nil {
				return err
			}
			if n > 0 {
				next = append(next, tf)
			}
		}
		for _, tf := range t.dirty {
			if !slices.Contains(next, tf) {
				next = append(next, tf)
			}
		}
		t.takeDirty()
		work, next = next, work
		t.now = time.Now()
	}
	clear(work[:cap(work)])
	clear(next[:cap(next)])
	t.work[0], t.work[1] = work[:0], next[:0]
	t.sweep()
	t.publishStatus()
	return nil
}

// takeDirty unmarks the files marked for the next round.
func (t *tailer) takeDirty() {
	for _, tf := range t.dirty {
		tf.dirty = false
	}
	clear(t.dirty)
	t.dirty = t.dirty[:0]
}

// markDirty queues tf for the current or next read round.
func (t *tailer) markDirty(tf *tailedFile) {
	if !tf.dirty {
		tf.dirty = true
		t.dirty = append(t.dirty, tf)
	}
}

// sweep closes the files that are gone and read to the end, closes the
// files idle for CloseInactive, and finds the next max_wait deadline.
func (t *tailer) sweep() {
	t.nextFlush = time.Time{}
	wait := t.opts.maxWait()
	kept := t.files[:0]
	for _, tf := range t.files {
		switch {
		case tf.eof && t.stageBusy(tf):
			// The stages hold entries of it, or its block waits for the
			// Emitter: it stays open (a gone file's entries are flushed
			// at its last read, see endStaged).
			if !tf.goneAt.IsZero() {
				t.markDirty(tf)
			}
		case tf.eof && t.expiredAt(tf, tf.eofAt) && t.grewSinceRead(tf):
			// Written to after the read that found its end (the writer
			// still had it open): read it again before it is closed.
			tf.eof = false
			t.markDirty(tf)
		case tf.eof && t.expiredAt(tf, tf.eofAt):
			t.log.Info("closed file: gone and read to the end", "path", tf.path, "file_id", tf.key.String(), "offset", tf.offset)
			t.releaseCopies(tf)
			if linked(tf.f) {
				// Still reachable under some name: renamed out of the
				// globs, or missed by a scan that listed the directory
				// in the middle of a rotation. Should a scan find it
				// again, it resumes here rather than at 0.
				t.stored.add(tf.key, storedPos{fp: tf.fp, hashed: true, offset: tf.offset, cursor: encodeSkips(tf.skip)})
				t.closedGone[tf.key] = t.scanNo
			}
			t.closeFile(tf)
			continue
		case tf.eof && tf.goneAt.IsZero() && t.now.Sub(tf.activeAt) >= t.opts.CloseInactive:
			t.log.Info("closed inactive file; it is reopened when it grows", "path", tf.path,
				"file_id", tf.key.String(), "offset", tf.offset, "inactive", t.now.Sub(tf.activeAt).Round(time.Second))
			t.park(tf)
			continue
		}
		if !tf.waitSince.IsZero() {
			if d := tf.waitSince.Add(wait); t.nextFlush.IsZero() || d.Before(t.nextFlush) {
				t.nextFlush = d
			}
		}
		kept = append(kept, tf)
	}
	clear(t.files[len(kept):])
	t.files = kept
}

// grewSinceRead reports whether tf's file holds more than was read: the
// last look before a gone file is closed.
func (t *tailer) grewSinceRead(tf *tailedFile) bool {
	fi, err := tf.f.Stat()
	return err == nil && fi.Size() > tf.offset
}

// expired reports whether tf had been gone, and had not grown, for a
// PollInterval at the round's clock: long enough for a writer to have
// moved to the new file after a rotation. A read that finds it expired
// emits its unterminated tail as a last line.
func (t *tailer) expired(tf *tailedFile) bool { return t.expiredAt(tf, t.now) }

// expiredAt is expired at the clock now. The close of a gone file uses the
// clock of its last read (eofAt), not the sweep's: the round may have gone
// on reading other files (or waiting in Emit) past the grace period after
// that read, which then did not flush the tail.
func (t *tailer) expiredAt(tf *tailedFile, now time.Time) bool {
	if tf.goneAt.IsZero() {
		return false
	}
	last := tf.goneAt
	if tf.activeAt.After(last) {
		last = tf.activeAt
	}
	return now.Sub(last) >= t.opts.PollInterval
}

// park closes a file that is still there (idle, or to free a descriptor)
// and remembers its position and size: it is reopened when it changes,
// and resumed at its position if its fingerprint still matches.
func (t *tailer) park(tf *tailedFile) {
	t.releaseCopies(tf)
	idle := idleFile{size: -1} // reopened at the next scan
	if fi, err := tf.f.Stat(); err == nil && fi.Size() == tf.size {
		// Unchanged since it was last read: it waits for a change.
		idle = idleFile{size: fi.Size(), mtime: fi.ModTime()}
	}
	t.idle[tf.key] = idle
	t.stored.add(tf.key, storedPos{fp: tf.fp, hashed: true, offset: tf.offset, cursor: encodeSkips(tf.skip)})
	t.closeFile(tf)
}

// closeFile closes tf and forgets it; the caller removes it from t.files.
func (t *tailer) closeFile(tf *tailedFile) {
	if err := tf.f.Close(); err != nil {
		t.log.Debug("close file", "path", tf.path, "err", err)
	}
	tf.f = nil
	delete(t.byKey, tf.key)
	if t.byPath[tf.path] == tf {
		delete(t.byPath, tf.path)
	}
	t.m.filesOpen.Dec()
	if !tf.goneAt.IsZero() {
		t.m.filesDeletedOpen.Dec()
	}
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
