package grokking

import (
	"math"
	"math/rand/v2"
	"testing"
)

// editRef is an independent reference: the recursive definition of the edit distance, memoised.
func editRef[T comparable](a, b []T) int {
	memo := map[[2]int]int{}
	var d func(i, j int) int
	d = func(i, j int) int {
		if i == 0 {
			return j
		}
		if j == 0 {
			return i
		}
		if v, ok := memo[[2]int{i, j}]; ok {
			return v
		}
		cost := 1
		if a[i-1] == b[j-1] {
			cost = 0
		}
		v := min(d(i-1, j)+1, d(i, j-1)+1, d(i-1, j-1)+cost)
		memo[[2]int{i, j}] = v
		return v
	}
	return d(len(a), len(b))
}

func TestLevenshtein(t *testing.T) {
	if d := Levenshtein([]rune("kitten"), []rune("sitting")); d != 3 {
		t.Fatalf("kitten/sitting: %d, want 3", d)
	}
	if d := Levenshtein([]rune(""), []rune("abc")); d != 3 {
		t.Fatalf("empty/abc: %d, want 3", d)
	}
	r := rand.New(rand.NewPCG(1, 2))
	word := func() []int {
		w := make([]int, r.IntN(7))
		for i := range w {
			w[i] = r.IntN(3)
		}
		return w
	}
	for range 300 {
		a, b, c := word(), word(), word()
		ab := Levenshtein(a, b)
		if ref := editRef(a, b); ab != ref {
			t.Fatalf("d(%v, %v) = %d, reference %d", a, b, ab, ref)
		}
		if Levenshtein(a, a) != 0 {
			t.Fatalf("d(%v, itself) ≠ 0", a)
		}
		if ba := Levenshtein(b, a); ba != ab {
			t.Fatalf("not symmetric: %d vs %d", ab, ba)
		}
		if ac, bc := Levenshtein(a, c), Levenshtein(b, c); ac > ab+bc {
			t.Fatalf("triangle inequality fails: d(a,c)=%d > %d + %d", ac, ab, bc)
		}
		if ab > max(len(a), len(b)) {
			t.Fatalf("d = %d > max length", ab)
		}
	}
}

func hops(pairs ...[2]int) []Hop {
	var p []Hop
	for _, x := range pairs {
		p = append(p, Hop{x[0], x[1]})
	}
	return p
}

