package train

import (
	"slices"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
)

// TestSpawn: the spawn steps come back sorted and deduplicated, the parent runs to the last one, and
// the children of a step are exactly what a parent of that length and RunPair give.
func TestSpawn(t *testing.T) {
	set, err := data.Blobs(data.BlobsConfig{N: 96, Classes: 3, Dim: 4, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	parent := Config{Model: models.NewMLP(3, 8), Train: set, BatchSize: 16, Seed: 5, Silent: true, Optimizer: SGD(0.3, 0)}
	runs, err := Spawn(SpawnConfig{Parent: parent, SpawnSteps: []int{10, 0, 30, 10}, ChildSteps: 15})
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, p := range runs.Pairs {
		steps = append(steps, p.Step)
	}
	if !slices.Equal(steps, []int{0, 10, 30}) || runs.Parent.Steps != 30 || runs.Config.Parent.Steps != 30 {
		t.Fatalf("spawn steps %v, parent %d steps (config %d); want [0 10 30] and 30", steps, runs.Parent.Steps, runs.Config.Parent.Steps)
	}
	if runs.Config.DataSeeds != [2]uint64{1, 2} {
		t.Errorf("default data seeds %v, want [1 2]", runs.Config.DataSeeds)
	}
	p10 := parent
	p10.Steps = 10
	r10, err := Run(p10)
	if err != nil {
		t.Fatal(err)
	}
	child := parent
	child.Init, child.Steps = r10.Context, 15
	ra, rb, err := RunPair(child, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	pair := runs.Pairs[1]
	for _, c := range []struct {
		what      string
		got, want *Result
	}{{"spawn point", &Result{Context: pair.Spawn}, r10}, {"child A", pair.A, ra}, {"child B", pair.B, rb}} {
		got, err := Flat(c.got.Context)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Flat(c.want.Context)
		if !slices.Equal(got, want) {
			t.Errorf("step 10, %s: parameters differ from the reproduction", c.what)
		}
	}
	if slices.Equal(runs.Pairs[1].A.History, runs.Pairs[1].B.History) {
		t.Error("the two children trained on the same data order")
	}
	for _, bad := range []SpawnConfig{
		{Parent: parent, SpawnSteps: []int{5}, ChildSteps: 3, DataSeeds: [2]uint64{3, 3}},
		{Parent: parent, SpawnSteps: []int{-1, 5}, ChildSteps: 3},
		{Parent: parent, ChildSteps: 3},
		{Parent: parent, SpawnSteps: []int{5}},
	} {
		if _, err := Spawn(bad); err == nil {
			t.Errorf("Spawn accepted %+v", bad)
		}
	}
}
