package backend

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	} else if c.Config != PureGo || !strings.Contains(c.Reason, "noxla") {
		t.Errorf("a noxla build must stay on go and say why, got %+v", c)
	}
}

func TestNoPluginMeansPureGo(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv(EnvVar, "")
	if c := Choose(); c.Config != PureGo {
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
