package nb

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	if filepath.Dir(a) != StateRoot() || !strings.HasPrefix(filepath.Base(a), "losslab-12-mtard-full-") {
		t.Errorf("StateDir = %q, want a losslab-12-mtard-full-<hash> folder in %s", a, StateRoot())
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

// StateDir's folders live in a folder of this user's own, mode 0700, so that another user of a shared
// machine cannot plant caches or checkpoints under a predictable name in /tmp. A planted folder
// (a symbolic link, or one owned by another user) is not used: the user's cache folder is, instead.
func TestStateDirPrivate(t *testing.T) {
	tmp, cache := t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_CACHE_HOME", cache)
	private := filepath.Join(tmp, fmt.Sprintf("losslab-%d", os.Getuid()))
	check := func(what, wantParent string) {
		t.Helper()
		dir := StateDir("01-x", 1)
		if filepath.Dir(dir) != wantParent {
			t.Fatalf("%s: StateDir = %q, want a folder in %s", what, dir, wantParent)
		}
		st, err := os.Lstat(wantParent)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !st.IsDir() || st.Mode().Perm() != 0o700 || st.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
			t.Fatalf("%s: %s is %v owned by %d, want a folder of mode 0700 owned by %d", what, wantParent, st.Mode(), st.Sys().(*syscall.Stat_t).Uid, os.Getuid())
		}
	}
	check("fresh", private)
	// Too open (someone loosened it, or an older LossLab made it): tightened.
	if err := os.Chmod(private, 0o777); err != nil {
		t.Fatal(err)
	}
	check("loosened", private)
	// A symbolic link planted under the private name is not followed.
	if err := os.RemoveAll(private); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), private); err != nil {
		t.Fatal(err)
	}
	check("symlink planted", filepath.Join(cache, "losslab", "state"))
	// A folder of another user (only root can make one).
	if os.Getuid() == 0 {
		_ = os.Remove(private)
		if err := os.Mkdir(private, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(private, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		check("another user's folder", filepath.Join(cache, "losslab", "state"))
	}
}
