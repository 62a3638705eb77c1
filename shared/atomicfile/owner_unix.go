//go:build unix

package atomicfile

import (
	"io/fs"
	"os"
	"syscall"
)

// keepOwner gives f the owner and group of the file st describes, where
// this process may (root may give any; others only a group they are in):
// os.Create over an existing file keeps them, a rename over it would not.
// Where it may not, f stays this process's, as a copy it wrote would.
func keepOwner(f *os.File, st fs.FileInfo) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || (int(sys.Uid) == os.Getuid() && int(sys.Gid) == os.Getgid()) {
		return
	}
	if f.Chown(int(sys.Uid), int(sys.Gid)) != nil {
		_ = f.Chown(-1, int(sys.Gid))
	}
}
