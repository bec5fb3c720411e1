package losses

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// refGaussians returns μ and σ² [N][D] (float64 reference) from supports and 0/1 membership [S][N].
func refGaussians(sup [][]float64, member [][]float64, sigma0 float64) (mu, v [][]float64) {
	nc, d := len(member[0]), len(sup[0])
	mu, v = make([][]float64, nc), make([][]float64, nc)
	for c := range nc {
		mu[c], v[c] = make([]float64, d), make([]float64, d)
		cnt := 0.0
		for s := range sup {
			if member[s][c] == 1 {
				cnt++
				for j := range d {
					mu[c][j] += sup[s][j]
				}
			}
		}
		for j := range d {
			mu[c][j] /= math.Max(cnt, 1)
		}
		for s := range sup {
			if member[s][c] == 1 {
				for j := range d {
					v[c][j] += (sup[s][j] - mu[c][j]) * (sup[s][j] - mu[c][j])
				}
			}
		}
		for j := range d {
			v[c][j] = v[c][j]/math.Max(cnt, 1) + sigma0
		}
	}
	return mu, v
}

func refGaussDist(q []float64, mu, v [][]float64) []float64 {
	d := make([]float64, len(mu))
	for c := range mu {
		for j := range q {
			d[c] += 0.5*(q[j]-mu[c][j])*(q[j]-mu[c][j])/v[c][j] + 0.5*math.Log(v[c][j])
		}
	}
	return d
}

func refMargins(v [][]float64, kappa float64) []float64 {
	m := make([]float64, len(v))
	for c := range v {
		for _, x := range v[c] {
			m[c] += math.Sqrt(x)
		}
		m[c] *= kappa / float64(len(v[c]))
	}
	return m
}

// refGPAMLoss: y = -1 for a NOTA query; valid marks real classes.
func refGPAMLoss(d, m []float64, y int, valid []bool, rho, m0, tau float64) float64 {
	var logits []float64
	target := 0.0
	for c := range d {
		if !valid[c] {
			continue
		}
		l := -d[c] / tau
		if c == y {
			l = -(d[c] + m[c]) / tau
			target = l
		}
		logits = append(logits, l)
	}
	nota := -rho / tau
	if y < 0 {
		nota = -(rho + m0) / tau
		target = nota
	}
	return RefLogSumExp(append(logits, nota)) - target
}

func refGPAMBatch(in map[string]Arr, p Params) (float64, []float64) {
	x, lab := in["features"], in["labels"]
	b := x.Shape[0]
	rows := make([][]float64, b)
	col := make([]int, b) // class column of each row, -1 for NOTA
	valid := make([]bool, b)
	for i := range b {
		rows[i] = x.Row(i)
		col[i] = -1
		if lab.Int(i) < 0 {
			continue
		}
		for j := 0; j <= i; j++ {
			if lab.Int(j) == lab.Int(i) {
				col[i] = j
				break
			}
		}
		valid[col[i]] = true
	}
	member := make([][]float64, b)
	for i := range b {
		member[i] = make([]float64, b)
		if col[i] >= 0 {
			member[i][col[i]] = 1
		}
	}
	mu, v := refGaussians(rows, member, p["sigma0sq"])
	m := refMargins(v, p["kappa"])
	per := make([]float64, b)
	for i := range b {
		per[i] = refGPAMLoss(refGaussDist(rows[i], mu, v), m, col[i], valid, p["rho"], p["m0"], p["tau"])
	}
	return MeanOf(per), per
}

func TestGPAMReference(t *testing.T) {
	in := map[string]Arr{
		"features": Mat([]float64{0.3, -1.2}, []float64{0.7, 1.1}, []float64{-0.9, 0.5}, []float64{0.2, -0.3},
			[]float64{1.5, 0.1}, []float64{-0.4, 0.8}, []float64{0.9, -0.7}),
		"labels": Vec(4, 2, 4, -1, 2, 7, 4), // class 7 has one support; row 3 is NOTA
	}
	for _, p := range []Params{nil, {"rho": 1.5, "tau": 0.5, "kappa": 0.5, "m0": 0.4, "sigma0sq": 0.3}} {
		CheckObjective(t, "gpam", in, p, refGPAMBatch)
	}
	CheckFinite(t, "gpam", map[string]Arr{"features": in["features"].Scaled(1e4), "labels": in["labels"]}, nil)
}

// gpamSpec runs the split form on a small worked example: two classes of three supports, one query.
func gpamSpec(t *testing.T, q []float64, y int, rho, m0 float64, fixedMargin float64, kappa float64, shift []float64) (d []float64, loss float64) {
	t.Helper()
	sup := []float64{0, 0, 0.2, 0, 0, 0.2, 2, 2, 2.4, 2, 2, 2.4}
	for i := range sup {
		sup[i] += shift[i%2]
	}
	q = []float64{q[0] + shift[0], q[1] + shift[1]}
	member := []float64{1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1}
	yy := []float64{0, 0}
	if y >= 0 {
		yy[y] = 1
	}
	out := runGraph(t, func(sup, member, q, yy *Node) []*Node {
		mu, v := GaussianPrototypes(sup, member, Scalar(sup.Graph(), sup.DType(), 0.1))
		dist := GaussianDistances(q, mu, v)
		m := GPAMMargins(v, kappa)
		if fixedMargin >= 0 {
			m = MulScalar(OnesLike(m), fixedMargin)
		}
		rhoN := Scalar(q.Graph(), q.DType(), rho)
		return []*Node{dist, GPAMLoss(dist, m, yy, nil, rhoN, m0, 1), mu, v}
	}, hbTensor(sup, 6, 2), hbTensor(member, 6, 2), hbTensor(q, 1, 2), hbTensor(yy, 1, 2))
	return out[0], out[1][0]
}

