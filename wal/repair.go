package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Segment files are named as tidwall/wal names them: the first index, as 20
// decimal digits. A crash in the middle of a tidwall TruncateFront or
// TruncateBack leaves a NAME.START or NAME.END file, which tidwall's Open
// resolves; anything else (.broken, .TEMP) is ignored by tidwall and by us.
const (
	segmentNameLen = 20
	startSuffix    = ".START"
	endSuffix      = ".END"
	brokenSuffix   = ".broken"
	filePerm       = 0o640
	dirPerm        = 0o750
)

func segmentName(index uint64) string { return fmt.Sprintf("%020d", index) }

type segmentKind int

const (
	plainSegment segmentKind = iota
	startSegment
	endSegment
)

// parseSegmentName reports whether tidwall's load() takes name as a segment
// file, with the same test it uses.
func parseSegmentName(name string) (index uint64, kind segmentKind, ok bool) {
	if len(name) < segmentNameLen {
		return 0, 0, false
	}
	index, err := strconv.ParseUint(name[:segmentNameLen], 10, 64)
	if err != nil || index == 0 {
		return 0, 0, false
	}
	switch {
	case len(name) == segmentNameLen:
		return index, plainSegment, true
	case len(name) == segmentNameLen+len(startSuffix) && strings.HasSuffix(name, startSuffix):
		return index, startSegment, true
	case len(name) == segmentNameLen+len(endSuffix) && strings.HasSuffix(name, endSuffix):
		return index, endSegment, true
	}
	return 0, 0, false
}

// tailSegment returns the name of the file that tidwall's Open will use as
// its tail segment, or "" when there is none (a new log) or when tidwall will
// refuse the directory anyway (a START and an END leftover together).
//
// tidwall lists the directory in name order. A START leftover makes it
// delete every segment before the START file and rename it: the tail is
// still the last file listed. An END leftover makes it delete every segment
// after the first END file and rename it: that END file is the tail.
func tailSegment(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var last, end string
	var start bool
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		_, kind, ok := parseSegmentName(e.Name())
		if !ok {
			continue
		}
		switch kind {
		case startSegment:
			start = true
		case endSegment:
			if end == "" {
				end = e.Name()
			}
		}
		last = e.Name()
	}
	if end != "" {
		if start {
			return "", nil
		}
		return end, nil
	}
	return last, nil
}

// validPrefix returns the length of the longest prefix of a segment's
// bytes, whose first record is record index rec, made of whole, good
// records (see scanRecords): uvarint(len) + len bytes, len > 0, the head
// and every block passing their checksums, the blocks contiguous. A record
// that is empty, runs past the end, or fails a checksum ends the prefix.
func validPrefix(data []byte, rec uint64) int {
	off, _, _ := scanRecords(data, rec, math.MaxUint64)
	return off
}

// repairTail cuts the tail segment at its last good record, before tidwall
// sees it: tidwall refuses a torn last record (ErrCorrupt) and reads zeros
// as empty entries. The cut bytes are kept in a .broken file, unless own
// (they are this process's own half-written append, see Reopen) or the
// file cannot be written (a full disk: the cut goes ahead, with a warning).
// The caller fsyncs the tail afterwards. Older segments are not scanned;
// Read finds damage there.
func (l *Log) repairTail(own bool) error {
	name, err := tailSegment(l.dir)
	if err != nil || name == "" {
		return err
	}
	path := filepath.Join(l.dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rec, _, _ := parseSegmentName(name)
	cut := validPrefix(data, rec)
	if cut == len(data) {
		return nil
	}
	if own {
		if err := truncateFile(path, int64(cut)); err != nil {
			return fmt.Errorf("cut a failed append off %s: %w", path, err)
		}
		l.logger.Debug("wal: cut a failed append off the tail", "segment", path, "offset", cut, "bytes", len(data)-cut)
		return nil
	}
	// The bytes are saved before the segment is cut: a crash in between
	// repeats the repair on the next Open (into the next .broken file).
	broken, err := l.writeBroken(filepath.Join(l.dir, name[:segmentNameLen]), data[cut:])
	if err != nil {
		l.logger.Warn("wal: cannot keep the bytes cut off the tail in a .broken file; cutting them anyway",
			"segment", path, "err", err)
		broken = ""
	} else if err := l.syncDir(); err != nil {
		return fmt.Errorf("save torn tail of %s: %w", path, err)
	}
	if err := truncateFile(path, int64(cut)); err != nil {
		return fmt.Errorf("cut torn tail of %s: %w", path, err)
	}
	l.logger.Warn("wal: cut a torn or damaged tail off the last segment",
		"segment", path, "offset", cut, "bytes", len(data)-cut, "saved_to", broken)
	l.m.repairs.Inc()
	l.m.repairedBytes.Add(float64(len(data) - cut))
	return nil
}

// writeBroken writes b to the first of base.broken, base.broken.1, … that
// does not exist yet, fsyncs it and returns its path. On error it removes
// what it created.
func (l *Log) writeBroken(base string, b []byte) (string, error) {
	for i := 0; i < 10000; i++ {
		path := base + brokenSuffix
		if i > 0 {
			path += "." + strconv.Itoa(i)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(b)
		if err == nil {
			err = l.sync(f)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(path)
		}
		return path, err
	}
	return "", fmt.Errorf("too many %s files next to %s", brokenSuffix, base)
}

// truncateFile truncates path to size without fsyncing it: the caller
// (open) fsyncs the tail it repaired, before anything is durable.
func truncateFile(path string, size int64) error {
	return os.Truncate(path, size)
}

// syncDir fsyncs the log's directory, making the creation, removal and
// renaming of its files durable.
func (l *Log) syncDir() error { return syncDir(l.dir, l.sync) }

// SyncDir fsyncs dir, making the creation, removal and renaming of its
// files durable.
func SyncDir(dir string) error { return syncDir(dir, (*os.File).Sync) }

// SyncDirWith is SyncDir with the fsync done by sync (a test seam, as
// Options.Fsync); nil means (*os.File).Sync.
func SyncDirWith(dir string, sync func(*os.File) error) error {
	if sync == nil {
		sync = (*os.File).Sync
	}
	return syncDir(dir, sync)
}

func syncDir(dir string, sync func(*os.File) error) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to fsync it: %w", dir, err)
	}
	err = sync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
