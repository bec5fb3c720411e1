// Package imagetest builds LossLab's Docker image from the repository's Dockerfile and checks it, on a
// machine with no Docker engine and no image registry: Debian's buildah builds the Dockerfile with chroot
// isolation, on a base image made here with debootstrap (Debian 12, minbase) plus this machine's Go; the
// image's own command (`go run ./kernel up`) is started in a container, and the JupyterLab it serves is
// opened by the browser test (internal/browser's TestNotebooksInLab, pointed at it). Everything built is
// removed at the end. `go run ./kernel test-image` runs it; it takes many minutes, so it is not part of
// `go run ./kernel test`.
package imagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Packages are the Debian packages the test needs on this machine.
var Packages = []string{"buildah", "debootstrap"}

// hostCABundle is this machine's bundle of certificate authorities (Debian's place for it).
const hostCABundle = "/etc/ssl/certs/ca-certificates.crt"

// DefaultMirror is the Debian mirror debootstrap installs the base from.
const DefaultMirror = "http://deb.debian.org/debian"

// Options tune Run.
type Options struct {
	Repo   string    // the checkout whose Dockerfile is built
	Work   string    // a scratch folder (the base's root file system goes there)
	Mirror string    // Debian mirror for debootstrap; DefaultMirror when empty
	Keep   bool      // keep the images (for a look with buildah) instead of removing them
	Base   string    // an existing base image to build on (kept by an earlier -keep run); made here when empty
	Out    io.Writer // progress and the commands' output
	GoTest string    // the go command that runs the browser test; "go" when empty
	// Artifacts is where the browser test saves its screenshots (default: losslab-image-artifacts in the
	// system's temporary folder); they are kept.
	Artifacts string
	// ServeLimit bounds the wait for the image's JupyterLab to answer (default 5 minutes: `up` checks
	// the installation first).
	ServeLimit time.Duration
}

// isolation makes buildah work in a sandbox without container runtimes or cgroups: chroot isolation.
var isolation = []string{"--isolation", "chroot"}

