package data

import (
	"math"
	"slices"
	"testing"
)

func equalSets(a, b *Set) bool {
	return slices.Equal(a.X, b.X) && slices.Equal(a.Y, b.Y) && slices.Equal(a.IDs, b.IDs) &&
		slices.Equal(a.Shape, b.Shape) && slices.Equal(a.Times, b.Times) && slices.Equal(a.Events, b.Events)
}

func mustValid(t *testing.T, s *Set) {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestBlobs(t *testing.T) {
	cfg := BlobsConfig{N: 6000, Classes: 4, Dim: 3, Radius: 5, Spread: 0.5, Seed: 3}
	s, err := Blobs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, s)
	if s.Len() != 6000 || s.Dim() != 3 || s.Classes != 4 {
		t.Fatalf("N=%d D=%d K=%d", s.Len(), s.Dim(), s.Classes)
	}
	for c, n := range s.ClassCounts() {
		if n != 1500 {
			t.Errorf("class %d has %d examples, want 1500", c, n)
		}
	}
	centers := cfg.Centers()
	for k, c := range centers {
		r := 0.0
		for _, v := range c {
			r += v * v
		}
		if math.Abs(math.Sqrt(r)-5) > 1e-9 {
			t.Errorf("centre %d has radius %g, want 5", k, math.Sqrt(r))
		}
	}
	// Per-class sample means within 4 standard errors (0.5/sqrt(1500)) of the centres; per-class
	// std near the spread.
	for k, c := range centers {
		sub, _ := s.FilterClasses([]int{k}, false)
		mean, std := sub.FeatureStats()
		for j := range c {
			if se := 0.5 / math.Sqrt(1500); math.Abs(mean[j]-c[j]) > 4*se {
				t.Errorf("class %d feature %d: mean %g, centre %g", k, j, mean[j], c[j])
			}
			if math.Abs(std[j]-0.5) > 0.05 {
				t.Errorf("class %d feature %d: std %g, want 0.5", k, j, std[j])
			}
		}
	}
	// Centres do not depend on N; samples depend on the seed.
	small := BlobsConfig{N: 10, Classes: 4, Dim: 3, Radius: 5, Seed: 3}.Centers()
	if !slices.Equal(small[2], centers[2]) {
		t.Error("centres depend on N or Spread")
	}
	s2, _ := Blobs(cfg)
	cfg.Seed = 4
	s3, _ := Blobs(cfg)
	if !equalSets(s, s2) || equalSets(s, s3) {
		t.Error("blobs are not determined by the seed")
	}
	if _, err := Blobs(BlobsConfig{N: 0}); err == nil {
		t.Error("N=0 accepted")
	}
}

