package plotlyjs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/nb"
)

func TestDir(t *testing.T) {
	t.Setenv(nb.HomeEnv, "/h")
	if got, want := Dir(), filepath.Join("/h", "plotly"); got != want {
		t.Errorf("Dir() = %q, want %q", got, want)
	}
}

// writeInstalled fakes what npm leaves behind for a version.
func writeInstalled(t *testing.T, dir, version string) {
	t.Helper()
	pkg := filepath.Join(dir, "node_modules", "plotly.js-dist-min")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{"version":"`+version+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(FileIn(dir), []byte("/* plotly */"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// With the pinned version installed, Install does nothing (npm is not even looked for); with another
// version and no npm, it says npm is missing.
func TestInstallIdempotentAndNeedsNpm(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := t.TempDir()
	writeInstalled(t, dir, Version)
	if err := Install(dir); err != nil {
		t.Fatalf("Install with %s already there: %v", Version, err)
	}
	writeInstalled(t, dir, "0.0.1")
	err := Install(dir)
	if err == nil || !strings.Contains(err.Error(), "needs npm") {
		t.Fatalf("Install of an old copy without npm: err = %v, want one saying npm is needed", err)
	}
}
