package config

import "os"

// checkDataDir creates dir if it is missing (mode 0o750, parents too) and
// checks that a file can be created in it and removed again.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".logcapturer-write-check-*")
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
