package sources

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// birthTime returns the file's creation time, when the file system
// records it (statx STATX_BTIME: ext4, xfs, btrfs, tmpfs on recent
// kernels).
func birthTime(f *os.File) (time.Time, bool) {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &st); err != nil {
		return time.Time{}, false
	}
	if st.Mask&unix.STATX_BTIME == 0 {
		return time.Time{}, false
	}
	return time.Unix(st.Btime.Sec, int64(st.Btime.Nsec)), true
}
