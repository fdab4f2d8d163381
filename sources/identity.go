package sources

import (
	"fmt"
	"io/fs"
	"syscall"
)

// syscallNonblock is O_NONBLOCK, used when opening files (see openRegular).
const syscallNonblock = syscall.O_NONBLOCK

// fileIdentity returns the stable identity of a file, the key of stored
// positions. For now it is the device and inode, "dev-ino" in hex. It is the
// only place that knows what an identity is: a content fingerprint (which
// survives copies and detects inode reuse) replaces it here.
//
// ok is false when fi carries no inode (not a Unix file system).
func fileIdentity(fi fs.FileInfo) (id string, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%x-%x", st.Dev, st.Ino), true
}
