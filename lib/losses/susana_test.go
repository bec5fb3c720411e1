package losses

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

func refEpsDist(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s + 1e-6)
}

// refProtoTriplet: prototypes are the batch's class means, every row a query.
func refProtoTriplet(in map[string]Arr, p Params) (float64, []float64) {
	x, lab := in["features"], in["labels"]
	b, d := x.Shape[0], x.Shape[1]
	means := map[int][]float64{}
	counts := map[int]float64{}
	for i := range b {
		c := lab.Int(i)
		if c < 0 {
			continue
		}
		if means[c] == nil {
			means[c] = make([]float64, d)
		}
		for j := range d {
			means[c][j] += x.At2(i, j)
		}
		counts[c]++
	}
	for c := range means {
		for j := range d {
			means[c][j] /= counts[c]
		}
	}
	per := make([]float64, b)
	for i := range b {
		c := lab.Int(i)
		if c < 0 || len(means) < 2 {
			continue
		}
		pos, neg := refEpsDist(x.Row(i), means[c]), math.Inf(1)
		for o, m := range means {
			if o != c {
				neg = math.Min(neg, refEpsDist(x.Row(i), m))
			}
		}
		per[i] = math.Max(0, pos-neg+p["margin"])
	}
	return MeanOf(per), per
}

// refICNN is a float64 port of the authors' reference code's steps (with sorting).
func refICNN(x [][]float64, y []int, k, ipc int) float64 { return refICNNWith(x, y, k, ipc, nil) }

// refICNNWith is refICNN with the maximum of the different-class term, max_ij E_ij, replaced by
// eMax(E) when eMax is not nil; E maps each pair (i, j) with j among i's first k' neighbours and of
// another class to D_ij.
func refICNNWith(x [][]float64, y []int, k, ipc int, eMax func(e map[[2]int]float64) float64) float64 {
	n := len(x)
	if k+2 >= n {
		k = n - 2
	}
	if ipc == 0 {
		ipc = k + 1
	}
	kp := min(k, ipc)
	lamScNum, lamScCnt, eSum, dcCnt := 0.0, 0.0, 0.0, 0.0
	type nb struct {
		d  float64
		sc bool
	}
	e := map[[2]int]float64{}
	rows := make([][]nb, n)
	maxE := 0.0
	for i := range n {
		idx := []int{}
		for j := range n {
			if j != i {
				idx = append(idx, j)
			}
		}
		sort.SliceStable(idx, func(a, b int) bool { return refEpsDist(x[i], x[idx[a]]) < refEpsDist(x[i], x[idx[b]]) })
		for _, j := range idx[:ipc] {
			rows[i] = append(rows[i], nb{refEpsDist(x[i], x[j]), y[j] == y[i]})
		}
		for t, c := range rows[i][:kp] {
			if !c.sc {
				maxE = math.Max(maxE, c.d)
				e[[2]int{i, idx[t]}] = c.d
			}
		}
	}
	if eMax != nil {
		maxE = eMax(e)
	}
	gammaSum := 0.0
	for i := range n {
		nu := math.Inf(1)
		for _, c := range rows[i] {
			if !c.sc {
				nu = math.Min(nu, c.d)
			}
		}
		nrow := make([]float64, kp)
		mx := 0.0
		for t, c := range rows[i][:kp] {
			if !math.IsInf(nu, 1) {
				nrow[t] = c.d / (nu + 1e-7)
			}
			mx = math.Max(mx, nrow[t])
		}
		num, sc, e, dc := 0.0, 0.0, 0.0, 0.0
		for t, c := range rows[i][:kp] {
			if c.sc {
				num += nrow[t] / math.Max(1, mx)
				sc++
			} else {
				e += c.d / (maxE + 1e-7)
				dc++
			}
		}
		lamScNum += num / (sc + 1e-7)
		if sc > 0 {
			lamScCnt++
		}
		eSum += e / (dc + 1e-7)
		if dc > 0 {
			dcCnt++
		}
		gammaSum += sc
	}
	lamSc := 1 - lamScNum/(lamScCnt+1e-7)
	o := 0.0
	if dcCnt == 0 {
		o = -1
	}
	lamDc := math.Abs(eSum/(dcCnt+1e-7) + o)
	gamma := 1.0
	if k+2 < n {
		gamma = gammaSum / float64(n*k)
	}
	return ((lamSc+lamDc)/2 + gamma) / 2
}

func refICNNLoss(in map[string]Arr, p Params) (float64, []float64) {
	x := make([][]float64, in["features"].Shape[0])
	y := make([]int, len(x))
	for i := range x {
		x[i] = in["features"].Row(i)
		y[i] = in["labels"].Int(i)
	}
	return -math.Log(refICNN(x, y, int(p["k"]), int(p["ipc"]))), nil
}

