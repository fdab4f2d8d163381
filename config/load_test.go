package config_test

import (
	"errors"
	. "github.com/logcapturer/logcapturer/config"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes minimal with data_dir set to dataDir and returns its
// path.
func writeConfig(t *testing.T, dataDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "logcapturer.yaml")
	src := "data_dir: " + dataDir + minimal
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadLeavesNoTrace: checking a config (logcapturer check runs as
// systemd's ExecStartPre) creates nothing: a missing data_dir is probed
// through its nearest existing ancestor, and run creates it.
func TestLoadLeavesNoTrace(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "a", "b")
	c, err := Load(writeConfig(t, dir), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != dir {
		t.Errorf("DataDir = %q, want %q", c.DataDir, dir)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "c.yaml" {
			t.Errorf("Load left %s in %s", e.Name(), parent)
		}
	}
}

func TestLoadKeepsRelativeDataDir(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load(writeConfig(t, "./data"), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./data" {
		t.Errorf("DataDir = %q, want it as written", c.DataDir)
	}
	if _, err := os.Stat("data"); err == nil {
		t.Error("Load created ./data in the working directory")
	}
}

func TestLoadDataDirNotWritable(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, msg string
	}{
		{"under a regular file", filepath.Join(file, "data"), "not a directory"},
		{"is a regular file", file, "not a directory"},
	}
	if fi, err := os.Stat("/proc/self"); err == nil && fi.IsDir() {
		tests = append(tests, struct{ name, dir, msg string }{"in /proc", "/proc/self/logcapturer-data", "/proc/self/.logcapturer-write-check-"})
	}
	if os.Geteuid() != 0 { // root may write anywhere
		ro := filepath.Join(tmp, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct{ name, dir, msg string }{"read-only", ro, "permission denied"})
	}
	if os.Geteuid() == 0 {
		rofs := filepath.Join(tmp, "rofs")
		os.Mkdir(rofs, 0o755)
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", rofs).CombinedOutput(); err == nil {
			t.Cleanup(func() { exec.Command("umount", rofs).Run() })
			tests = append(tests, struct{ name, dir, msg string }{"read-only filesystem", filepath.Join(rofs, "data"), "read-only file system"})
		} else {
			t.Logf("no read-only filesystem case: mount: %v %s", err, out)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.dir), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes})
			ps := problemsOf(t, err)
			if len(ps) != 1 {
				t.Fatalf("got %v, want one problem", err)
			}
			p := ps[0]
			if p.Line != 1 || p.Key != "data_dir" ||
				!strings.HasPrefix(p.Msg, tt.dir+" is not writable: ") ||
				!strings.Contains(p.Msg, tt.msg) ||
				!strings.HasSuffix(p.Msg, "; choose a writable directory") {
				t.Errorf("got %q", p)
			}
		})
	}
}

func TestDataDirCheckOnlyWhenValid(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	_, err := Parse("t.yaml", []byte("data_dir: "+dir+"\nwal: {sync: x}\n"+minimal), sinkTypes)
	if err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("data_dir was created for an invalid config (stat: %v)", err)
	}
}

func TestSkipDirCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := ParseWith("t.yaml", []byte("data_dir: "+dir+minimal), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes, SkipDirCheck: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SkipDirCheck created data_dir (stat: %v)", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error = %v, want fs.ErrNotExist", err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Errorf("a read error is an *Error: %v", err)
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("wal: {sync: x}\n"+minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes})
	if err == nil || err.Error() != path+`:1: wal.sync: must be batch, interval or none, got "x"` {
		t.Errorf("error = %v", err)
	}
}
