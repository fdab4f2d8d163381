package sources

import (
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// syscallNonblock is O_NONBLOCK, used when opening files (see openRegular).
const syscallNonblock = syscall.O_NONBLOCK

// fileKey is a file's device and inode: what identifies an open file while
// it is open (an inode cannot be reused while a descriptor holds it).
type fileKey struct{ dev, ino uint64 }

// String returns "dev-ino" in hex: the prefix of every FileID of the file,
// and the whole FileID written before fingerprints existed.
func (k fileKey) String() string {
	return strconv.FormatUint(k.dev, 16) + "-" + strconv.FormatUint(k.ino, 16)
}

// keyOf returns the device and inode of fi. ok is false when fi carries no
// inode (not a Unix file system).
func keyOf(fi fs.FileInfo) (k fileKey, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true //nolint:unconvert // Dev is uint32 on some platforms
}

// linked reports whether the open file f still has a name (a link count
// above zero): it was renamed rather than deleted. When that cannot be
// told, it reports true.
func linked(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || st.Nlink > 0
}

// crcTable is the fingerprint hash's table (CRC-64/ECMA); it is never
// written after initialisation.
var crcTable = crc64.MakeTable(crc64.ECMA)

// fingerprint is a hash of a file's first n bytes.
type fingerprint struct {
	n    int64
	hash uint64
}

// fileID formats the FileID of a position: "dev-ino-n-hash" in hex, where
// hash is the CRC-64 of the file's first n bytes and n is min(offset,
// FingerprintBytes). The FileID so names the bytes before the offset, not
// only the inode: on restart a position is applied to a file only if that
// file still starts with the bytes that were read (see storedPositions).
func fileID(k fileKey, fp fingerprint) string {
	var b strings.Builder
	b.Grow(48)
	b.WriteString(k.String())
	b.WriteByte('-')
	b.WriteString(strconv.FormatInt(fp.n, 16))
	b.WriteByte('-')
	b.WriteString(strconv.FormatUint(fp.hash, 16))
	return b.String()
}

// parseFileID parses a FileID. hashed is false for the legacy "dev-ino"
// form, which carries no fingerprint.
func parseFileID(id string) (k fileKey, fp fingerprint, hashed, ok bool) {
	parts := strings.Split(id, "-")
	if len(parts) != 2 && len(parts) != 4 {
		return fileKey{}, fingerprint{}, false, false
	}
	var err error
	if k.dev, err = strconv.ParseUint(parts[0], 16, 64); err != nil {
		return fileKey{}, fingerprint{}, false, false
	}
	if k.ino, err = strconv.ParseUint(parts[1], 16, 64); err != nil {
		return fileKey{}, fingerprint{}, false, false
	}
	if len(parts) == 2 {
		return k, fingerprint{}, false, true
	}
	n, err := strconv.ParseInt(parts[2], 16, 64)
	if err != nil || n < 0 {
		return fileKey{}, fingerprint{}, false, false
	}
	h, err := strconv.ParseUint(parts[3], 16, 64)
	if err != nil {
		return fileKey{}, fingerprint{}, false, false
	}
	return k, fingerprint{n: n, hash: h}, true, true
}

// errShort is returned by hashPrefix when the file holds fewer bytes than
// asked for (it was truncated).
var errShort = errors.New("file is shorter than the fingerprint")

// hashPrefix returns the fingerprint of the first n bytes of r, reading
// them with ReadAt into scratch (grown as needed; n is at most
// FingerprintBytes).
func hashPrefix(r io.ReaderAt, n int64, scratch *[]byte) (fingerprint, error) {
	if n == 0 {
		return fingerprint{}, nil
	}
	if int64(cap(*scratch)) < n {
		*scratch = make([]byte, n)
	}
	b := (*scratch)[:n]
	got, err := r.ReadAt(b, 0)
	if int64(got) < n {
		if err == nil || errors.Is(err, io.EOF) {
			return fingerprint{}, errShort
		}
		return fingerprint{}, fmt.Errorf("read fingerprint: %w", err)
	}
	return fingerprint{n: n, hash: crc64.Checksum(b, crcTable)}, nil
}

// SameFileKey returns the part of a FileID that names the file itself, its
// device and inode ("dev-ino"), whatever fingerprint the FileID carries:
// the FileIDs of one file, as its fingerprint grew, share it. ok is false
// for a string that is not a file FileID.
func SameFileKey(fileID string) (key string, ok bool) {
	k, _, _, ok := parseFileID(fileID)
	if !ok {
		return "", false
	}
	return k.String(), true
}

// FileFinder tells whether the file a FileID names still exists, by
// identity (device and inode), not by name: at the path it was last read
// under, or under another name in that path's directory (a file renamed by
// rotation: app.log -> app.log.1). It lists each directory once. It is not
// safe for concurrent use; make one per pass.
type FileFinder struct {
	dirs map[string]map[fileKey]bool
}

// NewFileFinder returns an empty FileFinder.
func NewFileFinder() *FileFinder {
	return &FileFinder{dirs: make(map[string]map[fileKey]bool)}
}

// Exists reports whether a file with fileID's device and inode is at path
// or in path's directory. A FileID it cannot parse is reported as
// existing (nothing is known to be gone), and so is every file of a
// directory it cannot list for another reason than its absence.
func (f *FileFinder) Exists(path, fileID string) bool {
	k, _, _, ok := parseFileID(fileID)
	if !ok {
		return true
	}
	if fi, err := os.Lstat(path); err == nil {
		if pk, ok := keyOf(fi); ok && pk == k {
			return true
		}
	}
	dir := filepath.Dir(path)
	keys, listed := f.dirs[dir]
	if !listed {
		var err error
		if keys, err = dirKeys(dir); err != nil {
			keys = nil // unknown: keep what it holds
		}
		f.dirs[dir] = keys
	}
	if keys == nil {
		return true
	}
	return keys[k]
}

// dirKeys returns the device and inode of every entry of dir. A missing
// directory has none; any other failure to list it is an error.
func dirKeys(dir string) (map[fileKey]bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return map[fileKey]bool{}, nil
		}
		return nil, err
	}
	keys := make(map[fileKey]bool, len(ents))
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // removed since the listing
		}
		if k, ok := keyOf(fi); ok {
			keys[k] = true
		}
	}
	return keys, nil
}
