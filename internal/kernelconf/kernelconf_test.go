// Package kernelconf runs Jupyter's kernel conformance suite (jupyter_kernel_test) and the kernel
// survival tests (conformance.py) against the installed `losslab` kernel.
package kernelconf

import (
	"os/exec"
	"testing"

	"github.com/losslab/losslab/internal/nbcheck"
)

func TestKernelConformanceAndSurvival(t *testing.T) {
	if err := nbcheck.KernelInstalled("losslab"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nbcheck.Python, "-m", "unittest", "-v", "conformance")
	cmd.Env = append(cmd.Environ(), "PYDEVD_DISABLE_FILE_VALIDATION=1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("conformance/survival suite failed: %v", err)
	}
}