// Run builds the image, serves JupyterLab from it and runs the browser test against it.
func Run(ctx context.Context, opts Options) (err error) {
	for _, tool := range Packages {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("imagetest: %s is not installed (Debian: apt-get install %s)", tool, strings.Join(Packages, " "))
		}
	}
	if opts.Mirror == "" {
		opts.Mirror = DefaultMirror
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	id := fmt.Sprintf("%d", time.Now().Unix())
	baseImage, image := "localhost/losslab-test-base:"+id, "localhost/losslab-test:"+id
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	step := func(format string, args ...any) { fmt.Fprintf(opts.Out, "== "+format+"\n", args...) }
	buildah := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "buildah", args...)
		var out strings.Builder
		cmd.Stdout = &out
		cmd.Stderr = opts.Out
		err := cmd.Run()
		if err != nil {
			return "", fmt.Errorf("imagetest: buildah %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(out.String()), nil
	}
	removeImage := func(name string) func() {
		return func() {
			if opts.Keep {
				fmt.Fprintf(opts.Out, "keeping %s (remove it with: buildah rmi %s)\n", name, name)
				return
			}
			_, _ = buildah("rmi", "-f", name)
		}
	}

	// 1. The base: Debian 12 minbase with this machine's Go in /usr/local/go.
	start := time.Now()
	if opts.Base != "" {
		baseImage = opts.Base
		step("base image %s (given)", baseImage)
	} else if err := makeBase(ctx, opts, baseImage, buildah, step); err != nil {
		return err
	} else {
		cleanups = append(cleanups, removeImage(baseImage))
		step("base image %s ready (%.0fs)", baseImage, time.Since(start).Seconds())
	}

	// 2. The image, from the repository's Dockerfile.
	start = time.Now()
	step("buildah bud: %s from %s/Dockerfile (BASE=%s)", image, opts.Repo, baseImage)
	budArgs := append(append([]string{"bud"}, isolation...), "--ulimit", "nofile=1024:1024", "--build-arg", "BASE="+baseImage,
		"-t", image, "-f", filepath.Join(opts.Repo, "Dockerfile"), opts.Repo)
	if err := runTo(ctx, opts.Out, "", "buildah", budArgs...); err != nil {
		return err
	}
	cleanups = append(cleanups, removeImage(image))
	step("image %s built (%.0fs)", image, time.Since(start).Seconds())

	// 3. Its command, in a container: JupyterLab on a free port of this machine (chroot isolation shares
	// the network), with a token chosen here.
	ctr, err := buildah("from", image)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { _, _ = buildah("rm", ctr) })
	port, err := freePort()
	if err != nil {
		return err
	}
	token := fmt.Sprintf("losslab-image-test-%d", time.Now().UnixNano())
	logPath := filepath.Join(opts.Work, "container.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	// LOSSLAB_QUICK=1: the notebooks at their CI sizes, as in the browser test on this machine. The
	// browser test reads each notebook's model through window.jupyterapp, which the page defines only
	// when told (`up` passes what follows "--" to JupyterLab): without it no notebook ever looked ready.
	runArgs := append(append([]string{"run"}, isolation...), "--env", "JUPYTER_TOKEN="+token, "--env", "LOSSLAB_QUICK=1", ctr, "--",
		"go", "run", "./kernel", "up", "-ip=127.0.0.1", fmt.Sprintf("-port=%d", port), "--", "--LossLabApp.expose_app_in_browser=True")
	serve := exec.Command("buildah", runArgs...)
	serve.Stdout, serve.Stderr = logf, logf
	serve.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	step("starting the image's command: buildah %s", strings.Join(runArgs, " "))
	if err := serve.Start(); err != nil {
		return fmt.Errorf("imagetest: %w", err)
	}
	// exited is closed when the command has ended (serveErr then holds how): both the wait for the
	// server and the clean-up below watch it.
	exited := make(chan struct{})
	var serveErr error
	go func() { serveErr = serve.Wait(); close(exited) }()
	cleanups = append(cleanups, func() {
		_ = syscall.Kill(-serve.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-serve.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	limit := opts.ServeLimit
	if limit == 0 {
		limit = 5 * time.Minute
	}
	if err := waitServing(ctx, url, token, limit, exited, &serveErr); err != nil {
		return fmt.Errorf("%w; the container's log:\n%s", err, tailFile(logPath, 40))
	}
	step("JupyterLab in the image answers on %s", url)

	// 4. The browser test, against it.
	goCmd := opts.GoTest
	if goCmd == "" {
		goCmd = "go"
	}
	test := exec.CommandContext(ctx, goCmd, "test", "-tags=noxla", "-count=1", "-timeout=30m", "-v",
		"-run", "^TestNotebooksInLab$", "./internal/browser")
	test.Dir = opts.Repo
	// A fresh image compiles more on first use than a warm machine: a longer limit per notebook.
	arts := opts.Artifacts
	if arts == "" {
		arts = filepath.Join(os.TempDir(), "losslab-image-artifacts")
	}
	test.Env = append(os.Environ(), "LOSSLAB_LAB_URL="+url, "LOSSLAB_LAB_TOKEN="+token, "LOSSLAB_QUICK=1", "LOSSLAB_BROWSER_TIMEOUT=10m",
		"LOSSLAB_ARTIFACTS="+arts)
	test.Stdout, test.Stderr = opts.Out, opts.Out
	step("browser test against the image: go test -run TestNotebooksInLab ./internal/browser (screenshots in %s)", arts)
	if err := test.Run(); err != nil {
		return fmt.Errorf("imagetest: the browser test failed against the image (%w); the container's log:\n%s", err, tailFile(logPath, 40))
	}
	step("the image passed")
	return nil
}

// makeBase makes the base image: debootstrap's Debian 12 minbase, this machine's Go in /usr/local/go and
// its CA bundle.
func makeBase(ctx context.Context, opts Options, baseImage string, buildah func(...string) (string, error), step func(string, ...any)) error {
	rootfs := filepath.Join(opts.Work, "rootfs")
	step("debootstrap: Debian 12 (minbase) from %s into %s", opts.Mirror, rootfs)
	if err := runTo(ctx, opts.Out, "", "debootstrap", "--variant=minbase", "bookworm", rootfs, opts.Mirror); err != nil {
		return err
	}
	goroot := runtime.GOROOT()
	if goroot == "" {
		return errors.New("imagetest: cannot find this machine's Go (runtime.GOROOT is empty)")
	}
	if err := runTo(ctx, opts.Out, "", "cp", "-a", goroot, filepath.Join(rootfs, "usr", "local", "go")); err != nil {
		return err
	}
	// The base trusts what this machine trusts: a machine that reaches the registries through an
	// intercepting proxy has that proxy's authority in its bundle. The Dockerfile's ca-certificates adds
	// the copy under /usr/local/share/ca-certificates to the image's own bundle.
	bundle, err := os.ReadFile(hostCABundle)
	if err != nil {
		return fmt.Errorf("imagetest: this machine's CA bundle: %w", err)
	}
	for _, dst := range []string{"etc/ssl/certs/ca-certificates.crt", "usr/local/share/ca-certificates/losslab-host.crt"} {
		path := filepath.Join(rootfs, dst)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("imagetest: %w", err)
		}
		if err := os.WriteFile(path, bundle, 0o644); err != nil {
			return fmt.Errorf("imagetest: %w", err)
		}
	}
	tarball := filepath.Join(opts.Work, "base.tar")
	if err := runTo(ctx, opts.Out, "", "tar", "-C", rootfs, "-cf", tarball, "."); err != nil {
		return err
	}
	_ = os.RemoveAll(rootfs)
	ctr, err := buildah("from", "scratch")
	if err != nil {
		return err
	}
	if _, err := buildah("add", ctr, tarball, "/"); err != nil {
		_, _ = buildah("rm", ctr)
		return err
	}
	// Go and npm (Node.js has its own list of authorities) read the bundle.
	_, err = buildah("config", "--env", "PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--env", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "--env", "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt", ctr)
	if err == nil {
		_, err = buildah("commit", "--rm", ctr, baseImage)
	}
	if err != nil {
		_, _ = buildah("rm", ctr)
		return err
	}
	_ = os.Remove(tarball)
	return nil
}

func runTo(ctx context.Context, out io.Writer, dir, exe string, args ...string) error {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("imagetest: %s %s: %w", exe, strings.Join(args, " "), err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitServing polls Jupyter's status API until it answers with the token, the limit passes, or the
// server exits.
func waitServing(ctx context.Context, url, token string, limit time.Duration, exited <-chan struct{}, exitErr *error) error {
	client := &http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(limit)
	for {
		if resp, err := client.Get(url + "/api/status?token=" + token); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("imagetest: the image's command exited (%v) before serving on %s", *exitErr, url)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("imagetest: nothing answered on %s within %v", url, limit)
		}
	}
}

func tailFile(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
