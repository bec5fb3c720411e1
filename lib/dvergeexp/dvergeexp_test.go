package dvergeexp

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
)

// tiny is a configuration small enough for a unit test.
func tiny() Config {
	c := Quick()
	c.NTrain, c.NVal, c.NTest = 256, 64, 64
	c.Hidden = []int{8, 8}
	c.Batch = 64
	c.ExtraEpochs = 2
	c.PGDSteps = 2
	c.SweepEps = []float64{0.1}
	c.Runs = 2
	return c
}

func TestCheck(t *testing.T) {
	if err := Default().Check(); err != nil {
		t.Fatalf("Default: %v", err)
	}
	if err := Quick().Check(); err != nil {
		t.Fatalf("Quick: %v", err)
	}
	for name, tc := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"one member":     {func(c *Config) { c.Members = 1 }, "at least 2"},
		"no hidden":      {func(c *Config) { c.Hidden = nil }, "hidden"},
		"empty grid":     {func(c *Config) { c.LRs = nil }, "grid"},
		"zero rate":      {func(c *Config) { c.LRs = []float64{1e-3, 0} }, "learning rate 0"},
		"batch > train":  {func(c *Config) { c.NTrain = 10 }, "batch"},
		"no attack":      {func(c *Config) { c.AttackEps = 0 }, "attack ε"},
		"no runs":        {func(c *Config) { c.Runs = 0 }, "runs"},
		"negative sweep": {func(c *Config) { c.SweepEps = []float64{-0.1} }, "sweep"},
	} {
		c := Default()
		tc.edit(&c)
		err := c.Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
		if _, err := Run(c, nil); err == nil {
			t.Errorf("%s: Run accepted the configuration", name)
		}
	}
}

// lossOf evaluates trainer t's loss on a fixed random batch with the parameters of ctx.
func lossOf(t *testing.T, tr trainer, ctx *context.Context) float64 {
	t.Helper()
	loss, err := tr.loss()
	if err != nil {
		t.Fatal(err)
	}
	b, d := 6, 5
	x := make([]float32, b*d)
	for i := range x {
		x[i] = float32((i*37)%11) / 11
	}
	y := []int32{0, 1, 2, 0, 1, 2}
	exec := context.MustNewExec(backend.Must(), ctx.Checked(false), func(ctx *context.Context, x, y *Node) *Node {
		logits, features := tr.Forward(ctx, x)
		return ConvertDType(loss([]*Node{y}, []*Node{logits, features}), dtypes.Float64)
	})
	out := exec.MustExec(tensors.FromFlatDataAndDimensions(x, b, d), tensors.FromValue(y))
	return tensors.ToScalar[float64](out[0])
}

// With ε = 0 the distilled images are the sources, so DVERGE's Σ_i L_i is (M−1)·Σ_i CE(f_i(x), y): the
// blocks of the stacked logits are routed to the right members.
func TestDVERGELossAtZeroRadius(t *testing.T) {
	a := &arch{Hidden: []int{7, 4}, Classes: 3}
	for _, m := range []int{2, 3} {
		ctx := context.New()
		ce := lossOf(t, trainer{ensemble: ensemble{a: a, M: m}}, ctx)
		for layer := 1; layer <= 2; layer++ {
			tr := trainer{ensemble: ensemble{a: a, M: m}, Layer: layer}
			tr.Distill.Epsilon, tr.Distill.StepSize, tr.Distill.Steps, tr.Distill.Momentum = 0, 0.01, 2, 1
			got := lossOf(t, tr, ctx)
			if want := float64(m-1) * ce; math.Abs(got-want) > 1e-5*want {
				t.Errorf("M = %d, layer %d: DVERGE loss at ε = 0 is %g, want (M−1)·ΣCE = %g", m, layer, got, want)
			}
		}
	}
}

// With ε > 0 the distilled images differ from the sources, and DVERGE's loss differs from (M−1)·ΣCE
// (the test above would pass for a loss that ignores the distilled images).
func TestDVERGELossUsesDistilledImages(t *testing.T) {
	a := &arch{Hidden: []int{7, 4}, Classes: 3}
	ctx := context.New()
	ce := lossOf(t, trainer{ensemble: ensemble{a: a, M: 3}}, ctx)
	tr := trainer{ensemble: ensemble{a: a, M: 3}, Layer: 1}
	tr.Distill.Epsilon, tr.Distill.StepSize, tr.Distill.Steps, tr.Distill.Momentum = 0.5, 0.1, 5, 1
	if got := lossOf(t, tr, ctx); math.Abs(got-2*ce) < 1e-4 {
		t.Errorf("DVERGE loss at ε = 0.5 is %g = 2·ΣCE: the distilled images are not used", got)
	}
}

func TestOffDiagonal(t *testing.T) {
	off, diag := offDiagonal([][]float64{{0.1, 0.5, 0.6}, {0.7, 0.2, 0.8}, {0.9, 1.0, 0.3}})
	if math.Abs(off-0.75) > 1e-12 || math.Abs(diag-0.2) > 1e-12 {
		t.Errorf("offDiagonal = %g, %g; want 0.75, 0.2", off, diag)
	}
}

