package main

import "syscall"

// endWithRelay has Linux kill GoNB when the relay dies, so that a killed kernel leaves no GoNB (and,
// through internal/goplsguard, no gopls) behind.
func endWithRelay() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
