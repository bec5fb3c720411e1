package data

import (
	"math"
	"slices"
	"testing"
)

func TestDirichletSampler(t *testing.T) {
	// Dir(α·1_K) components have mean 1/K and variance (1/K)(1−1/K)/(Kα+1).
	r := newRand(1, 99)
	for _, alpha := range []float64{0.05, 0.5, 5} {
		const k, n = 4, 20000
		var m, v float64
		for range n {
			p := dirichlet(r, k, alpha)
			sum := 0.0
			for _, x := range p {
				sum += x
			}
			if math.Abs(sum-1) > 1e-12 || slices.Min(p) < 0 {
				t.Fatalf("α=%g: draw %v does not lie on the simplex", alpha, p)
			}
			m += p[0]
			v += p[0] * p[0]
		}
		m /= n
		v = v/n - m*m
		wantV := 0.25 * 0.75 / (k*alpha + 1)
		if math.Abs(m-0.25) > 0.01 || math.Abs(v-wantV) > 0.1*wantV {
			t.Errorf("α=%g: component mean %g var %g, want 0.25 and %g", alpha, m, v, wantV)
		}
	}
}

func TestBatcher(t *testing.T) {
	s := blobs(t, 103, 3, 1)
	b, err := NewBatcher(s, BatchConfig{Size: 10, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if b.StepsPerEpoch() != 10 {
		t.Errorf("steps per epoch %d", b.StepsPerEpoch())
	}
	b2, _ := NewBatcher(s, BatchConfig{Size: 10, Seed: 4})
	var epoch0, epoch1 []int
	for step := range 20 {
		batch := b.Next()
		other := b2.Next()
		if !slices.Equal(batch.Indices, other.Indices) || !slices.Equal(batch.X, other.X) {
			t.Fatal("batches not deterministic")
		}
		if batch.Len() != 10 || batch.Step != step || batch.Epoch != step/10 {
			t.Fatalf("step %d: len %d, step %d, epoch %d", step, batch.Len(), batch.Step, batch.Epoch)
		}
		x, y := s.Gather(batch.Indices)
		if !slices.Equal(x, batch.X) || !slices.Equal(y, batch.Y) || batch.IDs[3] != s.IDs[batch.Indices[3]] {
			t.Fatal("batch data does not match its indices")
		}
		if batch.Epoch == 0 {
			epoch0 = append(epoch0, batch.Indices...)
		} else {
			epoch1 = append(epoch1, batch.Indices...)
		}
	}
	// Each epoch visits distinct examples, in the order EpochOrder gives.
	if !slices.Equal(epoch0, EpochOrder(103, 4, 0)[:100]) || !slices.Equal(epoch1, EpochOrder(103, 4, 1)[:100]) {
		t.Error("epochs do not follow EpochOrder")
	}
	if slices.Equal(epoch0, epoch1) {
		t.Error("two epochs have the same order")
	}
	sorted := slices.Clone(epoch0)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != 100 {
		t.Error("an epoch repeats an example")
	}
	// KeepPartial: 11 batches per epoch, the last of 3.
	p, _ := NewBatcher(s, BatchConfig{Size: 10, Seed: 4, KeepPartial: true, Sequential: true})
	var seen []int
	for range 11 {
		seen = append(seen, p.Next().Indices...)
	}
	if len(seen) != 103 || seen[102] != 102 || p.Next().Epoch != 1 {
		t.Errorf("sequential partial epoch: %d examples", len(seen))
	}
	// Evaluation batches.
	n, steps := 0, 0
	for batch := range s.Batches(25) {
		if batch.Indices[0] != n {
			t.Fatal("evaluation batches out of order")
		}
		n += batch.Len()
		steps++
	}
	if n != 103 || steps != 5 {
		t.Errorf("evaluation covered %d examples in %d batches", n, steps)
	}
	if _, err := NewBatcher(s, BatchConfig{Size: 200}); err == nil {
		t.Error("batch larger than the set accepted without KeepPartial")
	}
}

func TestSetMethods(t *testing.T) {
	s := blobs(t, 100, 4, 2)
	sub := s.Subset([]int{7, 3, 7})
	if sub.Len() != 3 || sub.IDs[0] != 7 || sub.IDs[2] != 7 || !slices.Equal(sub.Example(1), s.Example(3)) {
		t.Error("Subset")
	}
	sub.X[0] = 1e9
	if s.X[7*4] == 1e9 {
		t.Error("Subset shares X")
	}
	a, b, err := s.Split(0.7, 3)
	if err != nil {
		t.Fatal(err)
	}
	// 25 per class: floor(17.5) = 17 each, and the 2 left over go to classes 0 and 1.
	if a.Len() != 70 || b.Len() != 30 || !slices.Equal(a.ClassCounts(), []int{18, 18, 17, 17}) {
		t.Errorf("split sizes %d/%d, class counts %v", a.Len(), b.Len(), a.ClassCounts())
	}
	ids := append(slices.Clone(a.IDs), b.IDs...)
	slices.Sort(ids)
	if !slices.Equal(ids, s.IDs) {
		t.Error("split is not a partition of the ids")
	}
	f, _ := s.FilterClasses([]int{3, 1}, true)
	if f.Classes != 2 || f.Len() != 50 {
		t.Fatalf("filter: %d classes %d examples", f.Classes, f.Len())
	}
	for i, y := range f.Y {
		if orig := s.Y[f.IDs[i]]; (orig == 3) != (y == 0) {
			t.Fatal("relabel wrong")
		}
	}
	img := &Set{Name: "img", Shape: []int{4, 4, 1}, Classes: 1, Y: []int32{0}, IDs: []int32{0}, X: make([]float32, 16)}
	for i := range img.X {
		img.X[i] = float32(i)
	}
	d, err := img.Downsample(2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Shape, []int{2, 2, 1}) || !slices.Equal(d.X, []float32{2.5, 4.5, 10.5, 12.5}) {
		t.Errorf("downsample: %v %v", d.Shape, d.X)
	}
	mean, std := s.FeatureStats()
	n, _ := s.Normalize(mean, std)
	m2, s2 := n.FeatureStats()
	for j := range m2 {
		if math.Abs(m2[j]) > 1e-5 || math.Abs(s2[j]-1) > 1e-5 {
			t.Errorf("normalized feature %d: mean %g std %g", j, m2[j], s2[j])
		}
	}
	c, err := Concat("both", a, b)
	if err != nil || c.Len() != 100 || c.Validate() != nil {
		t.Errorf("concat: %v", err)
	}
	r, err := s.Reshape(2, 2)
	if err != nil || r.Dim() != 4 {
		t.Error(err)
	}
	if _, err := s.Reshape(3); err == nil {
		t.Error("bad reshape accepted")
	}
}

func TestAugment(t *testing.T) {
	// An 8×8 image with a bright 2×2 square in the middle on a background of -1.
	s := &Set{Name: "sq", Shape: []int{8, 8, 1}, Classes: 1, Y: []int32{0}, IDs: []int32{0}, X: make([]float32, 64)}
	for i := range s.X {
		s.X[i] = -1
	}
	for _, p := range []int{27, 28, 35, 36} {
		s.X[p] = 3
	}
	sum := func(x []float32) (total float32) {
		for _, v := range x {
			total += v
		}
		return total
	}
	// Shift moves the square without losing it (shift ≤ 2 keeps it inside); background fills.
	a, _ := NewAugmenter(s.Shape, AugmentConfig{Shift: 2, Seed: 1})
	moved := false
	for range 50 {
		v := a.Apply(s, []int{0})
		if sum(v) != sum(s.X) {
			t.Fatalf("shift changed the pixel sum: %g vs %g", sum(v), sum(s.X))
		}
		moved = moved || !slices.Equal(v, s.X)
	}
	if !moved {
		t.Error("shift never moved the image")
	}
	// Flip of an asymmetric image: applying the flip twice gives back the image.
	asym := s.Clone()
	asym.X[0] = 5
	f, _ := NewAugmenter(s.Shape, AugmentConfig{Flip: true, Seed: 2})
	flips := 0
	for range 100 {
		v := f.Apply(asym, []int{0})
		if v[7] == 5 && v[0] == -1 {
			flips++
		} else if !slices.Equal(v, asym.X) {
			t.Fatal("flip produced something other than the image or its mirror")
		}
	}
	if flips < 30 || flips > 70 {
		t.Errorf("flipped %d of 100 times", flips)
	}
	// Erase sets exactly Erase² pixels to the background (minimum).
	e, _ := NewAugmenter(s.Shape, AugmentConfig{Erase: 3, Seed: 3})
	for range 20 {
		v := e.Apply(asym, []int{0})
		changed := 0
		for i := range v {
			if v[i] != asym.X[i] {
				changed++
				if v[i] != -1 {
					t.Fatal("erased pixel not set to the background")
				}
			}
		}
		if changed > 9 {
			t.Fatalf("erase changed %d pixels", changed)
		}
	}
	// Noise: zero mean, standard deviation as asked.
	big := &Set{Name: "flat", Shape: []int{32, 32, 1}, Classes: 1, Y: []int32{0}, IDs: []int32{0}, X: make([]float32, 1024)}
	nz, _ := NewAugmenter(big.Shape, AugmentConfig{Noise: 0.1, Seed: 4})
	v1, v2 := nz.TwoViews(big, []int{0})
	var m, sq float64
	for i := range v1 {
		m += float64(v1[i])
		sq += float64(v1[i]) * float64(v1[i])
	}
	if sd := math.Sqrt(sq / 1024); math.Abs(m/1024) > 0.01 || math.Abs(sd-0.1) > 0.01 || slices.Equal(v1, v2) {
		t.Errorf("noise: mean %g sd %g; views equal: %v", m/1024, sd, slices.Equal(v1, v2))
	}
	// Crop with the full window is the identity up to bilinear rounding; a smaller one zooms in.
	cr, _ := NewAugmenter(s.Shape, AugmentConfig{CropMin: 0.5, Seed: 5})
	for range 20 {
		v := cr.Apply(s, []int{0})
		if slices.Min(v) < -1-1e-6 || slices.Max(v) > 3+1e-6 {
			t.Fatal("crop interpolated outside the image's range")
		}
	}
	// Determinism given the seed.
	all, _ := NewAugmenter(s.Shape, AugmentConfig{CropMin: 0.7, Shift: 1, Flip: true, Erase: 2, Noise: 0.1, Seed: 6})
	again, _ := NewAugmenter(s.Shape, AugmentConfig{CropMin: 0.7, Shift: 1, Flip: true, Erase: 2, Noise: 0.1, Seed: 6})
	x1, y1 := all.TwoViews(s, []int{0, 0})
	x2, y2 := again.TwoViews(s, []int{0, 0})
	if !slices.Equal(x1, x2) || !slices.Equal(y1, y2) || slices.Equal(x1, y1) {
		t.Error("augmented views not deterministic, or the two views coincide")
	}
}

func TestPatchMask(t *testing.T) {
	m, err := NewPatchMasker([]int{28, 28, 1}, PatchMaskConfig{Patch: 4, Ratio: 0.75, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.NumPatches() != 49 || m.NumMasked() != 37 { // 14-hpm: L = 49, keep 12, mask 37
		t.Fatalf("L = %d, masked = %d", m.NumPatches(), m.NumMasked())
	}
	mask := m.Next(3)
	for b := range 3 {
		n := 0
		for _, v := range mask[b*49 : (b+1)*49] {
			if v {
				n++
			}
		}
		if n != 37 {
			t.Errorf("image %d has %d masked patches", b, n)
		}
	}
	if slices.Equal(mask[:49], mask[49:98]) {
		t.Error("two images got the same mask")
	}
	x := make([]float32, 3*784)
	for i := range x {
		x[i] = float32(i%784) + 1
	}
	masked := m.Apply(x, mask, 0)
	patches, err := Patchify(masked, []int{28, 28, 1}, 4)
	if err != nil || len(patches) != len(x) {
		t.Fatal(err)
	}
	for b := range 3 {
		for l := range 49 {
			p := patches[(b*49+l)*16 : (b*49+l+1)*16]
			zero := slices.Max(p) == 0 && slices.Min(p) == 0
			if zero != mask[b*49+l] {
				t.Fatalf("image %d patch %d: masked %v, zero %v", b, l, mask[b*49+l], zero)
			}
		}
	}
	// Patchify layout: patch 8 is grid row 1, column 1 → its first pixel is (4, 4).
	orig, _ := Patchify(x, []int{28, 28, 1}, 4)
	if orig[8*16] != float32(4*28+4)+1 || orig[8*16+5] != float32(5*28+5)+1 {
		t.Errorf("patchify layout: %g %g", orig[8*16], orig[8*16+5])
	}
}
