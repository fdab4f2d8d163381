package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
)

// tempSuffix names the file cutBack writes before renaming it over a
// segment; tidwall and parseSegmentName ignore it, and a leftover from a
// crash is overwritten by the next cut.
const tempSuffix = ".TEMP"

// Reopen makes a failed log usable again (Err returns nil afterwards) and
// is how every failure heals:
//
//   - After a failed write (a full disk), the bytes after the last whole
//     record are this Log's own unsynced data: they are truncated in place,
//     with no .broken copy and no warning, which needs no free space. Whole
//     records of the failed batch that reached the file stay; LastIndex
//     says how far the log goes.
//   - After a failed fsync (Sync's, tidwall's at the end of a segment, or
//     Open's), every record after DurableIndex is of unknown state and the
//     file must not be fsynced again: the segment holding DurableIndex+1 is
//     rewritten into a new file holding only its records up to
//     DurableIndex (temp file, fsync, rename, directory fsync), and the
//     segments after it are deleted. LastIndex becomes DurableIndex. This
//     needs free space for that segment's durable prefix.
//
// Either way the log is then opened like Open does (repair, fsync of the
// tail and the directory), so every record it holds is durable afterwards:
// DurableIndex = LastIndex. The caller re-appends the records after
// LastIndex that it still holds, under the same indexes.
//
// If it fails (the disk is still full, the fsync fails again), the log
// stays failed and Reopen may be called again later; it never closes the
// log. On a healthy log it closes and reopens tidwall. Safe for concurrent
// use; it blocks Append, Read, Sync and TruncateFront meanwhile; Readers
// reposition by themselves. Returns ErrClosed (wrapped) after Close.
func (l *Log) Reopen() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("reopen wal %s: %w", l.dir, ErrClosed)
	}
	own := l.failed != nil
	if l.tw != nil {
		if own {
			// tidwall's Close fsyncs its tail first; after a failed write
			// or fsync that file is not to be fsynced again. Drop it: the
			// garbage collector closes its descriptor.
			l.tw = nil
		} else {
			_ = l.tw.Close() // reopened below; the files are what counts
			l.tw = nil
		}
	}
	l.closeSyncFile()
	l.batch.Clear()
	if l.untrusted {
		if err := l.cutBack(l.durable.Load()); err != nil {
			l.failed = err
			return fmt.Errorf("reopen wal %s: %w", l.dir, err)
		}
		l.untrusted = false
	}
	if err := l.open(own); err != nil {
		l.failed = err
		return fmt.Errorf("reopen wal %s: %w", l.dir, err)
	}
	return nil
}

// isWriteError reports whether a tidwall write error is a failed write(2)
// or open(2) of a segment (a full disk), which leaves only our own
// half-written bytes. Anything else, above all tidwall's fsync of a
// finished segment, is treated as a failed fsync.
func isWriteError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && (pe.Op == "write" || pe.Op == "open")
}

// cutBack removes every record whose blocks are after index keep from
// the files, without fsyncing any file that exists: the segment holding
// keep+1 is rewritten into a new file with its records up to keep
// (checked against their CRCs), and every later segment is deleted. It
// fails, changing nothing that was durable, if those records do not read
// back whole: that is damage to fsynced data. keep is a durable index, so
// it ends a record. Called with both locks held and tidwall dropped.
func (l *Log) cutBack(keep uint64) error {
	files, err := listSegments(l.dir)
	if err != nil {
		return fmt.Errorf("cut wal back to index %d: %w", keep, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("cut wal back to index %d: no segment files", keep)
	}
	// The segment to cut is the last whose first record starts at or
	// before keep+1 (a segment starting at keep+1 is emptied).
	j := len(files) - 1
	var segFirst uint64
	for ; j >= 0; j-- {
		first, _, n, err := l.walkSegment(files[j].FirstIndex, false)
		if err == nil && n > 0 && first <= keep+1 {
			segFirst = first
			break
		}
		if j == 0 {
			segFirst = files[0].FirstIndex // nothing readable: cut it all
			break
		}
	}
	j = max(j, 0)
	seg := files[j]
	path := l.segmentPath(seg.FirstIndex)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cut wal back to index %d: %w", keep, err)
	}
	off, nrec, next := scanRecords(data, seg.FirstIndex, keep)
	if nrec == 0 {
		next = segFirst
	}
	if next < keep+1 && keep+1 > segFirst {
		return fmt.Errorf("cut wal back to index %d: %s holds good records up to index %d only: fsynced records are damaged",
			keep, path, next-1)
	}
	tmp := path + tempSuffix
	if err := l.writeFile(tmp, data[:off]); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("cut wal back to index %d: %w", keep, err)
	}
	// Later segments go first (newest first), so a crash in between leaves
	// a contiguous log that the next Open repairs and trusts as usual.
	for i := len(files) - 1; i > j; i-- {
		if err := os.Remove(l.segmentPath(files[i].FirstIndex)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			_ = os.Remove(tmp)
			return fmt.Errorf("cut wal back to index %d: %w", keep, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("cut wal back to index %d: %w", keep, err)
	}
	if err := l.syncDir(); err != nil {
		return fmt.Errorf("cut wal back to index %d: %w", keep, err)
	}
	// Keep the segment list true to the files until open loads it again.
	files = files[:j+1]
	files[j].Size = int64(off)
	var size int64
	for _, s := range files {
		size += s.Size
	}
	segs := make([]segment, len(files))
	for i, f := range files {
		segs[i] = segment{rec: f.FirstIndex, size: f.Size, first: segFirst}
		if i < j {
			segs[i].first, _, _, _ = l.walkSegment(f.FirstIndex, false)
		}
	}
	l.segs = segs
	l.lastRec = seg.FirstIndex + nrec - 1
	l.first.Store(segs[0].first)
	l.last.Store(next - 1)
	l.size.Store(size)
	l.nsegs.Store(int64(len(segs)))
	l.publishSegments(false)
	l.logger.Debug("wal: cut back to the durable index after a failed fsync",
		"segment", path, "kept_records", nrec, "durable_index", keep)
	return nil
}

// writeFile creates (or truncates) path, writes b and fsyncs it.
func (l *Log) writeFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = l.sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// listSegments lists the plain segment files in dir, in index order.
func listSegments(dir string) ([]SegmentInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []SegmentInfo
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		index, kind, ok := parseSegmentName(e.Name())
		if !ok || kind != plainSegment {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		segs = append(segs, SegmentInfo{FirstIndex: index, Size: info.Size()})
	}
	slices.SortFunc(segs, func(a, b SegmentInfo) int {
		switch {
		case a.FirstIndex < b.FirstIndex:
			return -1
		case a.FirstIndex > b.FirstIndex:
			return 1
		}
		return 0
	})
	return segs, nil
}
