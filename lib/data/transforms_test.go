package data

import (
	"math"
	"slices"
	"testing"
)

func blobs(t *testing.T, n, k int, seed uint64) *Set {
	t.Helper()
	s, err := Blobs(BlobsConfig{N: n, Classes: k, Dim: 4, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLabelNoise(t *testing.T) {
	s := blobs(t, 20000, 5, 1)
	const rate = 0.3
	for _, kind := range []NoiseKind{Symmetric, Uniform, Pairwise} {
		noisy, changed, err := LabelNoise(s, NoiseConfig{Kind: kind, Rate: rate, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		mustValid(t, noisy)
		want := rate
		if kind == Uniform {
			want = rate * 4 / 5
		}
		// Binomial standard error sqrt(p(1-p)/n) ≈ 0.0032; allow 4 of them.
		if math.Abs(changed-want) > 4*math.Sqrt(want*(1-want)/20000) {
			t.Errorf("%v: realised change rate %g, want %g", kind, changed, want)
		}
		// Independent recount, and the kind's own rule for every changed label.
		n := 0
		transitions := make([]int, 5)
		for i, y := range s.Y {
			z := noisy.Y[i]
			if z == y {
				continue
			}
			n++
			if kind == Pairwise && z != (y+1)%5 {
				t.Fatalf("pairwise noise mapped %d to %d", y, z)
			}
			if y == 0 {
				transitions[z]++
			}
		}
		if float64(n)/20000 != changed {
			t.Errorf("%v: reported %g, recounted %g", kind, changed, float64(n)/20000)
		}
		if kind == Symmetric { // corrupted class-0 labels spread evenly over classes 1..4
			for z := 1; z < 5; z++ {
				if p := float64(transitions[z]) / float64(transitions[1]+transitions[2]+transitions[3]+transitions[4]); math.Abs(p-0.25) > 0.05 {
					t.Errorf("symmetric noise sends class 0 to %d with frequency %g", z, p)
				}
			}
		}
		if !slices.Equal(noisy.IDs, s.IDs) || &noisy.X[0] != &s.X[0] {
			t.Errorf("%v: ids changed or X copied", kind)
		}
	}
	exact, changed, _ := LabelNoise(s, NoiseConfig{Kind: Symmetric, Rate: 0.123, Exact: true, Seed: 3})
	if changed != 2460.0/20000 {
		t.Errorf("exact noise changed %g, want %g", changed, 2460.0/20000)
	}
	again, _, _ := LabelNoise(s, NoiseConfig{Kind: Symmetric, Rate: 0.123, Exact: true, Seed: 3})
	if !slices.Equal(exact.Y, again.Y) {
		t.Error("label noise not deterministic")
	}
	if _, _, err := LabelNoise(s, NoiseConfig{Rate: 1.5}); err == nil {
		t.Error("rate 1.5 accepted")
	}
}

func TestLongTail(t *testing.T) {
	s := blobs(t, 30000, 10, 2)
	lt, err := LongTail(s, ImbalanceConfig{Ratio: math.Pow(0.6, -9), Max: 3000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, lt)
	got := lt.ClassCounts()
	for c, n := range got {
		if want := int(math.Floor(3000*math.Pow(0.6, float64(c)) + 1e-9)); n != want {
			t.Errorf("class %d keeps %d, want 3000·0.6^%d = %d", c, n, c, want)
		}
	}
	if got[0] != 3000 || got[2] != 1080 || got[9] != 30 {
		t.Errorf("counts %v", got)
	}
	// Ids are kept and point to the same examples.
	for i := range lt.Len() {
		if j := lt.IDs[i]; s.Y[j] != lt.Y[i] || s.X[int(j)*4] != lt.X[i*4] {
			t.Fatalf("long-tail example %d does not match source id %d", i, j)
		}
	}
	bin, _ := LongTail(blobs(t, 2000, 2, 3), ImbalanceConfig{Ratio: 10, Seed: 1})
	if c := bin.ClassCounts(); c[0] != 1000 || c[1] != 100 {
		t.Errorf("10:1 binary imbalance gave %v", c)
	}
	if _, err := LongTail(s, ImbalanceConfig{Ratio: 0.5}); err == nil {
		t.Error("ratio < 1 accepted")
	}
}

// majorityShare is the mean over clients of the fraction of a client's data in its largest class.
func majorityShare(counts [][]int) float64 {
	sum, m := 0.0, 0
	for _, c := range counts {
		tot := 0
		for _, n := range c {
			tot += n
		}
		if tot > 0 {
			sum += float64(slices.Max(c)) / float64(tot)
			m++
		}
	}
	return sum / float64(m)
}

func TestDirichletSplit(t *testing.T) {
	s := blobs(t, 10000, 10, 4)
	var shares []float64
	for _, alpha := range []float64{100, 1, 0.1, 0.01} {
		parts, err := DirichletSplit(s, DirichletConfig{Clients: 10, Alpha: alpha, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, s.Len())
		total := 0
		for _, p := range parts {
			total += len(p)
			if !slices.IsSorted(p) {
				t.Error("client indices not sorted")
			}
			for _, i := range p {
				seen[i]++
			}
		}
		if total != s.Len() || slices.Min(seen) != 1 || slices.Max(seen) != 1 {
			t.Fatalf("α=%g: not a partition (total %d)", alpha, total)
		}
		shares = append(shares, majorityShare(ClientClassCounts(s, parts)))
	}
	// Skew grows as α shrinks: α=100 is near IID (majority share near 0.1), α=0.01 nearly one class.
	for i := 1; i < len(shares); i++ {
		if shares[i] <= shares[i-1] {
			t.Errorf("majority share does not grow as α shrinks: %v", shares)
		}
	}
	// With α = 0.01 each class goes almost whole to one client, so a client holds one or a few whole
	// classes; with 10 classes over 10 clients the expected mean majority share is about 0.8.
	if shares[0] > 0.2 || shares[3] < 0.7 {
		t.Errorf("majority shares %v (α = 100, 1, 0.1, 0.01)", shares)
	}
	a, _ := DirichletSplit(s, DirichletConfig{Clients: 7, Alpha: 0.5, MinSize: 50, Seed: 6})
	b, _ := DirichletSplit(s, DirichletConfig{Clients: 7, Alpha: 0.5, MinSize: 50, Seed: 6})
	for k := range a {
		if !slices.Equal(a[k], b[k]) || len(a[k]) < 50 {
			t.Fatalf("client %d: not deterministic or below MinSize (%d)", k, len(a[k]))
		}
	}
}

func TestIIDAndPathologicalSplit(t *testing.T) {
	parts, _ := IIDSplit(103, 10, 1)
	total := 0
	for _, p := range parts {
		if len(p) < 10 || len(p) > 11 {
			t.Errorf("IID part of size %d", len(p))
		}
		total += len(p)
	}
	if total != 103 {
		t.Errorf("IID split covers %d of 103", total)
	}
	s := blobs(t, 2000, 10, 7)
	pp, err := PathologicalSplit(s, 10, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for k, c := range ClientClassCounts(s, pp) {
		distinct := 0
		for _, n := range c {
			if n > 0 {
				distinct++
			}
		}
		if distinct > 2 {
			t.Errorf("client %d sees %d classes, want ≤ 2 (%v)", k, distinct, c)
		}
	}
}

func TestSurvivalAndCensor(t *testing.T) {
	cfg := SurvivalConfig{N: 4000, Seed: 1}
	s, err := Survival(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, s)
	if s.Dim() != 5 || s.CensoredFraction() != 0 {
		t.Fatalf("dim %d censored %g", s.Dim(), s.CensoredFraction())
	}
	// log T − η(x) should be N(0, 0.3²).
	var m, v float64
	for i := range s.Len() {
		x := s.Example(i)
		eta := 0.5 + float64(x[0]) - float64(x[1]) + 0.5*float64(x[2])
		if math.Abs(cfg.Eta(x)-eta) > 1e-12 {
			t.Fatalf("Eta %g, want %g", cfg.Eta(x), eta)
		}
		r := math.Log(float64(s.Times[i])) - eta
		m += r
		v += r * r
	}
	m /= 4000
	v = v/4000 - m*m
	if math.Abs(m) > 0.02 || math.Abs(math.Sqrt(v)-0.3) > 0.02 {
		t.Errorf("log-time residuals: mean %g std %g, want 0 and 0.3", m, math.Sqrt(v))
	}
	// Hazard = density/survival, checked against a finite difference of -log S.
	x := s.Example(0)
	for _, tt := range []float64{0.5, 1.5, 4} {
		h := 1e-5
		fd := -(math.Log(cfg.SurvivalProb(x, tt+h)) - math.Log(cfg.SurvivalProb(x, tt-h))) / (2 * h)
		if got := cfg.Hazard(x, tt); math.Abs(got-fd) > 1e-5*max(1, fd) {
			t.Errorf("hazard(%g) = %g, finite difference %g", tt, got, fd)
		}
	}

	for _, rate := range []float64{0.2, 0.4, 0.6} {
		for _, dep := range []float64{0, 2} {
			c, hz, err := Censor(s, CensorConfig{Rate: rate, Dependence: dep, Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			mustValid(t, c)
			if got := c.CensoredFraction(); math.Abs(got-rate) > 1e-9 {
				t.Errorf("rate %g dep %g: realised %g", rate, dep, got)
			}
			for i := range c.Len() {
				if c.Events[i] == 1 && c.Times[i] != s.Times[i] || c.Events[i] == 0 && c.Times[i] > s.Times[i] {
					t.Fatalf("censored time %g > true %g (event %d)", c.Times[i], s.Times[i], c.Events[i])
				}
			}
			// Reusing the scale on fresh data gives about the same rate.
			fresh, _ := Survival(SurvivalConfig{N: 4000, Seed: 9})
			c2, _, _ := Censor(fresh, CensorConfig{Hazard: hz, Dependence: dep, Seed: 3})
			if got := c2.CensoredFraction(); math.Abs(got-rate) > 0.04 {
				t.Errorf("rate %g dep %g: fixed hazard %g censors %g of fresh data", rate, dep, hz, got)
			}
		}
	}
	// Exponential proportional hazards: T·exp(η) ~ Exp(1), mean 1.
	e, _ := Survival(SurvivalConfig{N: 4000, Model: Exponential, Beta: []float64{1, -1}, Seed: 3})
	mean := 0.0
	for i := range e.Len() {
		x := e.Example(i)
		mean += float64(e.Times[i]) * math.Exp(float64(x[0]-x[1]))
		if got := (SurvivalConfig{Model: Exponential, Beta: []float64{1, -1}}).Hazard(x, 1); math.Abs(got-math.Exp(float64(x[0])-float64(x[1]))) > 1e-12 {
			t.Fatalf("exponential hazard %g", got)
		}
	}
	if mean /= 4000; math.Abs(mean-1) > 0.07 {
		t.Errorf("exponential: mean of T·exp(η) = %g, want 1", mean)
	}
	if _, _, err := Censor(blobs(t, 10, 2, 1), CensorConfig{Rate: 0.5}); err == nil {
		t.Error("censoring a set without times accepted")
	}
}

// TestDrawEpisodes checks that DrawEpisodes gives a sampler's first n episodes, and its errors.
func TestDrawEpisodes(t *testing.T) {
	s := blobs(t, 300, 5, 4)
	cfg := EpisodeConfig{Way: 3, Shot: 2, Query: 4, Seed: 9}
	eps, err := DrawEpisodes(s, cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	es, _ := NewEpisodeSampler(s, cfg)
	if len(eps) != 5 {
		t.Fatalf("%d episodes, want 5", len(eps))
	}
	for i, ep := range eps {
		if want := es.Next(); !slices.Equal(ep.Support, want.Support) || !slices.Equal(ep.Query, want.Query) {
			t.Errorf("episode %d differs from the sampler's", i)
		}
	}
	if _, err := DrawEpisodes(s, cfg, -1); err == nil {
		t.Error("-1 episodes: no error")
	}
	if _, err := DrawEpisodes(s, EpisodeConfig{Way: 6, Shot: 1, Query: 1}, 1); err == nil {
		t.Error("6 ways of 5 classes: no error")
	}
}

func TestEpisodes(t *testing.T) {
	s := blobs(t, 600, 10, 8)
	cfg := EpisodeConfig{Way: 4, Shot: 5, Query: 3, Pool: []int{0, 2, 4, 6, 8, 9}, NOTA: 6, Seed: 1}
	es, err := NewEpisodeSampler(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	es2, _ := NewEpisodeSampler(s, cfg)
	classUse := map[int]int{}
	for range 200 {
		ep := es.Next()
		ep2 := es2.Next()
		if !slices.Equal(ep.Support, ep2.Support) || !slices.Equal(ep.Query, ep2.Query) {
			t.Fatal("episodes not deterministic")
		}
		if len(ep.Classes) != 4 || len(ep.Support) != 20 || len(ep.Query) != 12+6 || len(ep.SupportY) != 20 || len(ep.QueryY) != 18 {
			t.Fatalf("episode sizes: %d classes, %d support, %d query", len(ep.Classes), len(ep.Support), len(ep.Query))
		}
		used := map[int]bool{}
		for j, c := range ep.Classes {
			classUse[c]++
			if !slices.Contains(cfg.Pool, c) || used[c] {
				t.Fatalf("episode class %d not in pool or repeated", c)
			}
			used[c] = true
			_ = j
		}
		all := append(slices.Clone(ep.Support), ep.Query[:12]...)
		slices.Sort(all)
		if len(slices.Compact(all)) != 32 {
			t.Fatal("support and queries repeat an example")
		}
		for k, i := range ep.Support {
			if j := ep.SupportY[k]; int(s.Y[i]) != ep.Classes[j] || int(j) != k/5 {
				t.Fatalf("support %d: label %d way %d class %d", k, s.Y[i], j, ep.Classes[j])
			}
		}
		for k, i := range ep.Query {
			j := ep.QueryY[k]
			if k < 12 && (int(s.Y[i]) != ep.Classes[j] || int(j) != k/3) {
				t.Fatalf("query %d mislabelled", k)
			}
			if k >= 12 && (j != 4 || used[int(s.Y[i])] || !slices.Contains(cfg.Pool, int(s.Y[i]))) {
				t.Fatalf("NOTA query %d: way %d class %d", k, j, s.Y[i])
			}
		}
	}
	for _, c := range cfg.Pool {
		if classUse[c] < 80 { // expected 200·4/6 ≈ 133
			t.Errorf("pool class %d used in %d of 200 episodes", c, classUse[c])
		}
	}
	if _, err := NewEpisodeSampler(s, EpisodeConfig{Way: 3, Shot: 50, Query: 20}); err == nil {
		t.Error("episodes needing 70 examples of a 60-example class accepted")
	}
}
