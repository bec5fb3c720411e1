package nb

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateDir(t *testing.T) {
	type cfg struct {
		Epochs int
		LR     float64
		Layers []int
	}
	t.Setenv(QuickEnv, "") // full mode first, whatever the environment says (CI sets LOSSLAB_QUICK=1)
	a := StateDir("12-mtard", cfg{3, 1e-3, []int{256, 256}}, 2)
	if filepath.Dir(a) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(a), "losslab-12-mtard-full-") {
		t.Errorf("StateDir = %q, want a losslab-12-mtard-full-<hash> folder in %s", a, os.TempDir())
	}
	if b := StateDir("12-mtard", cfg{3, 1e-3, []int{256, 256}}, 2); b != a {
		t.Errorf("same configuration, different folders: %q vs %q", a, b)
	}
	for _, other := range []string{
		StateDir("12-mtard", cfg{4, 1e-3, []int{256, 256}}, 2),
		StateDir("12-mtard", cfg{3, 1e-3, []int{256, 128}}, 2),
		StateDir("12-mtard", cfg{3, 1e-3, []int{256, 256}}, 3),
		StateDir("13-ndkd", cfg{3, 1e-3, []int{256, 256}}, 2),
	} {
		if other == a {
			t.Errorf("a different configuration shares the folder %q", a)
		}
	}
	t.Setenv(QuickEnv, "1")
	if q := StateDir("12-mtard", cfg{3, 1e-3, []int{256, 256}}, 2); !strings.Contains(q, "-quick-") || q == a {
		t.Errorf("quick mode should get its own folder, got %q", q)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(error).Error(), "cannot be encoded") {
			t.Errorf("a value JSON cannot encode should panic naming the problem, got %v", r)
		}
	}()
	StateDir("x", math.NaN())
}
