package losses

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/losslab/losslab/internal/graphtest"
)

// runGraph builds and runs a graph function (any signature graph.NewExecAny takes) on the given
// arguments and returns every output flattened to float64. It is for exported graph functions whose
// inputs do not fit an objective kind (e.g. PromptMRG's [B,S,C] logits); objectives go through Evaluate.
func runGraph(t testing.TB, fn any, args ...any) [][]float64 {
	t.Helper()
	return graphtest.Run(t, fn, args...)
}

// refPromptMRG is the float64 reference of one entry's logit-adjusted CE: states z, POS = 1.
func refPromptMRG(z []float64, label int, pi float64) float64 {
	adj := append([]float64(nil), z...)
	adj[1] += math.Log(math.Max(pi, 1e-6))
	return RefLogSumExp(adj) - adj[label]
}

func promptMRGBatch() map[string]Arr {
	return map[string]Arr{
		"logits": Mat(
			[]float64{0.2, 1.0, 0.5, -0.3},
			[]float64{-0.4, 0.3, 1.2, 0.1},
			[]float64{0.9, -0.7, 0.05, 0.6},
			[]float64{0.15, 2.1, -1.0, 0.35},
		),
		"labels": Vec(1, 2, 0, 3),
	}
}

func TestPromptMRGReference(t *testing.T) {
	ref := func(in map[string]Arr, p Params) (float64, []float64) {
		z, y := in["logits"], in["labels"]
		per := make([]float64, z.Shape[0])
		for i := range per {
			per[i] = refPromptMRG(z.Row(i), y.Int(i), p["pi"])
		}
		return MeanOf(per), per
	}
	for _, pi := range []float64{1, 0.25, 0.01} {
		CheckObjective(t, "promptmrg-la", promptMRGBatch(), Params{"pi": pi}, ref)
	}
	huge := map[string]Arr{
		"logits": Mat([]float64{1e4, -1e4, 0, 5e3}, []float64{-1e4, 1e4, 1e4, -1e4}),
		"labels": Vec(1, 3),
	}
	CheckFinite(t, "promptmrg-la", huge, Params{"pi": 1e-9})
	CheckFinite(t, "promptmrg-la", huge, nil)
}

// Property 1: with π = 1 the loss is plain CE over the states.
func TestPromptMRGUnitPriorIsCE(t *testing.T) {
	la := EvalArr(t, "promptmrg-la", promptMRGBatch(), nil, 64)
	ce := EvalArr(t, "ce", promptMRGBatch(), nil, 64)
	for i := range ce.PerExample {
		if math.Abs(la.PerExample[i]-ce.PerExample[i]) > 1e-12 {
			t.Errorf("π=1: per-example[%d] = %g, CE %g", i, la.PerExample[i], ce.PerExample[i])
		}
	}
}

// Property 2: a hand-worked table for one disease with logits [0.2, 1.0, 0.5, -0.3].
func TestPromptMRGWorkedTable(t *testing.T) {
	rows := []struct{ pi, adjPos, cePos, ceNeg, gradPos float64 }{
		{1, 1.0, 0.845178, 1.345178, -0.570519},
		{0.25, -0.386294, 1.842701, 0.956406, -0.841611},
	}
	z := []float64{0.2, 1.0, 0.5, -0.3}
	for _, r := range rows {
		if got := z[1] + math.Log(r.pi); math.Abs(got-r.adjPos) > 1e-6 {
			t.Errorf("π=%g: adjusted POS logit %.6f, want %.6f", r.pi, got, r.adjPos)
		}
		for _, c := range []struct {
			label int
			want  float64
		}{{1, r.cePos}, {2, r.ceNeg}} {
			for _, bits := range []int{32, 64} {
				res := EvalArr(t, "promptmrg-la", map[string]Arr{"logits": Mat(z), "labels": Vec(float64(c.label))}, Params{"pi": r.pi}, bits)
				if math.Abs(res.Loss-c.want) > 2e-6 {
					t.Errorf("float%d π=%g label=%d: CE = %.6f, want %.6f", bits, r.pi, c.label, res.Loss, c.want)
				}
				if c.label == 1 && math.Abs(res.Grad["logits"][1]-r.gradPos) > 2e-6 {
					t.Errorf("float%d π=%g: dL/dZ_POS = %.6f, want %.6f", bits, r.pi, res.Grad["logits"][1], r.gradPos)
				}
			}
		}
	}
	// A smaller π raises the loss on POS labels, lowers it on the others, and pushes the raw POS logit up harder.
	if !(rows[1].cePos > rows[0].cePos && rows[1].ceNeg < rows[0].ceNeg && rows[1].gradPos < rows[0].gradPos) {
		t.Error("worked table is not monotone in π")
	}
}

