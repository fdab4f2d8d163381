package sources

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/logcapturer/logcapturer/wal"
)

// A Mismatch says why a file is no longer the file another shipper
// (Promtail) recorded an offset for; TakeoverPosition returns it. The
// file is then read as one without a position (start_at).
type Mismatch struct {
	Path   string
	Reason string
}

func (m *Mismatch) Error() string { return m.Path + ": " + m.Reason }

// Tails reports whether a source with these options tails path: it
// matches one of the globs (cleaned, as the source cleans them) and none
// of the excludes (base name or full path).
func (c *FileConfig) Tails(path string) bool {
	o := c.options("", nil)
	o.SetDefaults()
	t := &tailer{opts: &o}
	for i, p := range t.opts.Paths {
		t.opts.Paths[i] = filepath.Clean(p)
	}
	return t.wanted(filepath.Clean(path))
}

// TakeoverPosition returns the position at which a source with these
// options resumes path, which another shipper (Promtail) recorded as read
// up to offset, and saved its record of at savedAt (the modification time
// of its positions file). Promtail stores only the path and the offset:
// no inode, no hash of the bytes read. So the file at path is taken to be
// the one Promtail read when
//
//   - it is a regular file at least offset bytes long (else it was
//     truncated or replaced by a shorter one);
//   - offset is 0, or the byte before offset is a newline: Promtail
//     records an offset only after a whole line;
//   - where the file system records a file's birth time, the file was
//     born no later than savedAt: a file created after Promtail last
//     saved its positions cannot be the file it recorded (a rotation
//     that created a new file at the path since).
//
// A file that fails a rule gives a *Mismatch; a file that does not exist
// an error wrapping fs.ErrNotExist; any other error is an I/O error. The
// position's FileID is the one the source computes for the file at that
// offset (device, inode, and the hash of its first
// min(offset, fingerprint_bytes) bytes), so that the source applies it
// as its own. It only reads the file.
func (c *FileConfig) TakeoverPosition(path string, offset int64, savedAt time.Time) (wal.Position, error) {
	fpBytes := int64(c.FingerprintBytes)
	if fpBytes <= 0 {
		fpBytes = DefaultFingerprintBytes
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscallNonblock, 0)
	if err != nil {
		return wal.Position{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return wal.Position{}, fmt.Errorf("stat %s: %w", path, err)
	}
	mismatch := func(format string, args ...any) (wal.Position, error) {
		return wal.Position{}, &Mismatch{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case !fi.Mode().IsRegular():
		return mismatch("not a regular file")
	case fi.Size() < offset:
		return mismatch("%d bytes long, shorter than Promtail's offset %d: truncated or replaced since", fi.Size(), offset)
	}
	if offset > 0 {
		var b [1]byte
		if _, err := f.ReadAt(b[:], offset-1); err != nil && !errors.Is(err, io.EOF) {
			return wal.Position{}, fmt.Errorf("read %s: %w", path, err)
		}
		if b[0] != '\n' {
			return mismatch("the byte before Promtail's offset %d is not the end of a line: not the file Promtail read", offset)
		}
	}
	if born, ok := birthTime(f); ok && born.After(savedAt) {
		return mismatch("created at %s, after Promtail last saved its positions (%s): a new file since (rotated)",
			born.UTC().Format(time.RFC3339Nano), savedAt.UTC().Format(time.RFC3339Nano))
	}
	k, ok := keyOf(fi)
	if !ok {
		return mismatch("the file system gives no inode")
	}
	var scratch []byte
	fp, err := hashPrefix(f, min(offset, fpBytes), &scratch)
	if err != nil {
		return wal.Position{}, fmt.Errorf("read %s: %w", path, err)
	}
	return wal.Position{FileID: fileID(k, fp), Path: path, Offset: offset}, nil
}