// Properties 1–7 on hand-worked numbers.
func TestGPAMWorkedNumbers(t *testing.T) {
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.7g, want %.7g", what, got, want)
		}
	}
	noShift := []float64{0, 0}
	// Property 1: the Gaussians.
	out := runGraph(t, func(sup, member *Node) []*Node {
		mu, v := GaussianPrototypes(sup, member, Scalar(sup.Graph(), sup.DType(), 0.1))
		return []*Node{mu, v, GPAMMargins(v, 1)}
	}, hbTensor([]float64{0, 0, 0.2, 0, 0, 0.2, 2, 2, 2.4, 2, 2, 2.4}, 6, 2), hbTensor([]float64{1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1}, 6, 2))
	near("μ_0", out[0][0], 0.0667, 1e-4)
	near("μ_1", out[0][2], 2.1333, 1e-4)
	near("σ²_0", out[1][0], 0.1089, 1e-4)
	near("σ²_1", out[1][3], 0.1356, 1e-4)
	near("m_0 (κ=1)", out[2][0], 0.32998, 1e-5)
	near("m_1 (κ=1)", out[2][1], 0.36818, 1e-5)
	// A per-dimension floor [D] (e.g. softplus of a learned vector) broadcasts like the scalar one.
	vec := runGraph(t, func(sup, member, floor *Node) *Node {
		_, v := GaussianPrototypes(sup, member, floor)
		return v
	}, hbTensor([]float64{0, 0, 0.2, 0, 0, 0.2, 2, 2, 2.4, 2, 2, 2.4}, 6, 2), hbTensor([]float64{1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1}, 6, 2), hbTensor([]float64{0.1, 0.3}, 2))
	near("σ²_0 with floor (0.1, 0.3), dim 0", vec[0][0], out[1][0], 1e-15)
	near("σ²_0 with floor (0.1, 0.3), dim 1", vec[0][1], out[1][1]+0.2, 1e-15)
	// Property 2.
	d, l := gpamSpec(t, []float64{0.1, 0.1}, 0, 3, 0.2, 0.2, 1, noShift)
	near("d_0", d[0], -2.2072, 1e-4)
	near("d_1", d[1], 28.5016, 1e-4)
	near("L (m=0.2)", l, 0.006667, 1e-6)
	_, l0 := gpamSpec(t, []float64{0.1, 0.1}, 0, 3, 0.2, 0, 1, noShift)
	near("L (m=0)", l0, 0.005462, 1e-6)
	if !(l > l0) {
		t.Errorf("loss does not increase with the margin: %g <= %g", l, l0)
	}
	_, la := gpamSpec(t, []float64{0.1, 0.1}, 0, 3, 0.2, -1, 1, noShift)
	near("L (adaptive κ=1)", la, 0.007589, 1e-6)
	// Property 3: ρ → ∞ and m = 0 give the N-way CE over -d.
	d, lInf := gpamSpec(t, []float64{0.1, 0.1}, 0, 1e6, 0.2, 0, 1, noShift)
	near("L (ρ→∞)", lInf, RefLogSumExp([]float64{-d[0], -d[1]})+d[0], 1e-15)
	near("L (ρ→∞) value", lInf, 4.574e-14, 1e-16)
	// Property 4: NOTA queries.
	d, ln := gpamSpec(t, []float64{1, 1}, -1, 3, 0.2, -1, 1, noShift)
	near("NOTA d_0", d[0], 5.7826, 1e-4)
	near("NOTA d_1", d[1], 7.4770, 1e-4)
	near("NOTA L", ln, 0.085685, 1e-6)
	_, lfar := gpamSpec(t, []float64{5, -3}, -1, 3, 0.2, -1, 1, noShift)
	near("far NOTA L", lfar, 0, 1e-9)
	// Property 5: translation.
	_, ls := gpamSpec(t, []float64{0.1, 0.1}, 0, 3, 0.2, 0.2, 1, []float64{7, -1})
	near("L shifted by (7,-1)", ls, 0.006667, 1e-6)
	// Property 6: σ² ≡ 1 gives ½‖q − μ‖².
	out = runGraph(t, func(q, mu, v *Node) *Node { return GaussianDistances(q, mu, v) },
		hbTensor([]float64{0.1, 0.1}, 1, 2), hbTensor([]float64{0.2 / 3, 0.2 / 3}, 1, 2), hbTensor([]float64{1, 1}, 1, 2))
	near("½‖q−μ‖²", out[0][0], (0.1-0.2/3)*(0.1-0.2/3), 1e-12)
	near("½‖q−μ‖² spec value", out[0][0], 0.001111, 1e-6)
	// Property 7: L ≥ 0; ρ up lowers known-query loss and raises NOTA loss.
	prevK, prevN := math.Inf(1), math.Inf(-1)
	for _, rho := range []float64{0, 1, 3, 6, 10} {
		_, lk := gpamSpec(t, []float64{0.1, 0.1}, 0, rho, 0.2, -1, 1, noShift)
		_, lnq := gpamSpec(t, []float64{1, 1}, -1, rho, 0.2, -1, 1, noShift)
		if lk < 0 || lnq < 0 || lk > prevK || lnq < prevN {
			t.Errorf("ρ=%g: known %g (prev %g), NOTA %g (prev %g): want L ≥ 0, known decreasing, NOTA increasing", rho, lk, prevK, lnq, prevN)
		}
		prevK, prevN = lk, lnq
	}
}