func susanaBatch() map[string]Arr {
	return map[string]Arr{
		"features": Mat([]float64{0.3, -1.2}, []float64{0.7, 1.1}, []float64{-0.9, 0.5}, []float64{0.2, -0.3},
			[]float64{1.5, 0.15}, []float64{-0.4, 0.8}, []float64{0.9, -0.7}, []float64{1.3, 1.4}),
		"labels": Vec(0, 1, 2, 0, 1, 2, 0, 1),
	}
}

func TestSuSanaReference(t *testing.T) {
	in := susanaBatch()
	for _, m := range []float64{0.5, 0, 2} {
		CheckObjective(t, "proto-triplet", in, Params{"margin": m}, refProtoTriplet)
	}
	for _, p := range []Params{nil, {"k": 2, "ipc": 3}, {"k": 3, "ipc": 5}, {"k": 10}} {
		CheckObjective(t, "icnn", in, p, refICNNLoss)
	}
	big := map[string]Arr{"features": in["features"].Scaled(1e4), "labels": in["labels"]}
	CheckFinite(t, "proto-triplet", big, nil)
	CheckFinite(t, "icnn", big, nil)
}

// Properties 1–7 on hand-worked numbers.
func TestSuSanaWorkedNumbers(t *testing.T) {
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.7g, want %.7g", what, got, want)
		}
	}
	// Property 1: split form with given prototypes.
	pt := func(queries []float64, margin float64) float64 {
		out := runGraph(t, func(q, p, y *Node) *Node { return ReduceAllMean(ProtoTripletLoss(q, p, y, nil, margin)) },
			hbTensor(queries, 3, 2), hbTensor([]float64{0, 0, 3, 0, 0, 4}, 3, 2), hbTensor([]float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, 3, 3))
		return out[0][0]
	}
	q := []float64{0.5, 0, 2, 0, 0, 1}
	near("L_PT (m=0.5)", pt(q, 0.5), 0.833333, 1e-6)
	near("L_PT (m=0)", pt(q, 0), 0.666667, 1e-6)
	// Property 2: 0 when every query is m closer to its own prototype.
	near("L_PT separated", pt([]float64{0.1, 0, 2.9, 0, 0, 3.9}, 0.5), 0, 0)
	// Invariance to a rotation + translation of everything (registered form).
	in := susanaBatch()
	rot := in["features"].clone()
	c, s := math.Cos(0.7), math.Sin(0.7)
	for i := range rot.Shape[0] {
		a, b := in["features"].At2(i, 0), in["features"].At2(i, 1)
		rot.Data[2*i], rot.Data[2*i+1] = c*a-s*b+3, s*a+c*b-2
	}
	l1 := EvalArr(t, "proto-triplet", in, nil, 64).Loss
	l2 := EvalArr(t, "proto-triplet", map[string]Arr{"features": rot, "labels": in["labels"]}, nil, 64).Loss
	near("L_PT rotated+translated", l2, l1, 1e-9)
	// Property 3: the six-point ICNN example.
	six := map[string]Arr{
		"features": Mat([]float64{0, 0}, []float64{0, 1}, []float64{0, 2}, []float64{5, 0}, []float64{5, 1}, []float64{5, 2}),
		"labels":   Vec(0, 0, 0, 1, 1, 1),
	}
	for _, bits := range []int{32, 64} {
		l := EvalArr(t, "icnn", six, Params{"ipc": 3}, bits).Loss
		near("ICNN S (six points)", math.Exp(-l), 0.933333, 2e-6)
		near("ICNN loss (six points)", l, 0.068993, 2e-6)
	}
	// Property 4: three tight clusters (σ = 0.1, centres 10 apart), ipc = 4, k = 4; then shuffled labels.
	rng := rand.New(rand.NewPCG(7, 8))
	var pts [][]float64
	var labels []float64
	for cl := range 3 {
		for range 4 {
			pts = append(pts, []float64{10*float64(cl) + 0.1*rng.NormFloat64(), 0.1 * rng.NormFloat64()})
			labels = append(labels, float64(cl))
		}
	}
	tight := map[string]Arr{"features": Mat(pts...), "labels": Vec(labels...)}
	sTight := math.Exp(-EvalArr(t, "icnn", tight, Params{"ipc": 4}, 64).Loss)
	// γ = 0.75 (3 same-class neighbours among k = 4), λ_sc and λ_dc close to 1 for tight clusters: S ≈ 0.866.
	near("ICNN S (tight clusters)", sTight, 0.86618, 5e-3)
	_, refPer := refICNNLoss(tight, Params{"k": 4, "ipc": 4})
	_ = refPer
	lTight, _ := refICNNLoss(tight, Params{"k": 4, "ipc": 4})
	near("ICNN S (tight) vs reference", sTight, math.Exp(-lTight), 1e-9)
	shuffled := tight["labels"].clone()
	rng.Shuffle(len(shuffled.Data), func(a, b int) { shuffled.Data[a], shuffled.Data[b] = shuffled.Data[b], shuffled.Data[a] })
	sShuf := math.Exp(-EvalArr(t, "icnn", map[string]Arr{"features": tight["features"], "labels": shuffled}, Params{"ipc": 4}, 64).Loss)
	if !(sShuf < sTight-0.3) {
		t.Errorf("shuffled labels: S = %g, want well below the separated %g (spec example: 0.309)", sShuf, sTight)
	}
	// Property 5: similarity invariance (scale ×37, rotation, translation), up to the ε's.
	moved := susanaBatch()["features"].clone()
	for i := range moved.Shape[0] {
		a, b := moved.At2(i, 0), moved.At2(i, 1)
		moved.Data[2*i], moved.Data[2*i+1] = 37*(c*a-s*b)+5, 37*(s*a+c*b)-9
	}
	s1 := EvalArr(t, "icnn", susanaBatch(), nil, 64).Loss
	s2 := EvalArr(t, "icnn", map[string]Arr{"features": moved, "labels": susanaBatch()["labels"]}, nil, 64).Loss
	near("ICNN loss under similarity", s2, s1, 1e-4)
	// Property 6: S ∈ [0,1], so the loss is ≥ 0.
	if s1 < 0 || sShuf < 0 || sShuf > 1 {
		t.Errorf("ICNN out of range: loss %g, S_shuffled %g", s1, sShuf)
	}
}

