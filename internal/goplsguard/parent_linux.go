package main

import (
	"errors"
	"os"
	"syscall"
)

// endWithParent has the kernel send SIGKILL to this process (and, after exec, to gopls) when its
// parent dies. It fails if the parent died already.
func endWithParent() error {
	parent := os.Getppid()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		return errno
	}
	if os.Getppid() != parent {
		return errors.New("the kernel that started gopls has ended")
	}
	return nil
}