func TestStopEpoch(t *testing.T) {
	curve := []EpochEval{{ValTransfer: 0.5}, {ValTransfer: 0.4}, {ValTransfer: 0.5}, {ValTransfer: 0.3}}
	if got := stopEpoch(curve); got != 0 {
		t.Errorf("a control that only gets worse stops at epoch %d, want 0 (the baseline; ties to the earlier)", got)
	}
	curve[2].ValTransfer = 0.6
	if got := stopEpoch(curve); got != 2 {
		t.Errorf("stopEpoch = %d, want 2", got)
	}
}

func TestRunTiny(t *testing.T) {
	c := tiny()
	var said []string
	res, err := Run(c, func(s string) { said = append(said, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(said) != 1+2*len(c.LRs)+2*c.Runs {
		t.Errorf("progress called %d times: %q", len(said), said)
	}
	if len(res.Tuning) != 2 || res.Tuning[0].Arm != Control || res.Tuning[1].Arm != DVERGE {
		t.Fatalf("tuning %+v: want control then DVERGE", res.Tuning)
	}
	for _, tu := range res.Tuning {
		if len(tu.ValTransfer) != len(c.LRs) {
			t.Fatalf("%s: %d tuning scores for %d rates", tu.Arm, len(tu.ValTransfer), len(c.LRs))
		}
		for i, v := range tu.ValTransfer {
			if v > tu.ValTransfer[tu.Best] {
				t.Errorf("%s: chose rate %d (%g) but rate %d scores %g", tu.Arm, tu.Best, tu.ValTransfer[tu.Best], i, v)
			}
		}
	}
	if len(res.Runs) != c.Runs {
		t.Fatalf("%d runs, want %d", len(res.Runs), c.Runs)
	}
	for k, r := range res.Runs {
		if r.Seed != uint64(k+1) {
			t.Errorf("run %d has seed %d", k, r.Seed)
		}
		if len(r.Control.Layers) != 0 || len(r.DVERGE.Layers) != c.ExtraEpochs {
			t.Errorf("run %d: layers control %v, DVERGE %v", k, r.Control.Layers, r.DVERGE.Layers)
		}
		if r.Control.LR != c.LRs[res.Tuning[0].Best] || r.DVERGE.LR != c.LRs[res.Tuning[1].Best] {
			t.Errorf("run %d: rates %g, %g are not the tuned ones", k, r.Control.LR, r.DVERGE.LR)
		}
		for _, a := range []ArmRun{r.Control, r.DVERGE} {
			if len(a.Curve) != c.ExtraEpochs+1 || a.Stop < 0 || a.Stop > c.ExtraEpochs {
				t.Fatalf("run %d, %s: %d evaluations, stop %d", k, a.Arm, len(a.Curve), a.Stop)
			}
			for e, ev := range a.Curve {
				if ev.Epoch != e || len(ev.Matrix) != c.Members || len(ev.Members) != c.Members {
					t.Errorf("run %d, %s, epoch %d: %+v", k, a.Arm, e, ev)
				}
				for _, v := range []float64{ev.ValClean, ev.ValTransfer, ev.Clean, ev.Transfer, ev.Sibling, ev.WhiteBox} {
					if !(v >= 0 && v <= 1) {
						t.Errorf("run %d, %s, epoch %d: accuracy %g outside [0, 1]", k, a.Arm, e, v)
					}
				}
			}
			if len(a.Loss) != c.ExtraEpochs*(c.NTrain/c.Batch) {
				t.Errorf("run %d, %s: %d loss records", k, a.Arm, len(a.Loss))
			}
		}
		// Both arms start from the same baseline: epoch 0 is the same ensemble.
		c0, d0 := r.Control.Curve[0], r.DVERGE.Curve[0]
		if c0.Clean != d0.Clean || c0.Transfer != d0.Transfer || c0.Sibling != d0.Sibling {
			t.Errorf("run %d: the arms start from different ensembles: %+v vs %+v", k, c0, d0)
		}
		if len(r.SweepBaseline) != len(c.SweepEps) || len(r.SweepDVERGE) != len(c.SweepEps) {
			t.Errorf("run %d: sweep lengths %d, %d", k, len(r.SweepBaseline), len(r.SweepDVERGE))
		}
	}
	// Independent runs: different initialisations give different baselines.
	if res.Runs[0].Control.Curve[0].Members[0] == res.Runs[1].Control.Curve[0].Members[0] &&
		res.Runs[0].Control.Curve[0].Transfer == res.Runs[1].Control.Curve[0].Transfer {
		t.Errorf("runs 1 and 2 have the same baseline")
	}
	got := res.PerRun(func(r *RunResult) float64 { return float64(r.Seed) })
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("PerRun = %v", got)
	}
}