// Property 7: the total is the average of the chosen terms, e.g. (CE + L_PT)/2 with ProtoNet logits.
func TestSuSanaCombine(t *testing.T) {
	q := []float64{0.5, 0, 2, 0, 0, 1}
	protos := []float64{0, 0, 3, 0, 0, 4}
	out := runGraph(t, func(q, p, y *Node) []*Node {
		labels := ArgMax(y, -1)
		ce := ReduceAllMean(CrossEntropy(ProtoNetLogits(q, p, 1), labels))
		pt := ReduceAllMean(ProtoTripletLoss(q, p, y, nil, 0.5))
		return []*Node{SuSanaCombine(ce, pt), ce, pt, ProtoNetLogits(q, p, 1)}
	}, hbTensor(q, 3, 2), hbTensor(protos, 3, 2), hbTensor([]float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, 3, 3))
	if math.Abs(out[2][0]-0.833333) > 1e-6 {
		t.Errorf("L_PT = %g, want 0.833333", out[2][0])
	}
	// Reference CE on -‖q - p‖².
	ce := 0.0
	for i := range 3 {
		logits := make([]float64, 3)
		for c := range 3 {
			dx, dy := q[2*i]-protos[2*c], q[2*i+1]-protos[2*c+1]
			logits[c] = -(dx*dx + dy*dy)
			if math.Abs(out[3][3*i+c]-logits[c]) > 1e-12 {
				t.Errorf("ProtoNet logit [%d,%d] = %g, want %g", i, c, out[3][3*i+c], logits[c])
			}
		}
		ce += refCE(logits, i) / 3
	}
	if math.Abs(out[1][0]-ce) > 1e-12 || math.Abs(out[0][0]-(ce+0.8333333333333334)/2) > 1e-6 {
		t.Errorf("combined %g (CE %g), want (CE + L_PT)/2 = %g", out[0][0], out[1][0], (ce+0.833333)/2)
	}
}

