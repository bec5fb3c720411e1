package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"

	"github.com/losslab/losslab/lib/models"
)

// Checkpoint is one saved checkpoint: a sub-folder "step-00000100" of a run's checkpoint folder. The
// sub-folder is a plain GoMLX checkpoints folder (checkpoints.Load(ctx).Dir(Path) reads it), plus
// LossLab's "losslab.json" with the step and which variables are trainable (GoMLX's format does not
// record that).
type Checkpoint struct {
	Step int
	Path string
}

// MetaFile is the name of LossLab's side file inside each checkpoint folder.
const MetaFile = "losslab.json"

var stepDirRe = regexp.MustCompile(`^step-(\d{8,})$`)

// StepDir is the folder name of the checkpoint of a step: "step-00000100".
func StepDir(step int) string { return fmt.Sprintf("step-%08d", step) }

// The rules of a run's checkpoint folder, for processes that save and read it at the same time:
//   - a save writes into a hidden temporary folder ".tmp-step-…" and renames it to "step-…" only when
//     complete (losslab.json, written last, marks it complete);
//   - saves, and the replacement of an existing step, happen under an exclusive lock of the run
//     folder (the file lockFile), and lists and loads under a shared one, so a reader never sees a
//     step missing or half replaced, and two savers never interleave;
//   - whatever a killed save left (a temporary folder, a step moved aside) is tidied by the next save
//     or list that gets the exclusive lock: a step moved aside is put back (the complete new copy if
//     there is one, else the old one), the rest is removed.
const lockFile = ".losslab-lock"

var errWouldBlock = errors.New("the run folder is locked")

