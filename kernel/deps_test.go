package main

import (
	"os/exec"
	"strings"
	"testing"
)

// installerLib lists the lib/ packages the installer may link: none of them links GoMLX or a model.
var installerLib = map[string]bool{
	"github.com/losslab/losslab/lib/nb":               true, // LossLab's home folder
	"github.com/losslab/losslab/lib/plotlyjs":         true, // the plotly.js installer
	"github.com/losslab/losslab/lib/backend/probe":    true, // plugin search paths, the backend rule
	"github.com/losslab/losslab/lib/backend/openblas": true, // whether OpenBLAS opens
}

// goList returns `go list -deps` of the packages.
func goList(t *testing.T, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("go list -deps %v: %v", pkgs, err)
	}
	return strings.Fields(string(out))
}

// The installer (`go run ./kernel install`, `doctor`, `up`) must build fast on a fresh machine: it links
// no GoMLX and no LossLab machine-learning package. The one package of GoMLX's organisation it needs is
// go-xla's plugin installer (and what that imports), to fetch the PJRT CPU plugin.
func TestInstallerLinksNoMLStack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	allowed := map[string]bool{}
	for _, p := range goList(t, "github.com/gomlx/go-xla/pkg/installer") {
		allowed[p] = true
	}
	for _, p := range goList(t, ".", "../internal/setup") {
		switch {
		case strings.HasPrefix(p, "github.com/gomlx/") && !allowed[p]:
			t.Errorf("the installer links %s", p)
		case strings.HasPrefix(p, "github.com/losslab/losslab/lib/") && !installerLib[p]:
			t.Errorf("the installer links %s", p)
		}
	}
}
