package backend

import (
	"os"

	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/losslab/losslab/lib/backend/blas"
	"github.com/losslab/losslab/lib/backend/probe"
)

func TestChooseHonoursEnv(t *testing.T) {
	t.Setenv(EnvVar, "go")
	if c := Choose(); c.Config != "go" || !strings.Contains(c.Reason, EnvVar) {
		t.Fatalf("got %+v", c)
	}
}

func TestPluginsFoundByFileName(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"pjrt_c_api_cpu_v0.83.3_plugin.so", "pjrt_c_api_cuda_plugin.so", "unrelated.so"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", dir)
	t.Setenv(EnvVar, "")
	got := Plugins()
	if len(got) != 2 || got["cuda"] == "" || got["cpu_v0.83.3"] == "" {
		t.Fatalf("Plugins() = %v", got)
	}
	c := Choose()
	if xlaLinked {
		if c.Config != "xla:cuda" {
			t.Errorf("with XLA linked and a CUDA plugin, want xla:cuda, got %+v", c)
		}
	} else if c.Config != cpuDefault() || !strings.Contains(c.Reason, "noxla") {
		t.Errorf("a noxla build must stay on the CPU and say why, got %+v", c)
	}
}

// cpuDefault is the configuration expected without a PJRT plugin: blas where OpenBLAS opens, else pure Go.
func cpuDefault() string {
	if FastPath() == nil {
		return BLAS
	}
	return PureGo
}

func TestNoPluginMeansCPU(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv(EnvVar, "")
	if c := Choose(); c.Config != cpuDefault() {
		t.Fatalf("got %+v", c)
	}
	b, err := newBackend(PureGo)
	if err != nil || b == nil {
		t.Fatalf("pure-Go backend: %v", err)
	}
	if _, err := newBackend("no-such-backend"); err == nil || !strings.Contains(err.Error(), "no-such-backend") {
		t.Fatalf("unknown backend: want an error naming it, got %v", err)
	}
}

// TestDescribe prints the one-line description (used by bench/gpu.sh to show which backend ran).
func TestDescribe(t *testing.T) {
	if _, err := Get(); err != nil {
		t.Fatal(err)
	}
	t.Log(Describe())
}

// openBLASInstalled looks for Debian's OpenBLAS by file name, independently of the loader in lib/backend/blas.
func openBLASInstalled() bool {
	for _, f := range []string{
		"/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
	} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

// TestFastPathWhereOpenBLASIs fails if LossLab silently falls back to pure Go on a machine that has OpenBLAS:
// the default must be "blas", and a product run through Get's backend must reach OpenBLAS.
func TestFastPathWhereOpenBLASIs(t *testing.T) {
	if !openBLASInstalled() {
		t.Skip("OpenBLAS is not installed here (apt-get install libopenblas0-pthread)")
	}
	if err := FastPath(); err != nil {
		t.Fatalf("OpenBLAS is installed but the fast path is off: %v", err)
	}
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv(EnvVar, "")
	c := Choose()
	if c.Config != BLAS || !strings.Contains(c.Reason, "OpenBLAS") {
		t.Fatalf("with OpenBLAS and no plugin, want %q naming OpenBLAS, got %+v", BLAS, c)
	}
	be, err := newBackend(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	before := blas.GemmCalls()
	exec, err := graph.NewExec(be, func(x *graph.Node) *graph.Node { return graph.MatMul(x, x) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Exec1(tensors.FromShape(shapes.Make(dtypes.Float32, 64, 64))); err != nil {
		t.Fatal(err)
	}
	if blas.GemmCalls() == before {
		t.Fatal("a 64×64 product through the default backend did not run on OpenBLAS")
	}
}

func TestParallelOps(t *testing.T) {
	for cfg, want := range map[string]bool{
		"go": true, "go:ops_parallel": true, "go:ops_sequential": false, "blas": false, "blas:threads=1": false,
		"blas:ops_parallel": true, "xla:cpu": false,
	} {
		t.Setenv(EnvVar, cfg)
		if got := ParallelOps(); got != want {
			t.Errorf("%s: ParallelOps() = %v, want %v", cfg, got, want)
		}
	}
}

// The installer names the blas backend through package probe, which cannot import blas.
func TestProbeNamesBLAS(t *testing.T) {
	if probe.BLAS != blas.Name {
		t.Fatalf("probe.BLAS = %q, blas.Name = %q", probe.BLAS, blas.Name)
	}
}
