package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/internal/lab"
	"github.com/losslab/losslab/internal/setup"
)

// `up` starts LossLab's JupyterLab by default and the classic Notebook under -classic, both on the
// address asked for, on notebooks/, with Jupyter's own token (never one disabled or fixed here).
func TestUpCommand(t *testing.T) {
	p := setup.Paths{Repo: "/src/losslab", Home: "/home/u/.local/share/losslab"}
	argv := upCommand(p, false, "127.0.0.1", 8888, false, []string{"--debug"})
	want := []string{setup.Python, lab.Launcher(p.Home), "--no-browser", "--ip=127.0.0.1", "--port=8888",
		"--ServerApp.root_dir=/src/losslab/notebooks", "--debug"}
	if !slices.Equal(argv, want) {
		t.Errorf("up:\n got %q\nwant %q", argv, want)
	}
	classic := upCommand(p, true, "0.0.0.0", 9999, true, nil)
	want = []string{setup.Python, "-m", "notebook", "--no-browser", "--ip=0.0.0.0", "--port=9999",
		"--notebook-dir=/src/losslab/notebooks", "--allow-root"}
	if !slices.Equal(classic, want) {
		t.Errorf("up -classic:\n got %q\nwant %q", classic, want)
	}
	for _, a := range append(argv, classic...) {
		if strings.Contains(strings.ToLower(a), "token") || strings.Contains(strings.ToLower(a), "password") {
			t.Errorf("up passes %q: the token must be Jupyter's own", a)
		}
	}
}
