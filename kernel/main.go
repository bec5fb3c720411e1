// Command kernel sets up and checks the `losslab` Jupyter kernel: GoNB with LossLab's library importable
// from any notebook, with no setup cell.
//
//	go run ./kernel install   # build the pinned tools, install Jupyter/dataset if missing, install the kernelspec
//	go run ./kernel doctor    # say what is installed and what to do about anything missing
//	go run ./kernel up        # install, then start JupyterLab (-classic: the classic Notebook) on notebooks/
//	go run ./kernel test      # install, then run every test (Go packages and notebooks)
//	go run ./kernel execute [-inplace] NOTEBOOK...   # run notebooks headless through the kernel and check them
//	go run ./kernel test-image  # build the Docker image with buildah and run the browser test against it
//
// Everything it builds lives in LossLab's home folder ($LOSSLAB_HOME, default ~/.local/share/losslab);
// the kernelspec goes to Jupyter's user data folder ($JUPYTER_DATA_DIR, default ~/.local/share/jupyter).
// Both install and doctor are idempotent.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: go run ./kernel <command> [flags]

commands:
  install   build GoNB, goimports and gopls (versions pinned in go.mod) and the kernel's relay, install what is missing
            (Jupyter and Fashion-MNIST from Debian packages when root or sudo is available, plotly.js from npm,
            JupyterLab 3.6 built with npm and webpack, the PJRT CPU plugin when online) and the "losslab" kernelspec
  doctor    print what is installed and what to do about anything missing
  up        install, then start JupyterLab on notebooks/ (flags: -ip, -port, -classic for the classic Notebook)
  test      install, then run all tests: go test ./... including every notebook (LOSSLAB_QUICK=1 sizes)
  execute   run notebooks headless through the kernel and check them (-inplace keeps the outputs)
  test-image  build the Dockerfile with buildah on a local Debian base, start JupyterLab from the image
            and run the browser test against it (slow; needs buildah and debootstrap; -keep, -base, -mirror)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "install":
		err = cmdInstall(args)
	case "doctor":
		err = cmdDoctor(args)
	case "up":
		err = cmdUp(args)
	case "test":
		err = cmdTest(args)
	case "execute":
		err = cmdExecute(args)
	case "test-image":
		err = cmdTestImage(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "kernel: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kernel %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
