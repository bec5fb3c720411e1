package losses

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// refGPG is the float64 reference of one GPG step for one example: ½ KL(softmax(g) ‖ softmax(z)) + ½ CE.
func refGPG(z, g []float64, y int) float64 {
	lq, lp := hbLogSoftmax(g), hbLogSoftmax(z)
	kl := 0.0
	for k := range z {
		kl += math.Exp(lq[k]) * (lq[k] - lp[k])
	}
	return 0.5*kl - 0.5*lp[y]
}

func gpgRef(frozenTeacher *Arr) RefFn {
	return func(in map[string]Arr, _ Params) (float64, []float64) {
		s, tt := in["student"], in["teacher"]
		if frozenTeacher != nil {
			tt = *frozenTeacher
		}
		per := make([]float64, s.Shape[0])
		for i := range per {
			per[i] = refGPG(s.Row(i), tt.Row(i), in["labels"].Int(i))
		}
		return MeanOf(per), per
	}
}

func TestGPGReference(t *testing.T) {
	in := map[string]Arr{
		"student": Mat([]float64{0.3, -1.2, 2.0}, []float64{0.7, 1.1, -0.4}, []float64{-0.9, 0.5, 1.6}),
		"teacher": Mat([]float64{1.0, -0.5, 1.5}, []float64{0.2, 2.1, -1.0}, []float64{-0.3, 0.4, 0.9}),
		"labels":  Vec(2, 1, 0),
	}
	frozen := in["teacher"].clone()
	// The guide is detached: the gradient reference holds it fixed.
	CheckObjectiveGrad(t, "gpg", in, nil, gpgRef(nil), gpgRef(&frozen))
	res := EvalArr(t, "gpg", in, nil, 64)
	for i, g := range res.Grad["teacher"] {
		if g != 0 {
			t.Errorf("d L/d guide[%d] = %g, want 0", i, g)
		}
	}
	CheckFinite(t, "gpg", map[string]Arr{"student": in["student"].Scaled(1e4), "teacher": in["teacher"].Scaled(1e4), "labels": in["labels"]}, nil)
	// Property 7: equal logits give ½ CE.
	same := map[string]Arr{"student": in["student"], "teacher": in["student"], "labels": in["labels"]}
	got := EvalArr(t, "gpg", same, nil, 64).PerExample
	for i := range got {
		if want := 0.5 * refCE(in["student"].Row(i), in["labels"].Int(i)); math.Abs(got[i]-want) > 1e-12 {
			t.Errorf("z = ẑ: per-example %g, want ½ CE = %g", got[i], want)
		}
	}
}

// The GPG chain over several subnets (the ẑ ← sg(z_k) state carried from subnet to subnet) against its
// float64 reference, with gradients against finite differences that hold the guides fixed.
func TestGPGChain(t *testing.T) {
	const n, b, k = 4, 3, 4
	rng := rand.New(rand.NewPCG(3, 4))
	zs := make([][]float64, n)
	for s := range zs {
		zs[s] = make([]float64, b*k)
		for i := range zs[s] {
			zs[s][i] = rng.NormFloat64() * 1.5
		}
	}
	labels := []int32{1, 3, 0}
	refChain := func(zs, guides [][]float64, subnets int) float64 {
		total := 0.0
		for i := range b {
			total += refCE(zs[0][i*k:(i+1)*k], int(labels[i])) / b
		}
		for s := 1; s < subnets; s++ {
			for i := range b {
				total += refGPG(zs[s][i*k:(i+1)*k], guides[s-1][i*k:(i+1)*k], int(labels[i])) / b
			}
		}
		return total
	}
	for subnets := 1; subnets <= n; subnets++ {
		out := runGraph(t, func(z []*Node) []*Node {
			l := GPGChain(z[:subnets], z[n])
			return append([]*Node{l}, Gradient(l, z[:n]...)...)
		}, hbTensor(zs[0], b, k), hbTensor(zs[1], b, k), hbTensor(zs[2], b, k), hbTensor(zs[3], b, k),
			tensors.FromFlatDataAndDimensions(labels, b))
		want := refChain(zs, zs, subnets)
		if math.Abs(out[0][0]-want) > 1e-12 {
			t.Errorf("%d subnets: chain loss %.12g, reference %.12g", subnets, out[0][0], want)
		}
		if subnets == 1 {
			ce := 0.0
			for i := range b {
				ce += refCE(zs[0][i*k:(i+1)*k], int(labels[i])) / b
			}
			if math.Abs(out[0][0]-ce) > 1e-12 {
				t.Errorf("n = 1: %g, want plain CE %g", out[0][0], ce)
			}
		}
		for s := range n {
			arr := map[string]Arr{"z": {Shape: []int{b * k}, Data: zs[s]}}
			fd := FiniteDiff(arr, "z", func(m map[string]Arr) float64 {
				pert := append([][]float64(nil), zs...)
				pert[s] = m["z"].Data
				return refChain(pert, zs, subnets) // guides stay at the unperturbed logits
			})
			for i := range fd {
				if math.Abs(out[1+s][i]-fd[i]) > 1e-6 {
					t.Errorf("%d subnets: dL/dz_%d[%d] = %g, finite differences %g", subnets, s, i, out[1+s][i], fd[i])
				}
			}
		}
	}
}

