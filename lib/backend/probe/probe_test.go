package probe

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The rule: $GOMLX_BACKEND wins; a linked XLA takes a plugin (CUDA first); else blas when its fast path
// runs, else pure Go with the reason.
func TestChoose(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"pjrt_c_api_cpu_v0.83.3_plugin.so", "pjrt_c_api_cuda_plugin.so", "unrelated.so"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", dir)
	t.Setenv(EnvVar, "")
	if got := Plugins(); len(got) != 2 || got["cuda"] == "" || got["cpu_v0.83.3"] == "" {
		t.Fatalf("Plugins() = %v", got)
	}
	if c := Choose(true, nil); c.Config != "xla:cuda" {
		t.Errorf("XLA linked, CUDA plugin: %+v", c)
	}
	if c := Choose(false, errors.New("no OpenBLAS")); c.Config != PureGo || !strings.Contains(c.Reason, "noxla") || !strings.Contains(c.Reason, "no OpenBLAS") {
		t.Errorf("noxla build without OpenBLAS: %+v", c)
	}
	if c := Choose(false, nil); c.Config != BLAS {
		t.Errorf("noxla build with OpenBLAS: %+v", c)
	}
	t.Setenv(EnvVar, "go")
	if c := Choose(true, nil); c.Config != "go" || !strings.Contains(c.Reason, EnvVar) {
		t.Errorf("$%s=go: %+v", EnvVar, c)
	}
}