// The different-class term's max_ij E_ij is a full reduction in the reference code, so with exact ties
// its gradient is shared equally among the tied entries. Two class-0 points and two class-1 points on
// a parallelogram tie four entries at distance 3 (the pairs a–c and b–d, each seen from both ends): the
// gradient must be that of the function whose max is the mean of those four entries (held fixed as
// the tied set), by finite differences in float64; sending it all to the first entry differs. Away from
// ties (the parallelogram sheared) the gradient is the finite difference of the reference itself.
func TestSuSanaICNNTiedMaxGradient(t *testing.T) {
	toRows := func(in map[string]Arr) ([][]float64, []int) {
		x := make([][]float64, in["features"].Shape[0])
		y := make([]int, len(x))
		for i := range x {
			x[i], y[i] = in["features"].Row(i), in["labels"].Int(i)
		}
		return x, y
	}
	// a, b (class 0) and c, d (class 1) on a parallelogram: a–c and b–d are 3 apart, b–c and a–d farther.
	tied := map[string]Arr{
		"features": Mat([]float64{0, 0}, []float64{0.25, 1.25}, []float64{3, 0}, []float64{3.25, 1.25}),
		"labels":   Vec(0, 0, 1, 1),
	}
	tiedSet := func(in map[string]Arr, k, ipc int) (ties [][2]int) { // the entries equal to max E
		x0, y0 := toRows(in)
		refICNNWith(x0, y0, k, ipc, func(e map[[2]int]float64) float64 {
			m := 0.0
			for _, d := range e {
				m = math.Max(m, d)
			}
			for ij, d := range e {
				if d == m {
					ties = append(ties, ij)
				}
			}
			return m
		})
		sort.Slice(ties, func(a, b int) bool {
			return ties[a][0] < ties[b][0] || ties[a][0] == ties[b][0] && ties[a][1] < ties[b][1]
		})
		return ties
	}
	ties := tiedSet(tied, 4, 0)
	if len(ties) != 4 || ties[0] != [2]int{0, 2} || ties[1] != [2]int{1, 3} {
		t.Fatalf("tied entries of max E: %v, want (0,2), (1,3), (2,0), (3,1)", ties)
	}
	over := func(set [][2]int) RefFn {
		return func(in map[string]Arr, p Params) (float64, []float64) {
			x, y := toRows(in)
			return -math.Log(refICNNWith(x, y, int(p["k"]), int(p["ipc"]), func(e map[[2]int]float64) float64 {
				m := 0.0
				for _, ij := range set {
					m += e[ij] / float64(len(set))
				}
				return m
			})), nil
		}
	}
	CheckObjectiveGrad(t, "icnn", tied, nil, refICNNLoss, over(ties))
	// The split matters: all of it to one tied pair is another gradient.
	g := EvalArr(t, "icnn", tied, nil, 64).Grad["features"]
	rp := Params{"k": 4, "ipc": 0}
	first := FiniteDiff(tied, "features", func(m map[string]Arr) float64 { l, _ := over(ties[:1])(m, rp); return l })
	even := FiniteDiff(tied, "features", func(m map[string]Arr) float64 { l, _ := over(ties)(m, rp); return l })
	diff := 0.0
	for i := range first {
		diff = math.Max(diff, math.Abs(first[i]-even[i]))
	}
	if diff < 1e-3 {
		t.Fatalf("even split and first-entry gradients agree (max diff %g): the tie does not test anything", diff)
	}
	for i := range g {
		if math.Abs(g[i]-even[i]) > 1e-6 {
			t.Errorf("d loss/d x[%d] = %.8g: even split %.8g, first entry %.8g", i, g[i], even[i], first[i])
		}
	}
	// Without ties: shear the parallelogram so that a–c is the single largest entry.
	sheared := map[string]Arr{
		"features": Mat([]float64{0, 0}, []float64{0.25, 1.25}, []float64{3.1, 0}, []float64{3.25, 1.25}),
		"labels":   Vec(0, 0, 1, 1),
	}
	CheckObjective(t, "icnn", sheared, nil, refICNNLoss)
	CheckObjective(t, "icnn", susanaBatch(), Params{"k": 3, "ipc": 5}, refICNNLoss)
	// The six-point worked example (two columns of three, 5 apart) ties the three horizontal pairs: the
	// even split keeps its mirror symmetry, ∂/∂x of the top and bottom points equal.
	six := map[string]Arr{
		"features": Mat([]float64{0, 0}, []float64{0, 1}, []float64{0, 2}, []float64{5, 0}, []float64{5, 1}, []float64{5, 2}),
		"labels":   Vec(0, 0, 0, 1, 1, 1),
	}
	sixTies := tiedSet(six, 4, 3)
	if len(sixTies) != 6 {
		t.Fatalf("six points: tied entries of max E %v, want the 3 horizontal pairs from both ends", sixTies)
	}
	CheckObjectiveGrad(t, "icnn", six, Params{"ipc": 3}, refICNNLoss, over(sixTies))
	g6 := EvalArr(t, "icnn", six, Params{"ipc": 3}, 64).Grad["features"]
	if math.Abs(g6[0]-g6[4]) > 1e-12 || math.Abs(g6[6]-g6[10]) > 1e-12 {
		t.Errorf("six points: ∂/∂x of the mirror-image points differ: %g vs %g, %g vs %g", g6[0], g6[4], g6[6], g6[10])
	}
}