// Property 3: for a featureless 2-state problem (state 0 = NEG, state 1 = POS) with POS frequency f, the
// adjusted CE over constant raw logits is minimised at z_POS - z_NEG = log(f/(1-f)) - log π.
func TestPromptMRGOptimalShift(t *testing.T) {
	const f, pi = 0.1, 0.25
	want := math.Log(f/(1-f)) - math.Log(pi)
	if math.Abs(want-(-0.810930)) > 1e-6 {
		t.Fatalf("optimal shift %.6f, spec says -0.810930", want)
	}
	// 10 examples, one POS: the gradient of the mean loss w.r.t. the shared difference d = z_POS - z_NEG is
	// the sum over rows of dL/dz_POS. It must vanish at the optimum and change sign around it.
	gradAt := func(d float64) float64 {
		rows := make([][]float64, 10)
		labels := make([]float64, 10)
		for i := range rows {
			rows[i] = []float64{0, d}
		}
		labels[0] = 1
		res := EvalArr(t, "promptmrg-la", map[string]Arr{"logits": Mat(rows...), "labels": Vec(labels...)}, Params{"pi": pi}, 64)
		g := 0.0
		for i := range rows {
			g += res.Grad["logits"][2*i+1]
		}
		return g
	}
	if g := gradAt(want); math.Abs(g) > 1e-12 {
		t.Errorf("gradient at the optimal shift = %g, want 0", g)
	}
	if gl, gr := gradAt(want-0.1), gradAt(want+0.1); !(gl < 0 && gr > 0) {
		t.Errorf("gradient around the optimum: %g (left), %g (right); want negative then positive", gl, gr)
	}
}

// Property 4: the learning-status update's worked numbers, plus the guards.
func TestPromptMRGUpdatePrior(t *testing.T) {
	p := [][]float64{{0.9, 0.2}, {0.7, 0.4}, {0.1, 0.3}}
	m := [][]bool{{true, true}, {true, false}, {false, true}}
	prior, ls, err := PromptMRGUpdatePrior([]float64{0.5, 0.5, 1}, p, m)
	if err != nil {
		t.Fatal(err)
	}
	wantLS, wantPi := []float64{0.8, 0.25}, []float64{1, 0.3125, 1}
	checkNear(t, "ls", ls, wantLS, 1e-12)
	checkNear(t, "π", prior, wantPi, 1e-12)
	if lp := math.Log(prior[1]); math.Abs(lp-(-1.163151)) > 1e-6 {
		t.Errorf("log π[1] = %.6f, want -1.163151", lp)
	}
	// Guards: a disease without positives keeps its previous π; ls = 0 is floored at 1e-6.
	prior, _, err = PromptMRGUpdatePrior([]float64{0.7, 0.4, 0.9}, [][]float64{{0.8, 0.3, 0}, {0.6, 0.1, 0}},
		[][]bool{{true, false, true}, {true, false, false}})
	if err != nil {
		t.Fatal(err)
	}
	if prior[0] != 1 || prior[1] != 0.4 || prior[2] != PromptMRGMinPrior {
		t.Errorf("guards: π = %v, want [1 0.4 %g]", prior, PromptMRGMinPrior)
	}
	if _, _, err := PromptMRGUpdatePrior([]float64{1}, p, m); err == nil {
		t.Error("expected an error for a prior shorter than the number of diseases")
	}
	init, err := PromptMRGInitialPrior([]float64{0.2, 0.05, 0.4}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.5, 0.125, 1, 1, 1}; len(init) != 5 || init[0] != want[0] || init[1] != want[1] || init[4] != 1 {
		t.Errorf("initial prior %v, want %v", init, want)
	}
	if _, err := PromptMRGInitialPrior([]float64{0, 0}, 0); err == nil {
		t.Error("expected an error for all-zero base probabilities")
	}
}

