package sources

// Copies (copytruncate): a file first read from its beginning whose first
// FingerprintBytes hash like the head of a file tailed now (then it waits
// for that file: copyOf), of a file truncated lately, or of a position
// recovered at startup (heads) resumes at that file's offset instead. See
// the package documentation, # Copies.

import "time"

// headPos is where a copy of a file with a given head resumes.
type headPos struct {
	offset int64
	path   string // of the original, for logs
	scan   int64  // the scan number when it was noted; it expires after rememberScans scans
}

// storedHeads indexes the recovered positions whose fingerprint covers
// fpBytes bytes by their hash, keeping the furthest offset of each.
func storedHeads(m map[string]int64, fpBytes int) map[uint64]headPos {
	heads := make(map[uint64]headPos)
	for id, off := range m {
		_, fp, hashed, ok := parseFileID(id)
		if !ok || !hashed || fp.n != int64(fpBytes) || off < fp.n {
			continue
		}
		if h, ok := heads[fp.hash]; !ok || off > h.offset {
			heads[fp.hash] = headPos{offset: off}
		}
	}
	return heads
}

// expireHeads forgets the heads noted more than rememberScans scans ago: a
// copy is created before the truncation, so the scan after the truncation
// was seen finds it at the latest (max_open_files aside).
func (t *tailer) expireHeads() {
	for h, p := range t.heads {
		if t.scanNo-p.scan > rememberScans {
			delete(t.heads, h)
		}
	}
}

// noteTruncated remembers where a copy of tf, about to be read again from
// its beginning, resumes, and resumes the copies of it already open. It
// returns the paths of those.
func (t *tailer) noteTruncated(tf *tailedFile) []string {
	if tf.fp.n == int64(t.opts.FingerprintBytes) {
		if len(t.heads) >= t.opts.MaxOpenFiles {
			t.expireOldestHead()
		}
		t.heads[tf.fp.hash] = headPos{offset: tf.offset, path: tf.path, scan: t.scanNo}
	}
	return t.releaseCopies(tf)
}

// expireOldestHead makes room in heads (bounded by MaxOpenFiles).
func (t *tailer) expireOldestHead() {
	var oldest uint64
	first := true
	for h, p := range t.heads {
		if first || p.scan < t.heads[oldest].scan {
			oldest, first = h, false
		}
	}
	delete(t.heads, oldest)
}

// checkCopy is the first read of a fresh file of the given size: it finds
// out whether the file is a copy of another (see the top of this file).
func (t *tailer) checkCopy(tf *tailedFile, size int64) {
	tf.fresh = false
	n := int64(t.opts.FingerprintBytes)
	if size < n {
		return
	}
	fp, err := hashPrefix(tf.f, n, &t.scratch)
	if err != nil {
		return
	}
	for _, o := range t.files {
		if o != tf && o.f != nil && o.copyOf == nil && o.fp == fp {
			tf.copyOf = o
			t.m.copies.Inc()
			t.log.Debug("file is a copy of a tailed file (copytruncate); it resumes where that file is when that file is truncated or closed",
				"path", tf.path, "file_id", tf.key.String(), "copy_of", o.path)
			return
		}
	}
	if h, ok := t.heads[fp.hash]; ok {
		delete(t.heads, fp.hash)
		t.m.copies.Inc()
		t.adopt(tf, h.offset, h.path, nil)
	}
}

// releaseCopies is called when tf stops being tailed as it is (truncated,
// closed, parked): the copies of tf resume at its offset, and if tf is a
// copy itself it takes its original's offset first. It returns the paths
// of the copies of tf it resumed.
func (t *tailer) releaseCopies(tf *tailedFile) []string {
	if o := tf.copyOf; o != nil {
		t.adopt(tf, o.offset, o.path, o.skip)
	}
	var resumed []string
	for _, c := range t.files { // sweep may be compacting t.files: skip closed ones
		if c.copyOf == tf && c.f != nil {
			t.adopt(c, tf.offset, tf.path, tf.skip)
			resumed = append(resumed, c.path)
		}
	}
	return resumed
}

// adopt resumes the copy tf at offset (capped by its size), with the skips
// of the file it copies, and queues it for reading; the position is
// recorded by the next block, or by a block without entries if nothing
// follows.
func (t *tailer) adopt(tf *tailedFile, offset int64, from string, skip []streamSkip) {
	tf.copyOf = nil
	if fi, err := tf.f.Stat(); err == nil {
		tf.size = fi.Size()
	}
	offset = min(offset, tf.size)
	fp, err := hashPrefix(tf.f, min(offset, int64(t.opts.FingerprintBytes)), &t.scratch)
	if err != nil {
		// Unreadable now: read it from 0 rather than guess.
		offset, fp = 0, fingerprint{}
	}
	tf.offset, tf.fp, tf.waitSince = offset, fp, time.Time{}
	tf.skip = nil
	if offset > 0 {
		tf.skip = skipAfter(skip, 0, nil, offset) // without what a capped offset passed
	}
	tf.announce = offset > 0
	// Debug: the truncation that goes with it is the rotation's one line.
	t.log.Debug("copy of a file (copytruncate) resumes at that file's offset",
		"path", tf.path, "file_id", tf.key.String(), "copy_of", from, "offset", offset, "size", tf.size)
	t.markDirty(tf)
}