// SaveCheckpoint writes all of ctx's variables (parameters, optimizer state, global step) as the
// checkpoint of step under dir, and returns its folder. It writes into a temporary folder and renames
// it into place, so a crash never leaves a half-written checkpoint under a step's name; an existing
// checkpoint of the same step is replaced only once the new one is complete, under the run folder's
// lock (see lockFile for the rules).
func SaveCheckpoint(dir string, ctx *context.Context, step int, modelName string) (string, error) {
	if step < 0 {
		return "", fmt.Errorf("train.SaveCheckpoint: negative step %d", step)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("train.SaveCheckpoint: %w", err)
	}
	unlock, err := lockRun(dir, true, true)
	if err != nil {
		return "", fmt.Errorf("train.SaveCheckpoint: locking %s: %w", dir, err)
	}
	defer unlock()
	if err := tidy(dir); err != nil {
		return "", fmt.Errorf("train.SaveCheckpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+StepDir(step)+"-")
	if err != nil {
		return "", fmt.Errorf("train.SaveCheckpoint: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // No-op after the rename.

	// A fresh context holding the same tensors: GoMLX's Handler attaches itself to the context it
	// saves, and we do not want that on the training context.
	snap := context.New().Checked(false)
	meta := checkpointMeta{Step: step, Model: modelName, Trainable: []string{}, Frozen: []string{}}
	for v := range ctx.IterVariables() {
		if !v.HasValue() {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return "", fmt.Errorf("train.SaveCheckpoint: %s: %w", v.ScopeAndName(), err)
		}
		snap.InAbsPath(v.Scope()).VariableWithValue(v.Name(), t).SetTrainable(v.Trainable)
		if v.Trainable {
			meta.Trainable = append(meta.Trainable, v.ScopeAndName())
		} else {
			meta.Frozen = append(meta.Frozen, v.ScopeAndName())
		}
	}
	h, err := checkpoints.Build(snap).Dir(tmp).Keep(-1).ExcludeAllParams().Done()
	if err != nil {
		return "", fmt.Errorf("train.SaveCheckpoint: %w", err)
	}
	if err := h.Save(); err != nil {
		return "", fmt.Errorf("train.SaveCheckpoint: %w", err)
	}
	if meta.Files, err = fileSums(tmp); err != nil {
		return "", fmt.Errorf("train.SaveCheckpoint: %w", err)
	}
	if err := writeFileSync(filepath.Join(tmp, MetaFile), encodeMeta(meta)); err != nil {
		return "", fmt.Errorf("train.SaveCheckpoint: %w", err)
	}
	final := filepath.Join(dir, StepDir(step))
	var old string
	if _, err := os.Stat(final); err == nil {
		old = tmp + ".old"
		if err := os.Rename(final, old); err != nil {
			return "", fmt.Errorf("train.SaveCheckpoint: moving the previous %s aside: %w", final, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			_ = os.Rename(old, final)
		}
		return "", fmt.Errorf("train.SaveCheckpoint: %w", err)
	}
	if old != "" {
		_ = os.RemoveAll(old)
	}
	return final, nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// ListCheckpoints returns the complete checkpoints under dir, by increasing step. Temporary folders
// of interrupted saves are ignored.
func ListCheckpoints(dir string) ([]Checkpoint, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("train.ListCheckpoints: %w", err)
	}
	leftovers := slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".tmp-") })
	unlock, err := lockRun(dir, leftovers, false)
	switch {
	case err == nil && leftovers:
		// Nobody is saving: what a killed save left can be tidied.
		if err := tidy(dir); err != nil {
			unlock()
			return nil, fmt.Errorf("train.ListCheckpoints: %w", err)
		}
	case err != nil:
		// A save is in progress (or the folder is read-only): wait for it, then read.
		if unlock, err = lockRun(dir, false, true); err != nil {
			return nil, fmt.Errorf("train.ListCheckpoints: %w", err)
		}
	}
	defer unlock()
	if entries, err = os.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("train.ListCheckpoints: %w", err)
	}
	var out []Checkpoint
	for _, e := range entries {
		m := stepDirRe.FindStringSubmatch(e.Name())
		if !e.IsDir() || m == nil {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(path, MetaFile)); err != nil {
			continue
		}
		step, _ := strconv.Atoi(m[1])
		out = append(out, Checkpoint{Step: step, Path: path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out, nil
}

// FindCheckpoint returns the checkpoint of step under dir, or an error listing the steps available.
func FindCheckpoint(dir string, step int) (Checkpoint, error) {
	list, err := ListCheckpoints(dir)
	if err != nil {
		return Checkpoint{}, err
	}
	steps := make([]int, len(list))
	for i, c := range list {
		if c.Step == step {
			return c, nil
		}
		steps[i] = c.Step
	}
	return Checkpoint{}, fmt.Errorf("train: no checkpoint of step %d in %s (steps saved: %v)", step, dir, steps)
}

// CheckpointPath returns the checkpoint that dir names: dir itself when it is a checkpoint folder
// (one step, holding MetaFile), else the latest complete step of a run folder. ok is false when dir
// is neither (e.g. a plain GoMLX checkpoints folder, or a folder that cannot be read).
func CheckpointPath(dir string) (path string, ok bool) {
	if _, err := os.Stat(filepath.Join(dir, MetaFile)); err == nil {
		return dir, true
	}
	if list, err := ListCheckpoints(dir); err == nil && len(list) > 0 {
		return list[len(list)-1].Path, true
	}
	return "", false
}

// LoadCheckpoint reads the checkpoint folder path (one returned by SaveCheckpoint or ListCheckpoints)
// into a new context, with each variable's trainable flag restored.
func LoadCheckpoint(path string) (*context.Context, error) {
	ctx := context.New()
	if err := LoadCheckpointInto(ctx, path); err != nil {
		return nil, err
	}
	return ctx, nil
}

// LoadCheckpointFor is LoadCheckpoint for a checkpoint of model m: it is an error if the checkpoint
// records another model (its name, as SaveCheckpoint was given it, differs from m.Name()), such as a
// tanh MLP's checkpoint loaded for a relu MLP of the same shapes, which LoadCheckpoint would accept.
func LoadCheckpointFor(m models.Model, path string) (*context.Context, error) {
	meta, err := readMeta(path)
	if err != nil {
		return nil, fmt.Errorf("train.LoadCheckpoint: %w", err)
	}
	if meta.Model != "" && meta.Model != m.Name() {
		return nil, fmt.Errorf("train.LoadCheckpointFor: %s is a checkpoint of model %s, not of %s", path, meta.Model, m.Name())
	}
	return LoadCheckpoint(path)
}

// LoadCheckpointInto sets ctx's variables to the values of the checkpoint folder path, creating the
// variables ctx does not have yet, and restores their trainable flags.
func LoadCheckpointInto(ctx *context.Context, path string) error {
	// A save in progress in the same run folder replaces the step only once complete: wait for it.
	if _, err := os.Stat(filepath.Dir(path)); err == nil {
		unlock, err := lockRun(filepath.Dir(path), false, true)
		if err != nil {
			return fmt.Errorf("train.LoadCheckpoint: %w", err)
		}
		defer unlock()
	}
	meta, err := readMeta(path)
	if err != nil {
		return fmt.Errorf("train.LoadCheckpoint: %w", err)
	}
	saved, err := checkGoMLXIndex(path)
	if err != nil {
		return fmt.Errorf("train.LoadCheckpoint: %w", err)
	}
	if err := sameVariables(path, saved, slices.Concat(meta.Trainable, meta.Frozen)); err != nil {
		return fmt.Errorf("train.LoadCheckpoint: %w", err)
	}
	// GoMLX's loader creates variables in map order; load into a scratch context and copy the
	// variables over in their saved order, so Flat and Params keep the model's layer order.
	scratch := context.New()
	if err := loadGoMLX(scratch, path); err != nil {
		return fmt.Errorf("train.LoadCheckpoint: %w", err)
	}
	// Check every variable before changing any, so that a rejected checkpoint leaves ctx as it was.
	type update struct {
		scope, name string
		value       *tensors.Tensor
		trainable   bool
		existing    *context.Variable
	}
	dst := ctx.Checked(false)
	var updates []update
	plan := func(names []string, trainable bool) error {
		for _, name := range names {
			scope, vname := context.SplitScope(name)
			src := scratch.GetVariableByScopeAndName(scope, vname)
			if src == nil || !src.HasValue() {
				return fmt.Errorf("train.LoadCheckpoint: %s lists variable %s, but its data is missing", path, name)
			}
			value := src.MustValue()
			v := dst.GetVariableByScopeAndName(scope, vname)
			if v != nil && !v.Shape().Equal(value.Shape()) {
				return fmt.Errorf("train.LoadCheckpoint: variable %s has shape %s in the context but %s in %s",
					name, v.Shape(), value.Shape(), path)
			}
			updates = append(updates, update{scope, vname, value, trainable, v})
		}
		return nil
	}
	if err := plan(meta.Trainable, true); err != nil {
		return err
	}
	if err := plan(meta.Frozen, false); err != nil {
		return err
	}
	for _, u := range updates {
		if u.existing == nil {
			dst.InAbsPath(u.scope).VariableWithValue(u.name, u.value).SetTrainable(u.trainable)
			continue
		}
		if err := u.existing.SetValue(u.value); err != nil {
			return fmt.Errorf("train.LoadCheckpoint: %s: %w", context.JoinScope(u.scope, u.name), err)
		}
		u.existing.SetTrainable(u.trainable)
	}
	return nil
}

// loadGoMLX reads the GoMLX checkpoint of folder path into ctx. The index was checked first; a panic
// of GoMLX's loader on anything those checks missed is still an error, not a crash.
func loadGoMLX(ctx *context.Context, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: GoMLX could not read the checkpoint (damaged?): %v", path, r)
		}
	}()
	_, err = checkpoints.Load(ctx).Dir(path).Immediate().ExcludeAllParams().Done()
	return err
}

// sameVariables checks that GoMLX's index and LossLab's meta file name the same variables.
func sameVariables(path string, saved, listed []string) error {
	inSaved := map[string]bool{}
	for _, n := range saved {
		// GoMLX's saver adds a global step counter to a context that has none; LossLab does not list it.
		if inSaved[n] && n != "/global_step" {
			return fmt.Errorf("%s: GoMLX's index lists variable %s twice: damaged", path, n)
		}
		inSaved[n] = true
	}
	for _, n := range listed {
		if !inSaved[n] {
			return fmt.Errorf("%s lists variable %s, but its data is missing", path, n)
		}
		delete(inSaved, n)
	}
	for _, n := range saved {
		// GoMLX's saver adds a global step counter to a context that has none; LossLab does not list it.
		if inSaved[n] && n != "/global_step" {
			return fmt.Errorf("%s: variable %s is saved but not listed in %s: damaged", path, n, MetaFile)
		}
	}
	return nil
}

var tmpDirRe = regexp.MustCompile(`^\.tmp-(step-\d{8,})-\d+(\.old)?$`)

// tidy puts back the steps that a killed save had moved aside and removes the temporary folders of
// killed saves. The caller holds the run folder's exclusive lock, so no save is in progress.
func tidy(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	// Complete new copies first, then old copies: a step is restored from the first that exists.
	sort.SliceStable(entries, func(i, j int) bool {
		return !strings.HasSuffix(entries[i].Name(), ".old") && strings.HasSuffix(entries[j].Name(), ".old")
	})
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if m := tmpDirRe.FindStringSubmatch(e.Name()); m != nil && e.IsDir() {
			final := filepath.Join(dir, m[1])
			_, errFinal := os.Stat(final)
			_, errMeta := os.Stat(filepath.Join(path, MetaFile))
			if errors.Is(errFinal, os.ErrNotExist) && errMeta == nil {
				if err := os.Rename(path, final); err != nil {
					return fmt.Errorf("restoring %s from %s: %w", final, path, err)
				}
				continue
			}
		}
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("removing %s, left by an interrupted save: %w", path, err)
		}
	}
	return nil
}
