package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// stderr receives the landscape commands' progress lines (the evaluator's progress bars write to the
// process's stderr themselves). Tests replace it.
var stderr io.Writer = os.Stderr

func progressf(format string, args ...any) { fmt.Fprintf(stderr, "losslab: "+format+"\n", args...) }

// checkpointRef is one checkpoint named on the command line, as written to the provenance.
type checkpointRef struct {
	Arg   string `json:"arg"`   // as given: DIR or DIR@STEP
	Path  string `json:"path"`  // the step folder read
	Step  int    `json:"step"`  // its training step
	Model string `json:"model"` // the model it holds
}

// loaded is a checkpoint read for the landscape engine.
type loaded struct {
	ref    checkpointRef
	model  models.Model
	params *landscape.ParamSet
}

// checkpointMeta is the part of lib/train's side file (train.MetaFile) the command reads to rebuild
// the model; train.LoadCheckpointFor checks the file in full when the parameters are read.
type checkpointMeta struct {
	Step  int    `json:"step"`
	Model string `json:"model"`
}

// resolveCheckpoint finds the step folder that arg names: a step folder itself ("run/step-00000100"),
// a run folder (its latest checkpoint) or RUN@STEP.
func resolveCheckpoint(arg string) (checkpointRef, error) {
	dir, step := arg, -1
	if i := strings.LastIndex(arg, "@"); i >= 0 {
		s, err := strconv.Atoi(arg[i+1:])
		if err != nil || s < 0 {
			return checkpointRef{}, fmt.Errorf("checkpoint %q: the part after @ must be a step number", arg)
		}
		dir, step = arg[:i], s
	}
	switch st, err := os.Stat(dir); {
	case errors.Is(err, os.ErrNotExist):
		return checkpointRef{}, fmt.Errorf("checkpoint %q: no such folder %s", arg, dir)
	case err != nil:
		return checkpointRef{}, fmt.Errorf("checkpoint %q: %w", arg, err)
	case !st.IsDir():
		return checkpointRef{}, fmt.Errorf("checkpoint %q: %s is a file; give its run folder or step folder", arg, dir)
	}
	ref := checkpointRef{Arg: arg}
	_, metaErr := os.Stat(filepath.Join(dir, train.MetaFile))
	switch {
	case step >= 0:
		c, err := train.FindCheckpoint(dir, step)
		if err != nil {
			return ref, fmt.Errorf("checkpoint %q: %w", arg, err)
		}
		ref.Path = c.Path
	case metaErr == nil:
		ref.Path = dir
	default:
		list, err := train.ListCheckpoints(dir)
		if err != nil {
			return ref, fmt.Errorf("checkpoint %q: %w", arg, err)
		}
		if len(list) == 0 {
			return ref, fmt.Errorf("checkpoint %q: %s holds no LossLab checkpoint (a step-NNNNNNNN folder with %s, as train.Config.CheckpointDir writes)", arg, dir, train.MetaFile)
		}
		ref.Path = list[len(list)-1].Path
	}
	metaFile := filepath.Join(ref.Path, train.MetaFile)
	b, err := os.ReadFile(metaFile)
	if err != nil {
		return ref, fmt.Errorf("checkpoint %q: %w", arg, err)
	}
	var meta checkpointMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		return ref, fmt.Errorf("checkpoint %q: %s is damaged: %v", arg, metaFile, err)
	}
	ref.Step, ref.Model = meta.Step, meta.Model
	return ref, nil
}

// loadCheckpoint reads the checkpoint arg names, rebuilding its model from the name lib/train recorded
// (or from modelName, for a checkpoint that records none).
func loadCheckpoint(arg, modelName string) (*loaded, error) {
	ref, err := resolveCheckpoint(arg)
	if err != nil {
		return nil, err
	}
	switch {
	case ref.Model == "" && modelName == "":
		return nil, fmt.Errorf("checkpoint %q records no model name: give it with -model (e.g. -model mlp-64-64-10)", arg)
	case ref.Model == "":
		ref.Model = modelName
	case modelName != "" && modelName != ref.Model:
		return nil, fmt.Errorf("checkpoint %q holds model %s, not %s (given with -model)", arg, ref.Model, modelName)
	}
	m, err := modelFromName(ref.Model)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %q: %w", arg, err)
	}
	progressf("reading %s (step %d, %s)", ref.Path, ref.Step, ref.Model)
	ctx, err := train.LoadCheckpointFor(m, ref.Path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %q: %w", arg, err)
	}
	ps, err := landscape.FromContext(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %q: %w", arg, err)
	}
	return &loaded{ref: ref, model: m, params: ps}, nil
}

// sameModel checks that checkpoints hold the same model with the same parameter shapes.
func sameModel(first *loaded, others ...*loaded) error {
	for _, o := range others {
		if o.ref.Model != first.ref.Model {
			return fmt.Errorf("checkpoints do not match: %s holds %s but %s holds %s", first.ref.Path, first.ref.Model, o.ref.Path, o.ref.Model)
		}
		if err := first.params.Compatible(o.params); err != nil {
			return fmt.Errorf("checkpoints %s and %s do not match: %v", first.ref.Path, o.ref.Path, err)
		}
	}
	return nil
}