func TestMoonsAndSpirals(t *testing.T) {
	m, err := Moons(MoonsConfig{N: 1001, Noise: 0, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, m)
	if c := m.ClassCounts(); c[0] != 501 || c[1] != 500 {
		t.Errorf("moons class counts %v", c)
	}
	for i := range m.Len() {
		x := m.Example(i)
		cx, cy := 0.0, 0.0 // circle centre of the example's moon
		if m.Y[i] == 1 {
			cx, cy = 1, 0.5
		}
		r := math.Hypot(float64(x[0])-cx, float64(x[1])-cy)
		if math.Abs(r-1) > 1e-6 || (m.Y[i] == 0 && x[1] < -1e-6) || (m.Y[i] == 1 && float64(x[1]) > 0.5+1e-6) {
			t.Fatalf("noise-free moon point %v (class %d) is off its half circle", x, m.Y[i])
		}
	}
	sp, err := Spirals(SpiralsConfig{N: 900, Classes: 3, Turns: 1.5, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, sp)
	for c, n := range sp.ClassCounts() {
		if n != 300 {
			t.Errorf("spiral class %d: %d examples", c, n)
		}
	}
	// Noise-free points satisfy angle = 2π(Turns·r + k/K) (mod 2π) with r = radius.
	for i := range sp.Len() {
		x := sp.Example(i)
		r := math.Hypot(float64(x[0]), float64(x[1]))
		want := 2 * math.Pi * (1.5*r + float64(sp.Y[i])/3)
		got := math.Atan2(float64(x[1]), float64(x[0]))
		d := math.Remainder(got-want, 2*math.Pi)
		if r > 1+1e-6 || (r > 1e-3 && math.Abs(d) > 1e-3) {
			t.Fatalf("spiral point %v class %d: radius %g angle off by %g", x, sp.Y[i], r, d)
		}
	}
}

func TestSeparable(t *testing.T) {
	cfg := SeparableConfig{N: 2000, Dim: 5, Margin: 0.3, Seed: 9}
	s, err := Separable(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, s)
	w := cfg.Direction()
	minMargin := math.Inf(1)
	for i := range s.Len() {
		dot := 0.0
		for j, v := range s.Example(i) {
			dot += w[j] * float64(v)
		}
		if (dot > 0) != (s.Y[i] == 1) {
			t.Fatalf("example %d is on the wrong side: ⟨w,x⟩ = %g, y = %d", i, dot, s.Y[i])
		}
		minMargin = min(minMargin, math.Abs(dot))
	}
	if minMargin < 0.3-1e-5 || minMargin > 0.35 {
		t.Errorf("smallest margin %g, want just above 0.3", minMargin)
	}
	if c := s.ClassCounts(); math.Abs(float64(c[0]-c[1])) > 4*math.Sqrt(2000) {
		t.Errorf("unbalanced classes %v", c)
	}
}

func TestSparseParity(t *testing.T) {
	cfg := ParityConfig{N: 4000, Bits: 12, K: 3, Seed: 5}
	s, err := SparseParity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, s)
	rel := cfg.RelevantBits()
	if len(rel) != 3 || !slices.IsSorted(rel) {
		t.Fatalf("relevant bits %v", rel)
	}
	ones := make([]int, 12)
	for i := range s.Len() {
		prod := float32(1)
		for j, v := range s.Example(i) {
			if v != 1 && v != -1 {
				t.Fatalf("feature %g not ±1", v)
			}
			if v == -1 {
				ones[j]++
			}
			if slices.Contains(rel, j) {
				prod *= v
			}
		}
		if (prod == -1) != (s.Y[i] == 1) {
			t.Fatalf("example %d: product of relevant features %g, label %d", i, prod, s.Y[i])
		}
	}
	for j, n := range ones {
		if math.Abs(float64(n)-2000) > 4*math.Sqrt(1000) {
			t.Errorf("bit %d set in %d of 4000 examples", j, n)
		}
	}
	z, _ := SparseParity(ParityConfig{N: 50, Bits: 4, Relevant: []int{0, 3}, ZeroOne: true, Seed: 1})
	for i := range z.Len() {
		x := z.Example(i)
		if int32(x[0]+x[3])%2 != z.Y[i] {
			t.Fatalf("0/1 parity wrong at %d: %v → %d", i, x, z.Y[i])
		}
	}
	if _, err := SparseParity(ParityConfig{N: 5, Bits: 3, K: 4}); err == nil {
		t.Error("K > Bits accepted")
	}
}

func TestModular(t *testing.T) {
	for _, op := range []string{"+", "-", "*", "/"} {
		train, test, err := Modular(ModularConfig{P: 7, Op: op, TrainFrac: 0.6, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		mustValid(t, train)
		mustValid(t, test)
		pairs := 49
		if op == "/" {
			pairs = 42
		}
		if train.Len()+test.Len() != pairs || train.Len() != int(0.6*float64(pairs)+0.5) {
			t.Errorf("%s: %d train + %d test pairs", op, train.Len(), test.Len())
		}
		seen := map[int32]bool{}
		for _, s := range []*Set{train, test} {
			for i := range s.Len() {
				a, b := int(s.X[2*i]), int(s.X[2*i+1])
				var want int
				switch op {
				case "+":
					want = (a + b) % 7
				case "-":
					want = (a - b + 7) % 7
				case "*":
					want = a * b % 7
				case "/":
					want = -1
					for c := range 7 { // c·b ≡ a (mod 7)
						if c*b%7 == a {
							want = c
						}
					}
				}
				if int(s.Y[i]) != want || s.IDs[i] != int32(a*7+b) || seen[s.IDs[i]] {
					t.Fatalf("%s: (%d, %d) → %d id %d, want %d", op, a, b, s.Y[i], s.IDs[i], want)
				}
				seen[s.IDs[i]] = true
			}
		}
	}
	oh, _, err := Modular(ModularConfig{P: 5, TrainFrac: 1, OneHot: true})
	if err != nil {
		t.Fatal(err)
	}
	if oh.Dim() != 10 || oh.Len() != 25 {
		t.Fatalf("one-hot: dim %d, N %d", oh.Dim(), oh.Len())
	}
	for i := range oh.Len() {
		x := oh.Example(i)
		a, b := slices.Index(x[:5], 1), slices.Index(x[5:], 1)
		var sum float32
		for _, v := range x {
			sum += v
		}
		if sum != 2 || int(oh.Y[i]) != (a+b)%5 {
			t.Fatalf("one-hot row %v → %d", x, oh.Y[i])
		}
	}
	if _, _, err := Modular(ModularConfig{P: 8, Op: "/", TrainFrac: 0.5}); err == nil {
		t.Error("division modulo 8 accepted")
	}
	if _, _, err := Modular(ModularConfig{P: 7, Op: "^", TrainFrac: 0.5}); err == nil {
		t.Error("unknown op accepted")
	}
}

func TestShapes(t *testing.T) {
	s, err := Shapes(ShapesConfig{N: 200, Size: 16, MaxShapes: 3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, &s.Set)
	if len(s.Masks) != 200*256 || len(s.Boundaries) != 200*256 || s.PixelClasses != 4 {
		t.Fatalf("masks %d boundaries %d classes %d", len(s.Masks), len(s.Boundaries), s.PixelClasses)
	}
	kinds := make([]int, 4)
	for i := range s.Len() {
		img, mask := s.Example(i), s.Mask(i)
		fg := 0
		for p, m := range mask {
			kinds[m]++
			if (m == 0) != (img[p] == 0) {
				t.Fatalf("image %d pixel %d: class %d, value %g (noise-free background must be 0, objects ≥ 0.5)", i, p, m, img[p])
			}
			if m != 0 {
				fg++
			}
		}
		if fg == 0 {
			t.Fatalf("image %d has no object", i)
		}
		// Independent boundary check: a pixel is a boundary iff a 4-neighbour differs.
		for y := range 16 {
			for x := range 16 {
				want := uint8(0)
				for _, d := range [][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
					yy, xx := y+d[0], x+d[1]
					if yy >= 0 && yy < 16 && xx >= 0 && xx < 16 && mask[yy*16+xx] != mask[y*16+x] {
						want = 1
					}
				}
				if s.Boundaries[i*256+y*16+x] != want {
					t.Fatalf("boundary wrong at image %d (%d, %d)", i, y, x)
				}
			}
		}
	}
	for k, n := range kinds {
		if n == 0 {
			t.Errorf("pixel class %s never appears", ShapeKinds[k])
		}
	}
	sub := s.Subset([]int{5, 2})
	if !slices.Equal(sub.Mask(1), s.Mask(2)) || sub.IDs[0] != 5 {
		t.Error("SegSet.Subset lost masks or ids")
	}
}

func TestTileSegmentation(t *testing.T) {
	src := &Set{Name: "tiny", Shape: []int{2, 2, 1}, Classes: 3,
		X:   []float32{0, 0.5, 0.1, 0.9, 0.3, 0, 0, 0, 1, 1, 1, 1},
		Y:   []int32{2, 0, 1},
		IDs: []int32{0, 1, 2},
	}
	s, err := TileSegmentation(src, TileConfig{N: 20, Tiles: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, &s.Set)
	if s.Height != 4 || s.PixelClasses != 4 {
		t.Fatalf("height %d pixel classes %d", s.Height, s.PixelClasses)
	}
	for i := range s.Len() {
		img, mask := s.Example(i), s.Mask(i)
		for p, v := range img {
			if (v > 0.2) != (mask[p] != 0) {
				t.Fatalf("scene %d pixel %d: value %g class %d", i, p, v, mask[p])
			}
		}
	}
}
