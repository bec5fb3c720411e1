//go:build unix

package train

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// lockRun takes the lock of the run folder dir (its file lockFile): exclusive to save or tidy, shared
// to list or load. The lock goes with the process: a killed saver holds it no more. A reader of a
// folder it cannot write, where the lock file cannot be created, reads without it (nobody can be
// saving there either). With wait false, an exclusive lock held by another is errWouldBlock.
func lockRun(dir string, exclusive, wait bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		if !exclusive {
			return func() {}, nil
		}
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errWouldBlock
		}
		return nil, err
	}
	return func() { _ = f.Close() }, nil // Closing the file releases the lock.
}
