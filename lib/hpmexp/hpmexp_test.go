package hpmexp

import (
	"math"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/train"
	"github.com/losslab/losslab/lib/verdict"
)

// tiny is a configuration small enough for a unit test.
func tiny() Config {
	c := Default()
	c.NTrain, c.NProbe, c.NVal, c.NTest, c.NHeld, c.Batch = 96, 64, 32, 64, 32, 32
	c.Dim, c.Epochs, c.ProbeEpochs, c.Runs = 8, 2, 1, 1
	c.LRs = []float64{3e-3}
	return c
}

func TestCheck(t *testing.T) {
	for _, c := range []Config{Default(), Quick(), tiny()} {
		if err := c.Check(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	bad := map[string]func(*Config){
		"probe not a multiple of the batch": func(c *Config) { c.NProbe = 100 },
		"more probe than training images":   func(c *Config) { c.NProbe = c.NTrain + c.Batch },
		"more held-out than test images":    func(c *Config) { c.NHeld = c.NTest + c.Batch },
		"no learning rates":                 func(c *Config) { c.LRs = nil },
		"negative learning rate":            func(c *Config) { c.LRs = []float64{-1} },
		"EMA decay 1":                       func(c *Config) { c.EMADecay = 1 },
		"mask ratio 1":                      func(c *Config) { c.MaskRatio = 1 },
		"no runs":                           func(c *Config) { c.Runs = 0 },
	}
	for name, f := range bad {
		c := Default()
		f(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: Check accepted it", name)
		}
	}
}

// TestInputs checks the selection matrices against the masks, and that a mask with another count of
// masked patches is refused.
func TestInputs(t *testing.T) {
	x := make([]float32, 2*side*side)
	for i := range x {
		x[i] = float32(i % 97)
	}
	masks := [][]bool{make([]bool, NumTokens), make([]bool, NumTokens)}
	for _, t := range []int{0, 5, 48} {
		masks[0][t] = true
	}
	for _, t := range []int{1, 2, 3} {
		masks[1][t] = true
	}
	in, err := inputs(x, masks)
	if err != nil {
		t.Fatal(err)
	}
	if got := in[2].Shape().Dimensions; got[0] != 2 || got[1] != 3 || got[2] != NumTokens {
		t.Fatalf("masked selection shape %v, want [2 3 49]", got)
	}
	m := tensors.MustCopyFlatData[float32](in[2])
	s := tensors.MustCopyFlatData[float32](in[1])
	vis := tensors.MustCopyFlatData[float32](in[3])
	for i, mk := range masks {
		im, iv := 0, 0
		for tok, masked := range mk {
			if masked {
				if m[(i*3+im)*NumTokens+tok] != 1 {
					t.Errorf("image %d: masked row %d does not select token %d", i, im, tok)
				}
				im++
			} else {
				if s[(i*(NumTokens-3)+iv)*NumTokens+tok] != 1 {
					t.Errorf("image %d: visible row %d does not select token %d", i, iv, tok)
				}
				iv++
			}
			if want := map[bool]float32{true: 0, false: 1}[masked]; vis[i*NumTokens+tok] != want {
				t.Errorf("image %d token %d: visible indicator %g, want %g", i, tok, vis[i*NumTokens+tok], want)
			}
		}
	}
	masks[1][10] = true
	if _, err := inputs(x, masks); err == nil || !strings.Contains(err.Error(), "mask 1") {
		t.Errorf("unequal mask counts: err = %v, want one naming mask 1", err)
	}
}

// TestTeacherFollow checks the EMA step: decay 0 copies the student, decay 0.5 lands half-way.
func TestTeacherFollow(t *testing.T) {
	c := tiny()
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(3))
	// The student's variables (encoder and loss decoder) come from one run of the teacher's graph.
	exec := context.MustNewExec(backend.Must(), ctx, func(ctx *context.Context, p *Node) *Node { return predictAll(ctx, p, c.Dim) })
	exec.MustExec(tensors.FromFlatDataAndDimensions(make([]float32, NumTokens*pix), 1, NumTokens, pix))
	teacher, err := newTeacher(ctx, c.Dim)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := train.Flat(ctx)
	moved := make([]float32, len(start))
	for i, v := range start {
		moved[i] = v + 1
	}
	if err := train.SetFlat(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if err := teacher.follow(ctx, 0.5); err != nil {
		t.Fatal(err)
	}
	got, _ := train.Flat(teacher.ctx)
	for i := range got {
		if math.Abs(float64(got[i]-(start[i]+0.5))) > 1e-5 {
			t.Fatalf("parameter %d: teacher %g after decay 0.5, want %g", i, got[i], start[i]+0.5)
		}
	}
	if err := teacher.follow(ctx, 0); err != nil {
		t.Fatal(err)
	}
	got, _ = train.Flat(teacher.ctx)
	for i := range got {
		if got[i] != moved[i] {
			t.Fatalf("parameter %d: teacher %g after decay 0, want the student's %g", i, got[i], moved[i])
		}
	}
}

// TestTrainHPM runs arm (c) at tiny size: the curves have one entry per epoch (plus the start), the
// probe accuracy is a probability and the teacher's maps cover the 49 patches.
func TestTrainHPM(t *testing.T) {
	c := tiny()
	d, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	r, err := c.Train(d, HPM, 3e-3, 1, d.Test, func(string) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Spearman) != c.Epochs+1 || len(r.Rec) != c.Epochs+1 || len(r.Curve) != c.Epochs || calls != c.Epochs {
		t.Errorf("lengths: Spearman %d, Rec %d, Curve %d, progress calls %d; want %d, %d, %d, %d",
			len(r.Spearman), len(r.Rec), len(r.Curve), calls, c.Epochs+1, c.Epochs+1, c.Epochs, c.Epochs)
	}
	if !(r.Probe >= 0 && r.Probe <= 1) {
		t.Errorf("probe accuracy %g", r.Probe)
	}
	if len(r.TeacherMaps) != numMaps || len(r.TeacherMaps[0]) != NumTokens {
		t.Errorf("teacher maps %d × %d, want %d × %d", len(r.TeacherMaps), len(r.TeacherMaps[0]), numMaps, NumTokens)
	}
	if Final(r.Rec) >= r.Rec[0] {
		t.Errorf("held-out reconstruction loss did not fall: %v", r.Rec)
	}
	if _, err := c.Train(d, "(d) other", 1e-3, 1, d.Test, nil); err == nil {
		t.Error("an unknown arm was accepted")
	}
}

// TestClaims decides hand-made results: a clear gain of (c) over (a), none of (b) over (a).
func TestClaims(t *testing.T) {
	runs := func(m Mode, probes, rho []float64) []*Run {
		var out []*Run
		for i := range probes {
			out = append(out, &Run{Mode: m, Probe: probes[i], Spearman: []float64{0, rho[i]}})
		}
		return out
	}
	r := &Result{Chosen: map[Mode]float64{MAE: 1e-3, Pred: 1e-3, HPM: 3e-3}, Runs: map[Mode][]*Run{
		MAE:  runs(MAE, []float64{0.60, 0.61, 0.62}, []float64{0, 0, 0}),
		Pred: runs(Pred, []float64{0.61, 0.60, 0.62}, []float64{0.5, 0.6, 0.7}),
		HPM:  runs(HPM, []float64{0.65, 0.66, 0.67}, []float64{0.4, 0.25, 0.5}),
	}}
	rep, err := verdict.Decide("14-hpm", r.Claims()...)
	if err != nil {
		t.Fatal(err)
	}
	want := []verdict.Outcome{verdict.Reproduced, verdict.NotReproduced, verdict.Reproduced, verdict.NotReproduced}
	for i, w := range want {
		if rep.Claims[i].Outcome != w {
			t.Errorf("claim %d (%s): %s, want %s", i+1, rep.Claims[i].Claim, rep.Claims[i].Outcome, w)
		}
	}
	if got := rep.Claims[3].Effect; got != 0.25 {
		t.Errorf("sanity check shows %g, want the lowest Spearman 0.25", got)
	}
	if rep.Claims[3].Counted {
		t.Error("the Spearman sanity check is counted")
	}
}
