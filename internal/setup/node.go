package setup

import (
	"fmt"
	"io"
	"os"
	"os/exec"
)

// ensureNpm installs Debian's nodejs and npm when npm is missing and apt-get can run (as root or through
// passwordless sudo): JupyterLab's front end is built, and plotly.js installed, with npm. A Node.js that
// is already there (Debian's or NodeSource's) is left alone. When it cannot install, the JupyterLab
// step says what is missing.
func ensureNpm(w io.Writer) {
	if _, err := exec.LookPath("npm"); err == nil {
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return
	}
	var argv []string
	if os.Geteuid() != 0 {
		if exec.Command("sudo", "-n", "true").Run() != nil {
			return
		}
		argv = []string{"sudo", "-n"}
	}
	fmt.Fprintln(w, "… node.js      installing Debian's nodejs and npm (JupyterLab is built with them)")
	argv = append(argv, "sh", "-c", "apt-get update && apt-get install -y --no-install-recommends nodejs npm")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		Step(w, false, "node.js", fmt.Sprintf("apt-get install nodejs npm failed: %v\n%s", err, tail(string(out), 10)))
		return
	}
	Step(w, true, "node.js", "Debian's nodejs and npm installed")
}
