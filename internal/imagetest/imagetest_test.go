package imagetest

import (
	"context"
	"strings"
	"testing"
)

// Without buildah or debootstrap, Run says which Debian packages to install before doing anything.
func TestRunNeedsTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Run(context.Background(), Options{Repo: t.TempDir(), Work: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "apt-get install buildah debootstrap") {
		t.Fatalf("got %v, want an error naming the packages to install", err)
	}
}
