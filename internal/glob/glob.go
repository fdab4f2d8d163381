package glob

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bmatcuk/doublestar/v4"
)

// extended reports whether p uses "**" or {a,b}.
func extended(p string) bool {
	return strings.Contains(p, "**") || strings.ContainsAny(p, "{}")
}

// Check reports why p is not a pattern Match and Files accept, nil if it
// is. The message follows the config key it is about.
func Check(p string) error {
	if p == "" {
		return errors.New("must not be empty")
	}
	if !extended(p) {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("is not a valid glob pattern: %q", p)
		}
		return nil
	}
	for _, elem := range strings.Split(p, string(filepath.Separator)) {
		if strings.Contains(elem, "**") && elem != "**" {
			return fmt.Errorf("\"**\" must be a whole path element, as in /var/log/**/*.log (inside one it would mean *), got %q", p)
		}
	}
	if !doublestar.ValidatePathPattern(p) {
		return fmt.Errorf("is not a valid glob pattern: %q", p)
	}
	return nil
}

// Match reports whether name matches the pattern p (checked by Check;
// false if it does not compile).
func Match(p, name string) bool {
	if extended(p) {
		return doublestar.PathMatchUnvalidated(p, name)
	}
	ok, _ := filepath.Match(p, name)
	return ok
}

// Files returns the existing paths that match p (checked by Check), files
// and directories, in the order their walk found them. I/O errors skip
// what they hide, as filepath.Glob does. A "**" walk follows symbolic links
// to directories, but reads each directory under one name only: a link
// back up the tree (or two) ends there instead of being walked again and
// again until the kernel's ELOOP, which with two such links takes
// 2^40 steps.
func Files(p string) []string {
	if !extended(p) {
		m, _ := filepath.Glob(p)
		return m
	}
	base, pattern := doublestar.SplitPattern(filepath.ToSlash(p))
	base = filepath.FromSlash(base)
	fsys := &onceDirs{FS: os.DirFS(base), root: base, names: map[[2]uint64]string{}}
	m, _ := doublestar.Glob(fsys, pattern)
	for i := range m {
		m[i] = filepath.Join(base, filepath.FromSlash(m[i]))
	}
	return m
}

// onceDirs is an fs.FS that lists a directory only under the first name
// it was read by: read under another (through a symbolic link), it is
// empty. doublestar reads one directory several times in one walk, under
// the same name, so that still works.
type onceDirs struct {
	fs.FS
	root  string
	names map[[2]uint64]string // device and inode → the name read
}

// ReadDir implements fs.ReadDirFS.
func (o *onceDirs) ReadDir(name string) ([]fs.DirEntry, error) {
	if fi, err := os.Stat(filepath.Join(o.root, filepath.FromSlash(name))); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			k := [2]uint64{uint64(st.Dev), uint64(st.Ino)} //nolint:unconvert // Dev is uint32 on some platforms
			if first, seen := o.names[k]; seen && first != name {
				return nil, nil
			}
			o.names[k] = name
		}
	}
	return fs.ReadDir(o.FS, name)
}

// HasMeta reports whether p has any character Match treats specially: a
// pattern without one names a single path.
func HasMeta(p string) bool { return strings.ContainsAny(p, `*?[\{`) }

// Base returns the directory that every match of p is in: its leading
// path elements without a special character ("/var/log" for
// /var/log/{a,b}/**/*.log, "." for a relative *.log).
func Base(p string) string {
	dir := filepath.Dir(p)
	for HasMeta(dir) {
		dir = filepath.Dir(dir)
	}
	return dir
}
