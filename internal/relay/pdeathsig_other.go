//go:build !linux

package main

import "syscall"

// endWithRelay has no way to follow the relay on this system: GoNB may outlive a killed relay.
func endWithRelay() *syscall.SysProcAttr { return nil }
