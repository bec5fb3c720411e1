package main

import (
	"context"
	"flag"
	"os"

	"github.com/losslab/losslab/internal/imagetest"
	"github.com/losslab/losslab/internal/setup"
)

// cmdTestImage builds the Dockerfile with buildah on a local Debian base, serves JupyterLab from the
// image and runs the browser test against it (internal/imagetest). It is slow (tens of minutes), so it
// is its own command rather than part of `test`; run it whenever the Dockerfile or the install path
// (internal/setup, internal/lab) changes.
func cmdTestImage(args []string) error {
	fs := flag.NewFlagSet("test-image", flag.ExitOnError)
	keep := fs.Bool("keep", false, "keep the images built (buildah images) instead of removing them")
	mirror := fs.String("mirror", imagetest.DefaultMirror, "Debian mirror for the debootstrap'd base")
	base := fs.String("base", "", "build on this base image (one kept by -keep) instead of making one")
	_ = fs.Parse(args)
	p, err := setup.FindPaths()
	if err != nil {
		return err
	}
	goCmd, err := setup.RealGo(p)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "losslab-image-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	return imagetest.Run(context.Background(), imagetest.Options{
		Repo: p.Repo, Work: work, Mirror: *mirror, Keep: *keep, Base: *base, Out: os.Stdout, GoTest: goCmd,
	})
}
