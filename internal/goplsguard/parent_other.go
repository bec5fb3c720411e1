//go:build !linux

package main

// endWithParent has no way to follow the parent on this system: gopls may outlive a killed kernel.
func endWithParent() error { return nil }