// Properties 5 and 6 on the full [B,4,C] layout: CE over axis 1, log π_c added at index 1 only, mean over
// B·C; no gradient flows into π. Also checks PromptMRGPosProbabilities.
func TestPromptMRGFullLayout(t *testing.T) {
	const bsz, s, c = 2, 4, 3
	z := []float64{ // [B,S,C] row-major
		0.2, -0.5, 1.1, 1.0, 0.3, -0.2, 0.5, 0.9, 0.4, -0.3, 0.1, 0.0,
		-1.0, 0.6, 0.25, 0.7, -0.8, 1.3, 0.05, 0.2, -0.6, 0.4, 1.5, 0.3,
	}
	labels := []int32{1, 2, 0, 3, 1, 1}
	prior := []float64{0.25, 1, 0.01}
	z32 := make([]float32, len(z))
	for i, v := range z {
		z32[i] = float32(v)
	}
	out := runGraph(t, func(logits, labels, prior *Node) []*Node {
		per := PromptMRGLoss(logits, labels, prior)
		loss := ReduceAllMean(per)
		grads := Gradient(loss, logits, prior)
		return []*Node{per, grads[0], grads[1], PromptMRGPosProbabilities(logits)}
	}, tensors.FromFlatDataAndDimensions(z32, bsz, s, c), tensors.FromFlatDataAndDimensions(labels, bsz, c),
		tensors.FromFlatDataAndDimensions([]float32{0.25, 1, 0.01}, c))
	per, gradZ, gradPi, posP := out[0], out[1], out[2], out[3]
	at := func(b, st, d int) float64 { return z[(b*s+st)*c+d] }
	refMean := func(zz []float64) float64 {
		sum := 0.0
		for b := range bsz {
			for d := range c {
				states := make([]float64, s)
				for st := range s {
					states[st] = zz[(b*s+st)*c+d]
				}
				sum += refPromptMRG(states, int(labels[b*c+d]), prior[d])
			}
		}
		return sum / (bsz * c)
	}
	for b := range bsz {
		for d := range c {
			states := make([]float64, s)
			for st := range s {
				states[st] = at(b, st, d)
			}
			want := refPromptMRG(states, int(labels[b*c+d]), prior[d])
			if got := per[b*c+d]; math.Abs(got-want) > 1e-5*math.Abs(want)+1e-6 {
				t.Errorf("entry [%d,%d]: %g, want %g", b, d, got, want)
			}
			if got, want := posP[b*c+d], RefSoftmax(states)[1]; math.Abs(got-want) > 1e-6 {
				t.Errorf("POS probability [%d,%d]: %g, want %g", b, d, got, want)
			}
		}
	}
	fd := FiniteDiff(map[string]Arr{"z": {Shape: []int{len(z)}, Data: z}}, "z", func(m map[string]Arr) float64 { return refMean(m["z"].Data) })
	for i := range fd {
		if math.Abs(gradZ[i]-fd[i]) > 1e-4 {
			t.Errorf("dL/dZ[%d] = %g, finite differences %g", i, gradZ[i], fd[i])
		}
	}
	for i, g := range gradPi {
		if g != 0 {
			t.Errorf("dL/dπ[%d] = %g, want 0 (π is a constant)", i, g)
		}
	}
}
