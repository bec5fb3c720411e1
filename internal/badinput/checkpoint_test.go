package badinput

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// TestCheckpointMissing: loading a checkpoint that is not there is an error naming the path, from
// lib/train and lib/landscape alike.
func TestCheckpointMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-run", train.StepDir(7))
	err := call(t, "train.LoadCheckpoint", func() error { _, err := train.LoadCheckpoint(missing); return err })
	wantErr(t, "train.LoadCheckpoint of a missing folder", err, missing)
	err = call(t, "train.ListCheckpoints", func() error { _, err := train.ListCheckpoints(filepath.Dir(missing)); return err })
	wantErr(t, "train.ListCheckpoints of a missing folder", err, "no-such-run")
	err = call(t, "landscape.FromCheckpoint", func() error { _, err := landscape.FromCheckpoint(missing, nil); return err })
	wantErr(t, "landscape.FromCheckpoint of a missing folder", err, missing)
	err = call(t, "train.FindCheckpoint", func() error { _, err := train.FindCheckpoint(t.TempDir(), 3); return err })
	wantErr(t, "train.FindCheckpoint in an empty folder", err, "no checkpoint of step 3")
}

// TestCheckpointTruncated: a checkpoint whose files were cut short (a copy interrupted, a disk that
// filled up outside LossLab) is an error when loaded, never a panic and never silently wrong values.
func TestCheckpointTruncated(t *testing.T) {
	set := blobs(t, 96, 1)
	m := models.NewMLP(3, 16)
	ctx := trained(t, m, set)
	dir := t.TempDir()
	good, err := train.SaveCheckpoint(dir, ctx, 3, m.Name())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(good)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	t.Logf("checkpoint files: %v", files)
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			for _, keep := range []float64{0, 0.5} {
				cp := filepath.Join(t.TempDir(), train.StepDir(3))
				copyDir(t, good, cp)
				path := filepath.Join(cp, name)
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, int64(keep*float64(st.Size()))); err != nil {
					t.Fatal(err)
				}
				err = call(t, "train.LoadCheckpoint", func() error { _, err := train.LoadCheckpoint(cp); return err })
				if err == nil {
					t.Errorf("train.LoadCheckpoint accepted %s cut to %.0f%% of its %d bytes", name, 100*keep, st.Size())
				} else if strings.Count(err.Error(), "\n") > 3 {
					t.Errorf("error is a dump, not a message: %q", err)
				}
				err = call(t, "landscape.FromCheckpoint", func() error { _, err := landscape.FromCheckpoint(cp, nil); return err })
				if err == nil {
					t.Errorf("landscape.FromCheckpoint accepted %s cut to %.0f%%", name, 100*keep)
				}
			}
		})
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckpointOfAnotherModel: parameters saved from one architecture and used with another are an
// error naming the mismatched variable, whether they are evaluated, loaded into a live context or
// compared as landscape parameter sets.
func TestCheckpointOfAnotherModel(t *testing.T) {
	set := blobs(t, 96, 1)
	small, wide := models.NewMLP(3, 16), models.NewMLP(3, 32)
	dir := t.TempDir()
	pa, err := train.SaveCheckpoint(filepath.Join(dir, "a"), trained(t, small, set), 3, small.Name())
	if err != nil {
		t.Fatal(err)
	}
	wideCtx := trained(t, wide, set)
	pb, err := train.SaveCheckpoint(filepath.Join(dir, "b"), wideCtx, 3, wide.Name())
	if err != nil {
		t.Fatal(err)
	}
	ctxA, err := train.LoadCheckpoint(pa)
	if err != nil {
		t.Fatal(err)
	}
	err = call(t, "train.Evaluate", func() error { _, err := train.Evaluate(wide, ctxA, set); return err })
	wantErr(t, "train.Evaluate of a 16-wide checkpoint with a 32-wide model", err, "dense_0")

	// Loading A's values over B's live variables must not silently reshape them.
	before, _ := train.Flat(wideCtx)
	err = call(t, "train.LoadCheckpointInto", func() error { return train.LoadCheckpointInto(wideCtx, pa) })
	wantErr(t, "train.LoadCheckpointInto a context of another model", err, "dense_0")
	after, _ := train.Flat(wideCtx)
	if !slices.Equal(before, after) {
		t.Errorf("a rejected LoadCheckpointInto changed the context's parameters")
	}

	// The same when the first variables match and a later one does not (mlp-16-3 into mlp-16-16-3):
	// dense_0 must not be overwritten before dense_1 is found to differ.
	deep := models.NewMLP(3, 16, 16)
	deepCtx := trained(t, deep, set)
	before, _ = train.Flat(deepCtx)
	err = call(t, "train.LoadCheckpointInto", func() error { return train.LoadCheckpointInto(deepCtx, pa) })
	wantErr(t, "train.LoadCheckpointInto mlp-16-3 into mlp-16-16-3", err, "dense_1")
	after, _ = train.Flat(deepCtx)
	if !slices.Equal(before, after) {
		t.Errorf("a LoadCheckpointInto rejected at dense_1 changed the context's parameters (dense_0 overwritten)")
	}

	a, err := landscape.FromCheckpoint(pa, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := landscape.FromCheckpoint(pb, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = call(t, "landscape.Lerp", func() error { _, err := landscape.Lerp(a, b, 0.5); return err })
	wantErr(t, "landscape.Lerp of two architectures", err, "dense_0")
	err = call(t, "landscape.NewEvaluator+Eval", func() error {
		ev, err := landscape.NewEvaluator(landscape.FromModel(small), a, landscape.Config{})
		if err != nil {
			return err
		}
		_, err = ev.Loss(b, landscape.FromSet(set))
		return err
	})
	wantErr(t, "landscape Evaluator of one model at another's parameters", err, "dense_0")
}

// TestCheckpointOfAnotherActivation: a checkpoint records the model it was saved from; loading it for
// a model of the same shapes but another name (a tanh MLP's checkpoint for a relu MLP) with
// train.LoadCheckpointFor is an error naming both, not parameters evaluated with the wrong model.
func TestCheckpointOfAnotherActivation(t *testing.T) {
	set := blobs(t, 96, 1)
	tanh := &models.MLP{Hidden: []int{16}, Classes: 3, Activation: "tanh"}
	relu := models.NewMLP(3, 16)
	path, err := train.SaveCheckpoint(t.TempDir(), trained(t, tanh, set), 3, tanh.Name())
	if err != nil {
		t.Fatal(err)
	}
	err = call(t, "train.LoadCheckpointFor", func() error { _, err := train.LoadCheckpointFor(relu, path); return err })
	wantErr(t, "train.LoadCheckpointFor of a tanh checkpoint for a relu model", err, tanh.Name(), relu.Name())
	ctx, err := train.LoadCheckpointFor(tanh, path)
	if err != nil {
		t.Fatalf("the checkpoint for its own model: %v", err)
	}
	if _, err := train.Evaluate(tanh, ctx, set); err != nil {
		t.Errorf("evaluating it: %v", err)
	}
}
