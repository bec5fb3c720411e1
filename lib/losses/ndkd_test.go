package losses

import (
	"math"
	"math/rand"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// refNDRow is the ND term for one example with the class mean c of its label.
func refNDRow(s, t, c []float64) float64 {
	norm := func(x []float64) float64 {
		q := 0.0
		for _, v := range x {
			q += v * v
		}
		return math.Sqrt(q)
	}
	nc := norm(c)
	proj := 0.0
	for j := range s {
		proj += s[j] * c[j] / nc
	}
	return 1 - proj/math.Max(norm(s), norm(t))
}

// refClassMeans returns the mean of the rows of t per label (k classes).
func refClassMeans(t Arr, y Arr, k int) [][]float64 {
	means := make([][]float64, k)
	counts := make([]float64, k)
	for c := range means {
		means[c] = make([]float64, t.Shape[1])
	}
	for i := 0; i < t.Shape[0]; i++ {
		c := y.Int(i)
		counts[c]++
		for j, v := range t.Row(i) {
			means[c][j] += v
		}
	}
	for c := range means {
		for j := range means[c] {
			if counts[c] > 0 {
				means[c][j] /= counts[c]
			}
		}
	}
	return means
}

// ndBatch: B = 4, K = 3, D = 2; the student norms straddle the teacher norms (no ties).
func ndBatch() map[string]Arr {
	return map[string]Arr{
		"student":          Mat([]float64{1.2, -0.3, 0.5}, []float64{-1.0, 0.4, 0.9}, []float64{0.3, 1.7, -0.8}, []float64{0.6, 0.1, -0.4}),
		"teacher":          Mat([]float64{2.5, -1.0, 0.2}, []float64{-0.5, 1.3, 0.6}, []float64{0.9, 2.2, -1.5}, []float64{1.4, -0.2, 0.3}),
		"labels":           Vec(0, 2, 1, 0),
		"student_features": Mat([]float64{3, 4}, []float64{-1, 0.5}, []float64{0.2, 2.5}, []float64{1.5, -2}),
		"teacher_features": Mat([]float64{2, 1}, []float64{-3, 1}, []float64{0.5, 1.5}, []float64{4, 0.5}),
	}
}

func refNDKD(in map[string]Arr, p Params) (float64, []float64) {
	s, t, y := in["student"], in["teacher"], in["labels"]
	sf, tf := in["student_features"], in["teacher_features"]
	if sf.Data == nil {
		sf, tf = s, t
	}
	means := refClassMeans(tf, y, s.Shape[1])
	per := make([]float64, s.Shape[0])
	for i := range per {
		nd := refNDRow(sf.Row(i), tf.Row(i), means[y.Int(i)])
		if _, full := p["lambda_cls"]; full {
			per[i] = p["lambda_cls"]*refCE(s.Row(i), y.Int(i)) +
				p["lambda_kd"]*p["warmup"]*refKDRow(s.Row(i), t.Row(i), p["temperature"]) + p["lambda_nd"]*nd
		} else {
			per[i] = p["lambda_nd"] * nd
		}
	}
	return MeanOf(per), per
}

func TestNDKDReference(t *testing.T) {
	in := ndBatch()
	logitsOnly := map[string]Arr{"student": in["student"], "teacher": in["teacher"], "labels": in["labels"]}
	for _, batch := range []map[string]Arr{in, logitsOnly} {
		grad := kdHold(refNDKD, batch, "teacher", "teacher_features")
		for _, p := range []Params{nil, {"lambda_nd": 2}} {
			CheckObjectiveGrad(t, "nd-loss", batch, p, refNDKD, grad)
		}
		for _, p := range []Params{nil, {"lambda_cls": 0.5, "lambda_kd": 3.5, "lambda_nd": 1.5, "temperature": 2, "warmup": 0.25}} {
			CheckObjectiveGrad(t, "ndkd", batch, p, refNDKD, grad)
		}
	}
	huge := map[string]Arr{}
	for k, v := range in {
		if k == "labels" {
			huge[k] = v
		} else {
			huge[k] = v.Scaled(1e4)
		}
	}
	CheckFinite(t, "nd-loss", huge, nil)
	CheckFinite(t, "ndkd", huge, nil)
	// Zero student features: the guarded norm keeps value and gradient finite.
	zero := map[string]Arr{}
	for k, v := range in {
		zero[k] = v
	}
	zero["student_features"] = in["student_features"].Scaled(0)
	CheckFinite(t, "nd-loss", zero, nil)
	// The teacher features get no gradient; only one of the two features is an error.
	res := EvalArr(t, "nd-loss", in, nil, 64)
	for i, g := range res.Grad["teacher_features"] {
		if g != 0 {
			t.Fatalf("d ND/d teacher_features[%d] = %g, want 0", i, g)
		}
	}
	half := map[string]Arr{"student": in["student"], "teacher": in["teacher"], "labels": in["labels"], "student_features": in["student_features"]}
	if _, err := Evaluate("nd-loss", ToTensors(t, "nd-loss", half, 32), nil); err == nil {
		t.Error("student_features without teacher_features accepted")
	}
}

// ndEval runs NDLoss with explicit class means on float64 rows and returns the per-example terms and the
// gradient of their mean w.r.t. s.
func ndEval(t *testing.T, s, tt [][]float64, y []int32, means [][]float64) (per, grad []float64) {
	t.Helper()
	out := runGraph(t, func(s, tt, y, c *Node) []*Node {
		per := NDLoss(s, tt, y, c)
		return []*Node{per, Gradient(ReduceAllMean(per), s)[0]}
	}, tensors.FromValue(s), tensors.FromValue(tt), tensors.FromValue(y), tensors.FromValue(means))
	return out[0], out[1]
}

// Properties 1–7 and 9 with the class means c₀ = (1, 0), c₁ = (0, 2).
func TestNDKDProperties(t *testing.T) {
	means := [][]float64{{1, 0}, {0, 2}}
	cases := []struct {
		s, t []float64
		y    int32
		want float64
	}{
		{[]float64{3, 4}, []float64{0, 10}, 0, 0.7},
		{[]float64{6, 8}, []float64{0, 5}, 0, 0.4},
		{[]float64{10, 0}, []float64{3, 4}, 0, 0},
		{[]float64{-3, 0}, []float64{1, 1}, 0, 2},
	}
	for i, c := range cases {
		per, _ := ndEval(t, [][]float64{c.s}, [][]float64{c.t}, []int32{c.y}, means)
		if math.Abs(per[0]-c.want) > 1e-12 {
			t.Errorf("case %d: ND = %.12g, want %g", i+1, per[0], c.want)
		}
	}
	// 5: batch mean 0.725; 6: invariant to scaling the class means by 7 and to a joint rotation.
	s, tt, y := [][]float64{{3, 4}, {0, 1}}, [][]float64{{0, 10}, {0, 4}}, []int32{0, 1}
	per, _ := ndEval(t, s, tt, y, means)
	if m := (per[0] + per[1]) / 2; math.Abs(m-0.725) > 1e-12 || math.Abs(per[1]-0.75) > 1e-12 {
		t.Errorf("batch: ND = %v (mean %g), want 0.7, 0.75 (mean 0.725)", per, m)
	}
	per7, _ := ndEval(t, s, tt, y, [][]float64{{7, 0}, {0, 14}})
	rot := func(v []float64) []float64 {
		c, sn := math.Cos(0.7), math.Sin(0.7)
		return []float64{c*v[0] - sn*v[1], sn*v[0] + c*v[1]}
	}
	perRot, _ := ndEval(t, [][]float64{rot(s[0]), rot(s[1])}, [][]float64{rot(tt[0]), rot(tt[1])}, y,
		[][]float64{rot(means[0]), rot(means[1])})
	for i := range per {
		if math.Abs(per7[i]-per[i]) > 1e-12 || math.Abs(perRot[i]-per[i]) > 1e-12 {
			t.Errorf("example %d: %g, scaled means %g, rotated %g", i, per[i], per7[i], perRot[i])
		}
	}
	// 7: below the teacher norm, scaling s up along e_y strictly lowers the loss (gradient −e_y/‖t‖);
	// above it, the loss is scale-invariant.
	prev := math.Inf(1)
	for _, a := range []float64{1, 2, 4, 8} { // ‖s‖ = a·√2 < ‖t‖ = 20
		per, grad := ndEval(t, [][]float64{{a, a}}, [][]float64{{0, 20}}, []int32{0}, means)
		if per[0] >= prev {
			t.Errorf("scale %g: ND %g did not drop (previous %g)", a, per[0], prev)
		}
		prev = per[0]
		if math.Abs(grad[0]-(-1.0/20)) > 1e-12 || math.Abs(grad[1]) > 1e-12 {
			t.Errorf("scale %g: gradient %v, want (−1/20, 0)", a, grad)
		}
	}
	base, _ := ndEval(t, [][]float64{{3, 1}}, [][]float64{{1, 1}}, []int32{0}, means)
	for _, a := range []float64{2, 10, 1e3} {
		per, _ := ndEval(t, [][]float64{{3 * a, a}}, [][]float64{{1, 1}}, []int32{0}, means)
		if math.Abs(per[0]-base[0]) > 1e-12 {
			t.Errorf("above the teacher norm, scale %g: %g, want %g", a, per[0], base[0])
		}
	}
	// 9: always in [0, 2], against the reference, on random inputs.
	rng := rand.New(rand.NewSource(3))
	rs, rt := make([][]float64, 50), make([][]float64, 50)
	ry := make([]int32, 50)
	for i := range rs {
		rs[i] = []float64{rng.NormFloat64() * 3, rng.NormFloat64() * 3}
		rt[i] = []float64{rng.NormFloat64() * 3, rng.NormFloat64() * 3}
		ry[i] = int32(rng.Intn(2))
	}
	per, _ = ndEval(t, rs, rt, ry, means)
	for i, v := range per {
		if v < 0 || v > 2 || math.Abs(v-refNDRow(rs[i], rt[i], means[ry[i]])) > 1e-12 {
			t.Errorf("random example %d: ND = %g (reference %g), want it in [0,2]", i, v, refNDRow(rs[i], rt[i], means[ry[i]]))
		}
	}
}

// Property 8: with λ_nd = 0, KD++ is CE + warmed-up KD, i.e. the kd baseline with ce_weight = λ_cls and
// kd_weight = λ_kd·warmup.
func TestNDKDWithoutND(t *testing.T) {
	in := ndBatch()
	a := EvalArr(t, "ndkd", in, Params{"lambda_nd": 0, "lambda_kd": 2, "warmup": 0.5}, 64)
	kdIn := map[string]Arr{"student": in["student"], "teacher": in["teacher"], "labels": in["labels"]}
	b := EvalArr(t, "kd", kdIn, Params{"ce_weight": 1, "kd_weight": 1}, 64)
	if math.Abs(a.Loss-b.Loss) > 1e-12 {
		t.Errorf("KD++ with λ_nd = 0: %g, kd baseline %g", a.Loss, b.Loss)
	}
	for i, g := range a.Grad["student_features"] {
		if g != 0 {
			t.Errorf("λ_nd = 0: d/d student_features[%d] = %g, want 0", i, g)
		}
	}
	for _, c := range []struct{ epoch, warm, want float64 }{{0, 20, 0}, {5, 20, 0.25}, {20, 20, 1}, {60, 20, 1}, {3, 0, 1}} {
		if got := NDWarmup(c.epoch, c.warm); got != c.want {
			t.Errorf("NDWarmup(%g, %g) = %g, want %g", c.epoch, c.warm, got, c.want)
		}
	}
}

// NDClassMeans (dataset state) agrees with the graph's TeacherClassMeans and the reference, and reports
// bad input.
func TestNDClassMeans(t *testing.T) {
	in := ndBatch()
	tf, y := in["teacher_features"], in["labels"]
	feats := make([]float32, len(tf.Data))
	for i, v := range tf.Data {
		feats[i] = float32(v)
	}
	labels := []int32{0, 2, 1, 0}
	got, err := NDClassMeans(feats, 2, labels, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := refClassMeans(tf, y, 3)
	graph := runGraph(t, func(f, l *Node) *Node { return TeacherClassMeans(f, l, 3) },
		tensors.FromFlatDataAndDimensions(tf.Data, 4, 2), tensors.FromValue(labels))[0]
	for k := range want {
		for j := range want[k] {
			if math.Abs(float64(got[k*2+j])-want[k][j]) > 1e-6 || math.Abs(graph[k*2+j]-want[k][j]) > 1e-12 {
				t.Errorf("mean[%d][%d]: NDClassMeans %g, TeacherClassMeans %g, reference %g", k, j, got[k*2+j], graph[k*2+j], want[k][j])
			}
		}
	}
	if _, err := NDClassMeans(feats, 2, labels, 4); err == nil {
		t.Error("a class without examples accepted")
	}
	if _, err := NDClassMeans(feats, 3, labels, 3); err == nil {
		t.Error("mismatched feature length accepted")
	}
	if _, err := NDClassMeans(feats, 2, []int32{0, 5, 1, 0}, 3); err == nil {
		t.Error("out-of-range label accepted")
	}
}