func TestPathwayDistanceExample(t *testing.T) {
	// Spec property 2 (layers counted from 1 there): swapping a layer's order costs 2, one different
	// expert costs 1.
	si := hops([2]int{1, 1}, [2]int{1, 4}, [2]int{2, 2}, [2]int{2, 7}, [2]int{3, 0}, [2]int{3, 3})
	sj := hops([2]int{1, 1}, [2]int{1, 4}, [2]int{2, 7}, [2]int{2, 2}, [2]int{3, 0}, [2]int{3, 5})
	if d := Levenshtein(si, sj); d != 3 {
		t.Fatalf("ordered pathway distance %d, want 3", d)
	}
	// The same pathways from router weights (layers from 0, k = 2).
	w := func(e1, e2, n int) []float64 {
		g := make([]float64, n)
		g[e1], g[e2] = 0.6, 0.3
		return g
	}
	pi, err := Pathway([][]float64{w(1, 4, 8), w(2, 7, 8), w(0, 3, 8)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	pj, _ := Pathway([][]float64{w(1, 4, 8), w(7, 2, 8), w(0, 5, 8)}, 2)
	if d := Levenshtein(pi, pj); d != 3 {
		t.Fatalf("distance from router weights %d (%v vs %v), want 3", d, pi, pj)
	}
	// Layer tagging: the same expert at another layer never matches.
	if d := Levenshtein(hops([2]int{0, 3}, [2]int{1, 3}), hops([2]int{1, 3}, [2]int{0, 3})); d != 2 {
		t.Fatalf("layer-tagged hops: %d, want 2", d)
	}
	if d := Levenshtein(hops([2]int{0, 3}), hops([2]int{1, 3})); d != 1 {
		t.Fatalf("expert 3 at layers 0 and 1 matched")
	}
}

func TestTopKTies(t *testing.T) {
	got := TopK([]float64{0.2, 0.4, 0.2, 0.4, 0.1}, 3)
	if want := []int{1, 3, 0}; !equalInts(got, want) {
		t.Fatalf("TopK with ties = %v, want %v (lower id first)", got, want)
	}
	p, _ := Pathway([][]float64{{0.25, 0.25, 0.25, 0.25}}, 2)
	if p[0].Expert != 0 || p[1].Expert != 1 {
		t.Fatalf("uniform router: pathway %v, want experts 0, 1", p)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConsistencyExample(t *testing.T) {
	u := [][]float64{{1, 0}, {0, 1}, {1, 1}, {1, -1}}
	emb := [][][]float64{u, u, u}
	gates := [][]float64{{0.7, 0.3, 0, 0}, {0.6, 0, 0.4, 0}, {0, 0, 0, 1}}
	c, err := Consistency(gates, emb, 2)
	if err != nil {
		t.Fatal(err)
	}
	// v = (0.7, 0.3), (1.0, 0.4), (1, −1): cos = 0.999703, 0.393919.
	cos1 := (0.7*1 + 0.3*0.4) / math.Hypot(0.7, 0.3) / math.Hypot(1, 0.4)
	cos2 := (1.0 - 0.4) / math.Hypot(1, 0.4) / math.Sqrt2
	if math.Abs(cos1-0.999703) > 1e-6 || math.Abs(cos2-0.393919) > 1e-6 {
		t.Fatalf("spec cosines: %.6f %.6f", cos1, cos2)
	}
	if math.Abs(c-0.696811) > 1e-6 {
		t.Fatalf("consistency %.6f, want 0.696811", c)
	}
	// Positive rescaling of the router weights (per layer) and of the embedding table leaves it unchanged.
	g2 := [][]float64{{7, 3, 0, 0}, {0.06, 0, 0.04, 0}, {0, 0, 0, 5}}
	u2 := [][]float64{{3, 0}, {0, 3}, {3, 3}, {3, -3}}
	c2, err := Consistency(g2, [][][]float64{u2, u2, u2}, 2)
	if err != nil || math.Abs(c2-c) > 1e-12 {
		t.Fatalf("rescaled: %v, %v; want %v", c2, err, c)
	}
	// Identical routing at every layer with a shared table gives 1.
	same := [][]float64{{0.5, 0.1, 0.3, 0.1}, {0.5, 0.1, 0.3, 0.1}, {0.5, 0.1, 0.3, 0.1}}
	if c, _ := Consistency(same, emb, 2); math.Abs(c-1) > 1e-12 {
		t.Fatalf("identical routing: %v, want 1", c)
	}
	// Range on random inputs.
	r := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		layers := 2 + r.IntN(3)
		var gs [][]float64
		var es [][][]float64
		for range layers {
			g := make([]float64, 5)
			e := make([][]float64, 5)
			for j := range g {
				g[j] = r.Float64()
				e[j] = []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
			}
			gs, es = append(gs, g), append(es, e)
		}
		c, err := Consistency(gs, es, 1+r.IntN(5))
		if err != nil || c < -1 || c > 1 {
			t.Fatalf("consistency %v, %v outside [-1, 1]", c, err)
		}
	}
}

func TestMeanPathwayDistance(t *testing.T) {
	paths := [][]Hop{hops([2]int{0, 0}, [2]int{1, 0}), hops([2]int{0, 1}, [2]int{1, 0}), hops([2]int{0, 1}, [2]int{1, 1})}
	st, err := MeanPathwayDistance(paths, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// d(0,1) = 1, d(0,2) = 2, d(1,2) = 1.
	if st.Pairs != 3 || math.Abs(st.Mean-4.0/3) > 1e-12 || math.Abs(st.Normalized-2.0/3) > 1e-12 {
		t.Fatalf("all pairs: %+v", st)
	}
	// Random pairs estimate the same mean.
	st2, err := MeanPathwayDistance(paths, 2, 5)
	if err != nil || st2.Pairs != 2 {
		t.Fatalf("random pairs: %+v %v", st2, err)
	}
	big := make([][]Hop, 40)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range big {
		big[i] = hops([2]int{0, r.IntN(4)}, [2]int{0, r.IntN(4)}, [2]int{1, r.IntN(4)})
	}
	all, _ := MeanPathwayDistance(big, 0, 0)
	est, _ := MeanPathwayDistance(big, 20000, 1)
	if math.Abs(all.Mean-est.Mean) > 0.05 {
		t.Fatalf("sampled D̄ %.3f far from exact %.3f", est.Mean, all.Mean)
	}
	if _, err := MeanPathwayDistance(paths[:1], 0, 0); err == nil {
		t.Fatal("one pathway: no error")
	}
	if _, err := MeanPathwayDistance([][]Hop{paths[0], paths[1][:1]}, 0, 0); err == nil {
		t.Fatal("unequal lengths: no error")
	}
}

func TestUsageEntropy(t *testing.T) {
	paths := [][]Hop{hops([2]int{0, 0}, [2]int{1, 2}), hops([2]int{0, 1}, [2]int{1, 2}), hops([2]int{0, 2}, [2]int{1, 2}), hops([2]int{0, 3}, [2]int{1, 2})}
	h, err := UsageEntropy(paths, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(h[0]-math.Log(4)) > 1e-12 || h[1] != 0 {
		t.Fatalf("entropies %v, want [log 4, 0]", h)
	}
	if _, err := UsageEntropy(paths, 1, 4); err == nil {
		t.Fatal("hop outside the table: no error")
	}
}

func TestPathwayErrors(t *testing.T) {
	if _, err := Pathway([][]float64{{0.5, 0.5}}, 3); err == nil {
		t.Fatal("k > experts: no error")
	}
	if _, err := Pathway([][]float64{{math.NaN(), 0.5}}, 1); err == nil {
		t.Fatal("NaN weight: no error")
	}
	if _, err := Consistency([][]float64{{1, 0}}, [][][]float64{{{1}, {0}}}, 1); err == nil {
		t.Fatal("one layer: no error")
	}
	if _, err := Consistency([][]float64{{1, 0}, {0, 0}}, [][][]float64{{{1}, {0}}, {{1}, {0}}}, 1); err == nil {
		t.Fatal("zero weights: no error")
	}
}
