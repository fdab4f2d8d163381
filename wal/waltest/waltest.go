package waltest

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

// Call is one fsync that went through an Fsync.
type Call struct {
	Path string
	Info os.FileInfo // the file's identity and size when it was called
	Err  error       // what the call returned
}

// Fsync injects fsync faults and records every call. Pass its Sync method
// as the seam. The zero value fsyncs for real. Safe for concurrent use.
type Fsync struct {
	mu     sync.Mutex
	fail   func(path string) error
	drop   bool
	calls  []Call
	synced map[string]int64
	pinned []*os.File // files whose fsync failed, held open so their inode is not reused
}

// Fail makes every later call for which fail returns an error return that
// error without fsyncing; nil ends the fault.
func (s *Fsync) Fail(fail func(path string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// Drop makes later calls succeed without fsyncing and without recording a
// synced size: a file system that keeps nothing until a power cut proves
// otherwise.
func (s *Fsync) Drop(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = drop
}

// Sync is the seam: it fsyncs f unless a fault or Drop says otherwise, and
// records the call.
func (s *Fsync) Sync(f *os.File) error {
	s.mu.Lock()
	fail, drop := s.fail, s.drop
	s.mu.Unlock()
	info, serr := f.Stat()
	var err error
	if fail != nil {
		err = fail(f.Name())
	}
	if err == nil && !drop {
		err = f.Sync()
	}
	if err == nil && serr != nil {
		err = serr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Path: f.Name(), Info: info, Err: err})
	if err != nil && info != nil && info.Mode().IsRegular() {
		if pin, perr := os.Open(f.Name()); perr == nil {
			s.pinned = append(s.pinned, pin)
		}
	}
	if err == nil && !drop && info != nil && info.Mode().IsRegular() {
		if s.synced == nil {
			s.synced = make(map[string]int64)
		}
		s.synced[f.Name()] = info.Size()
	}
	return err
}

// Synced returns the size path had at its last successful (not dropped)
// fsync.
func (s *Fsync) Synced(path string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.synced[path]
	return n, ok
}

// Calls returns every call so far, in order.
func (s *Fsync) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Failures counts the calls that returned an error.
func (s *Fsync) Failures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Err != nil {
			n++
		}
	}
	return n
}

// RefsyncedAfterFailure returns a call that fsynced a file (the same inode)
// after an fsync of it had failed, or nil: after a failed fsync the kernel
// may have dropped the dirty pages, and a second fsync can report them
// written.
func (s *Fsync) RefsyncedAfterFailure() *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var failed []os.FileInfo
	for i, c := range s.calls {
		if c.Info == nil {
			continue
		}
		for _, f := range failed {
			if os.SameFile(f, c.Info) {
				return &s.calls[i]
			}
		}
		if c.Err != nil && c.Info.Mode().IsRegular() {
			failed = append(failed, c.Info)
		}
	}
	return nil
}

// Close closes the files it holds open since their fsync failed (so that
// RefsyncedAfterFailure cannot mistake a new file for them).
func (s *Fsync) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.pinned {
		f.Close()
	}
	s.pinned = nil
}

// MountTmpfs mounts a tmpfs of the given size (as mount's size= option,
// e.g. "16m") on a temporary directory, unmounted at the end of the test.
// It skips the test where mounting is not possible (it needs root).
func MountTmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a size-limited tmpfs here (needs root and mount(8)): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// Logrotate returns the path of the real logrotate (Debian package
// logrotate, which .ci/run installs), looked up on PATH and in /usr/sbin
// (not on a user's PATH). It skips the test where it is not installed.
func Logrotate(t testing.TB) string {
	t.Helper()
	if bin, err := exec.LookPath("logrotate"); err == nil {
		return bin
	}
	if bin, err := exec.LookPath("/usr/sbin/logrotate"); err == nil {
		return bin
	}
	t.Skip("logrotate is not installed: install it (Debian: apt-get install logrotate; .ci/run does) to run this test")
	return ""
}