// modelFromName rebuilds a lib/models model from its Name: "linear-K", "mlp-H1-…-K[-activation][-norm]"
// or "cnn-C1-…-HIDDEN-K" (28×28×1 images, Fashion-MNIST's). The rebuilt model must give the same name.
func modelFromName(name string) (models.Model, error) {
	parts := strings.Split(name, "-")
	var nums []int
	rest := parts[1:]
	for len(rest) > 0 {
		n, err := strconv.Atoi(rest[0])
		if err != nil {
			break
		}
		nums, rest = append(nums, n), rest[1:]
	}
	var m models.Model
	switch {
	case parts[0] == "linear" && len(nums) == 1 && len(rest) == 0:
		m = &models.Linear{Classes: nums[0]}
	case parts[0] == "mlp" && len(nums) >= 1:
		mlp := &models.MLP{Hidden: nums[:len(nums)-1], Classes: nums[len(nums)-1]}
		if len(rest) > 0 && rest[0] != "layernorm" && rest[0] != "batchnorm" {
			mlp.Activation, rest = rest[0], rest[1:]
		}
		if len(rest) > 0 {
			mlp.Norm, rest = rest[0], rest[1:]
		}
		if err := mlp.Check(); err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("cannot rebuild model %q: not an MLP name lib/models writes", name)
		}
		m = mlp
	case parts[0] == "cnn" && len(nums) >= 3 && len(rest) == 0:
		m = &models.CNN{Channels: nums[:len(nums)-2], Hidden: nums[len(nums)-2], Classes: nums[len(nums)-1]}
	default:
		return nil, fmt.Errorf("cannot rebuild model %q from its name: the command line knows lib/models' linear, mlp and cnn models", name)
	}
	if m.Name() != name {
		return nil, fmt.Errorf("cannot rebuild model %q from its name (rebuilt %q)", name, m.Name())
	}
	return m, nil
}

// datasets lists the -data values.
var datasets = []string{"fashion-mnist"}

// dataInfo is the provenance of an evaluation set.
type dataInfo struct {
	Dataset string `json:"dataset"`
	Split   string `json:"split"`
	N       int    `json:"n"`
	Classes int    `json:"classes"`
	Seed    uint64 `json:"subset_seed"`
}

// loadData returns n examples (balanced across classes, chosen with seed; n ≤ 0: all) of a split of
// the named dataset.
func loadData(dataset, split string, n int, seed uint64) (*landscape.Data, dataInfo, error) {
	set, info, err := loadSet(dataset, split, n, seed)
	if err != nil {
		return nil, info, err
	}
	d := landscape.FromSet(set)
	d.Name = split
	return d, info, nil
}

// loadSet is loadData for training: the examples as a data set.
func loadSet(dataset, split string, n int, seed uint64) (*data.Set, dataInfo, error) {
	info := dataInfo{Dataset: dataset, Split: split, Seed: seed}
	if dataset != "fashion-mnist" {
		return nil, info, fmt.Errorf("unknown -data %q (datasets: %s)", dataset, strings.Join(datasets, ", "))
	}
	set, err := data.FashionMNIST(split, data.WithSubset(n), data.WithSeed(seed))
	if err != nil {
		return nil, info, err
	}
	info.N, info.Classes = set.Len(), set.Classes
	return set, info, nil
}

// checkFits checks that the checkpoint's model takes the data's examples and has its classes, so that
// a checkpoint trained on other data is an error rather than a wrong number.
func checkFits(in *loaded, info dataInfo, d *landscape.Data) error {
	if classes := modelClasses(in.model); classes != info.Classes {
		return fmt.Errorf("%s holds %s, a model of %d classes, but %s has %d classes (is -data right?)", in.ref.Path, in.ref.Model, classes, info.Dataset, info.Classes)
	}
	dim := 1
	for _, n := range d.Shape {
		dim *= n
	}
	if w := in.params.Lookup("/dense_0/weights"); w != nil && !strings.HasPrefix(in.ref.Model, "cnn") && len(w.Shape) == 2 && w.Shape[0] != dim {
		return fmt.Errorf("%s holds %s, whose first layer takes %d inputs, but %s examples have %d values (is -data right?)", in.ref.Path, in.ref.Model, w.Shape[0], info.Dataset, dim)
	}
	return nil
}

// modelClasses is the number of classes a lib/models model predicts (0 for a kind it does not know).
func modelClasses(m models.Model) int {
	switch m := m.(type) {
	case *models.Linear:
		return m.Classes
	case *models.MLP:
		return m.Classes
	case *models.CNN:
		return m.Classes
	}
	return 0
}

// objectiveInfo is the provenance of the loss.
type objectiveInfo struct {
	Name   string        `json:"name"`
	Params losses.Params `json:"params,omitempty"`
}

// evaluatorConfig checks the objective (an unknown name is an error that suggests near names) and
// returns the engine's configuration for it.
func evaluatorConfig(name, set string, label string) (landscape.Config, objectiveInfo, error) {
	o, err := losses.Lookup(name)
	if err != nil {
		return landscape.Config{}, objectiveInfo{}, err
	}
	params, err := losses.ParseParams(set)
	if err != nil {
		return landscape.Config{}, objectiveInfo{}, err
	}
	resolved, err := o.Resolve(params)
	if err != nil {
		return landscape.Config{}, objectiveInfo{}, err
	}
	return landscape.Config{Objective: o.Name, ObjectiveParams: params, Label: label}, objectiveInfo{o.Name, resolved}, nil
}

// version names the LossLab build: the module version, or the VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev != "" {
		return fmt.Sprintf("%s (revision %.12s%s)", v, rev, modified)
	}
	return v
}
