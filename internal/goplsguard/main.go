// Command goplsguard starts gopls so that it ends with the kernel that started it. GoNB stops its gopls
// when it shuts down cleanly, but a kernel that is killed (Jupyter's forced shutdown or restart, a
// killed notebook run) left its gopls running, reparented to pid 1, 70–300 MB each. The kernelspec puts
// this program first on GoNB's PATH under the name gopls: it asks Linux to kill it when its parent
// (GoNB) dies, then replaces itself with the real gopls, which keeps that request.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

func main() {
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	// The guard is <bin>/guard/gopls; the real gopls is <bin>/gopls.
	real := filepath.Join(filepath.Dir(filepath.Dir(self)), "gopls")
	if err := endWithParent(); err != nil {
		fail(err)
	}
	if err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), os.Environ()); err != nil {
		fail(fmt.Errorf("starting %s: %w", real, err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "goplsguard:", err)
	os.Exit(1)
}