// Properties 5 and 6: moments and WDR.
func TestWDR(t *testing.T) {
	moments := func(w []float64, dims ...int) (float64, float64) {
		out := runGraph(t, func(w *Node) []*Node { s, k := EQMoments(w); return []*Node{s, k} }, hbTensor(w, dims...))
		return out[0][0], out[1][0]
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.7g, want %.7g", what, got, want)
		}
	}
	s, k := moments([]float64{-1, 0, 1}, 3)
	near("skew [-1,0,1]", s, 0, 1e-15)
	near("kurt [-1,0,1]", k, 2.0/3, 1e-15)
	near("(kurt-1.8)²", (k-1.8)*(k-1.8), 1.284444, 1e-6)
	s, k = moments([]float64{0, 0, 0, 4}, 2, 2)
	near("skew [0,0,0,4]", s, 0.75, 1e-15)
	near("kurt [0,0,0,4]", k, 1.3125, 1e-15)
	s, k = moments([]float64{7, 7, 7, 19}, 4)
	near("skew under 3W+7", s, 0.75, 1e-12)
	near("kurt under 3W+7", k, 1.3125, 1e-12)
	// WDR over two tensors, value and gradient against float64 finite differences.
	w1, w2 := []float64{-1, 0, 1}, []float64{0, 0.5, 0, 4}
	refMom := func(w []float64) (float64, float64) {
		m := MeanOf(w)
		v := 0.0
		for _, x := range w {
			v += (x - m) * (x - m)
		}
		sd := math.Sqrt(v / float64(len(w)-1))
		s3, s4 := 0.0, 0.0
		for _, x := range w {
			z := (x - m) / sd
			s3 += z * z * z
			s4 += z * z * z * z
		}
		return s3 / float64(len(w)), s4 / float64(len(w))
	}
	refWDR := func(a, b []float64) float64 {
		kt, st := 0.0, 0.0
		for _, w := range [][]float64{a, b} {
			s, k := refMom(w)
			kt += (k - 1.8) * (k - 1.8)
			st += s * s
		}
		return WDRLambdaK*kt/2 + WDRLambdaS*st/2
	}
	out := runGraph(t, func(a, b *Node) []*Node {
		l := WDRLoss([]*Node{a, b}, WDRLambdaK, WDRLambdaS, WDRTargetKurtosis)
		return append([]*Node{l}, Gradient(l, a, b)...)
	}, hbTensor(w1, 3), hbTensor(w2, 2, 2))
	near("WDR", out[0][0], refWDR(w1, w2), 1e-14)
	fd1 := FiniteDiff(map[string]Arr{"w": Vec(w1...)}, "w", func(m map[string]Arr) float64 { return refWDR(m["w"].Data, w2) })
	fd2 := FiniteDiff(map[string]Arr{"w": Vec(w2...)}, "w", func(m map[string]Arr) float64 { return refWDR(w1, m["w"].Data) })
	checkGrad(t, "dWDR/dW1", out[1], fd1, 1e-6, 1e-9)
	checkGrad(t, "dWDR/dW2", out[2], fd2, 1e-6, 1e-9)
	// Large samples: uniform ≈ 1.8, Gaussian ≈ 3 (WDR kurtosis term ≈ 0.0216), Laplace ≈ 6 (≈ 0.26).
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 100000
	uni, gau, lap := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		uni[i] = rng.Float64()
		gau[i] = rng.NormFloat64()
		lap[i] = rng.ExpFloat64()
		if rng.IntN(2) == 0 {
			lap[i] = -lap[i]
		}
	}
	_, ku := moments(uni, n)
	_, kg := moments(gau, n)
	_, kl := moments(lap, n)
	near("uniform kurtosis", ku, 1.8, 0.02)
	near("Gaussian kurtosis", kg, 3, 0.06)
	near("Laplace kurtosis", kl, 6, 0.35)
	near("Gaussian WDR kurtosis term", WDRLambdaK*(kg-1.8)*(kg-1.8), 0.0214, 0.003)
}
