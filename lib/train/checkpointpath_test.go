package train

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TestCheckpointPath: a step folder names itself, a run folder its latest step, and any other folder
// is not a LossLab checkpoint.
func TestCheckpointPath(t *testing.T) {
	dir := t.TempDir()
	ctx := context.New()
	ctx.In("dense_0").VariableWithValue("weights", []float32{1, 2})
	var paths []string
	for _, step := range []int{0, 12, 5} {
		p, err := SaveCheckpoint(dir, ctx, step, "toy")
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if p, ok := CheckpointPath(paths[2]); !ok || p != paths[2] {
		t.Errorf("step folder: %q, %v; want itself", p, ok)
	}
	if p, ok := CheckpointPath(dir); !ok || p != paths[1] {
		t.Errorf("run folder: %q, %v; want the latest step %q", p, ok, paths[1])
	}
	for _, other := range []string{t.TempDir(), filepath.Join(dir, "missing")} {
		if p, ok := CheckpointPath(other); ok {
			t.Errorf("%s: %q, want no checkpoint", other, p)
		}
	}
}
