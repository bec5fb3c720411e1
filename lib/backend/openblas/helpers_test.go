package openblas

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// runChild reruns this test binary's TestMissingLibrary with $LOSSLAB_OPENBLAS set (Load runs once per process).
func runChild(t *testing.T, lib string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingLibrary$")
	cmd.Env = append(os.Environ(), "LOSSLAB_BLAS_CHILD=1", LibraryEnv+"="+lib)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return strings.TrimSpace(strings.Split(string(out), "\n")[0])
}
