package nb

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoTestingImport: package nb, which every notebook cell links, must not pull in package testing
// (it did, through Progress's test-mode check).
func TestNoTestingImport(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags=noxla", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "testing" {
			t.Fatal("lib/nb depends on package testing")
		}
	}
}

func TestTestBinary(t *testing.T) {
	if !testBinary() {
		t.Error("testBinary() = false under go test")
	}
}
