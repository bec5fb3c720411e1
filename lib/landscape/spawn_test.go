package landscape

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

func TestSpawnBarriers(t *testing.T) {
	set := blobs(t, 96, 4)
	mlp := models.NewMLP(3, 8)
	parent := train.Config{Model: mlp, Train: set, BatchSize: 16, Seed: 5, Silent: true, Optimizer: train.SGD(0.3, 0)}
	runs, err := train.Spawn(train.SpawnConfig{Parent: parent, SpawnSteps: []int{10, 0, 30}, ChildSteps: 15})
	if err != nil {
		t.Fatal(err)
	}
	res, err := SpawnBarriers(runs, SpawnOptions{Path: PathOptions{NumAlpha: 7}, Predictors: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 3 || res.Points[0].Step != 0 || res.Points[1].Step != 10 || res.Points[2].Step != 30 {
		t.Fatalf("points %+v", res.Points)
	}
	if len(res.ParentLoss) != 30 {
		t.Errorf("parent loss has %d steps, want 30", len(res.ParentLoss))
	}
	sizes := []int{4, 8, 3}
	d := FromSet(set)
	for _, pt := range res.Points {
		b := pt.Path.Curves[0].LossBarrier
		if b.Linear < 0 || pt.Angle < 0 || pt.Angle > 180 || pt.NormA <= 0 || pt.Predictors == nil || !pt.Predictors.HasP2 {
			t.Errorf("step %d: barrier %g angle %g norms %g %g predictors %v", pt.Step, b.Linear, pt.Angle, pt.NormA, pt.NormB, pt.Predictors)
		}
		if math.Abs(pt.Predictors.Gmid-b.Midpoint) > 1e-6 {
			t.Errorf("step %d: measured G_mid %g vs path midpoint gap %g", pt.Step, pt.Predictors.Gmid, b.Midpoint)
		}
	}
	// Reproduce spawn step 10 independently: a 10-step parent, then two children.
	p10 := parent
	p10.Steps = 10
	r10, err := train.Run(p10)
	if err != nil {
		t.Fatal(err)
	}
	child := parent
	child.Init, child.Steps = r10.Context, 15
	ra, rb, err := train.RunPair(child, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	spawn, _ := FromContext(r10.Context, nil)
	a, _ := FromContext(ra.Context, nil)
	b, _ := FromContext(rb.Context, nil)
	pt := res.Points[1]
	wantA, _ := refLossErr(a, sizes, d)
	wantB, _ := refLossErr(b, sizes, d)
	wantS, _ := refLossErr(spawn, sizes, d)
	if math.Abs(pt.LossA-wantA) > 1e-5 || math.Abs(pt.LossB-wantB) > 1e-5 || math.Abs(pt.SpawnLoss-wantS) > 1e-5 {
		t.Errorf("step 10: losses (%g, %g, spawn %g), reproduced (%g, %g, %g)", pt.LossA, pt.LossB, pt.SpawnLoss, wantA, wantB, wantS)
	}
	fa, fb, fs := a.Flat(), b.Flat(), spawn.Flat()
	dot, na, nb := 0.0, 0.0, 0.0
	for i := range fa {
		x, y := fa[i]-fs[i], fb[i]-fs[i]
		dot, na, nb = dot+x*y, na+x*x, nb+y*y
	}
	if want := math.Acos(dot/math.Sqrt(na*nb)) * 180 / math.Pi; math.Abs(pt.Angle-want) > 1e-6 {
		t.Errorf("step 10: angle %g°, reproduced %g°", pt.Angle, want)
	}
	file := filepath.Join(t.TempDir(), "spawn.json")
	if err := SaveJSON(file, res); err != nil {
		t.Fatal(err)
	}
	var back SpawnResult
	if err := LoadJSON(file, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Points) != 3 || back.Points[2].Path.Curves[0].LossBarrier != res.Points[2].Path.Curves[0].LossBarrier {
		t.Error("spawn result did not round-trip")
	}
	if _, err := SpawnBarriers(&train.SpawnRuns{}, SpawnOptions{}); err == nil {
		t.Error("SpawnBarriers accepted runs without pairs")
	}
}
