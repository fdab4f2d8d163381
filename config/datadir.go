package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkDataDir checks that dir is, or can be created as, a writable
// directory, and leaves nothing behind: it finds dir or its nearest
// existing ancestor, which must be a directory, and creates and removes a
// file there (a read-only filesystem, missing permission or a full inode
// table fail here as they would in run). run creates the directory; check
// does not.
func checkDataDir(dir string) error {
	return CheckWritableDir(dir)
}

// CheckWritableDir is checkDataDir for any directory a component will write
// in (a file sink's directory): it has no side effects.
func CheckWritableDir(dir string) error {
	p := filepath.Clean(dir)
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", p)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return err
		}
		p = parent
	}
	f, err := os.CreateTemp(p, ".logcapturer-write-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	err = f.Close()
	if rmErr := os.Remove(name); err == nil {
		err = rmErr
	}
	return err
}
