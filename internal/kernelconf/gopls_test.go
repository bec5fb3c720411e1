package kernelconf

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/losslab/losslab/internal/nbcheck"
	"github.com/losslab/losslab/internal/setup"
)

// A kernel that Jupyter kills (a forced shutdown, as after a failed shutdown request or on restart)
// takes its gopls with it. GoNB stops gopls on a clean shutdown only; before the gopls guard, every
// killed kernel left one or two gopls processes running. The kernel is set up as `go run ./kernel
// install` sets it up, in a temporary home whose tools are the installed ones.
func TestKilledKernelLeavesNoGopls(t *testing.T) {
	installed, err := setup.FindPaths()
	if err != nil {
		t.Fatal(err)
	}
	if err := nbcheck.KernelInstalled(setup.KernelName); err != nil {
		t.Fatal(err)
	}
	goCmd, err := setup.RealGo(installed)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	p := installed
	p.Home = filepath.Join(tmp, "home")
	p.Bin = filepath.Join(p.Home, "bin")
	p.KernelSpec = filepath.Join(tmp, "jupyter", "kernels", setup.KernelName)
	if err := os.MkdirAll(p.Bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range setup.Tools {
		if err := os.Symlink(filepath.Join(installed.Bin, tool.Name), filepath.Join(p.Bin, tool.Name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []func(io.Writer, setup.Paths, string) error{setup.WriteGoWrapper, setup.WriteGoplsGuard, setup.WriteRelay, setup.InstallKernelSpec} {
		if err := step(io.Discard, p, goCmd); err != nil {
			t.Fatal(err)
		}
	}
	tag := fmt.Sprintf("LOSSLAB_GOPLS_TEST=%d", os.Getpid())
	cmd := exec.Command(nbcheck.Python, "-c", killKernelScript, tag)
	cmd.Env = append(os.Environ(), "JUPYTER_PATH="+filepath.Join(tmp, "jupyter"), "PYDEVD_DISABLE_FILE_VALIDATION=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("driving the kernel: %v\n%s", err, out)
	}
	var res struct{ Running, Left []string }
	if err := json.Unmarshal(out[strings.LastIndexByte(strings.TrimSpace(string(out)), '\n')+1:], &res); err != nil {
		t.Fatalf("reading the script's result: %v\n%s", err, out)
	}
	t.Logf("running before the kill: %v", res.Running)
	if !strings.Contains(strings.Join(res.Running, " "), "gopls") {
		t.Fatalf("no gopls ever ran for the kernel, so nothing was tested: %v", res.Running)
	}
	if len(res.Left) > 0 {
		t.Errorf("left running after the kernel was killed: %v", res.Left)
	}
}

// killKernelScript starts the losslab kernel with a tag in its environment, runs a cell, waits for its
// gopls, kills the kernel as Jupyter's forced shutdown does, and prints as JSON the tagged processes
// before and 5 s after (killing those left, so that the test leaves nothing behind).
const killKernelScript = `
import json, os, sys, time
from jupyter_client.manager import KernelManager
name, value = sys.argv[1].split("=", 1)
def tagged():
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
            if sys.argv[1].encode() in env:
                out.append((int(pid), open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")[0].decode()))
        except OSError:
            pass
    return out
km = KernelManager(kernel_name="losslab")
env = dict(os.environ)
env[name] = value
km.start_kernel(env=env)
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=300)
kc.execute_interactive("%%\nfmt.Println(1)", timeout=300, output_hook=lambda msg: None)
for _ in range(60):
    if any(c.endswith("gopls") for _, c in tagged()):
        break
    time.sleep(1)
running = tagged()
kc.stop_channels()
km.shutdown_kernel(now=True)
time.sleep(5)
left = tagged()
for pid, _ in left:
    try:
        os.kill(pid, 9)
    except OSError:
        pass
print(json.dumps({"Running": ["%d %s" % x for x in running], "Left": ["%d %s" % x for x in left]}))
`
