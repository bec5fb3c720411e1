//go:build unix

package nb

import (
	"os"
	"syscall"
)

// fileOwner returns the user id owning the file of st.
func fileOwner(st os.FileInfo) (int, bool) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid), true
	}
	return 0, false
}
