package data

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Set is an in-memory dataset; example i has features X[i*Dim():(i+1)*Dim()] (row-major, per-example
// shape Shape).
//
// Sets returned by transforms may share X with their input: treat X as read-only, or Clone first.
type Set struct {
	Name    string
	Shape   []int     // per-example feature shape, e.g. []int{784} or []int{28, 28, 1}
	X       []float32 // len N*prod(Shape)
	Y       []int32   // class labels, len N (binary tasks use {0,1}); all 0 when Classes == 0
	IDs     []int32   // stable example ids, len N (objectives with per-example state need them)
	Classes int       // number of classes; 0 for sets without class labels (survival, regression)
	Times   []float32 // optional (survival durations)
	Events  []int32   // optional (survival event indicators: 1 = event observed, 0 = censored)
}

// Len returns the number of examples.
func (s *Set) Len() int { return len(s.Y) }

// Dim returns the number of features per example: the product of Shape.
func (s *Set) Dim() int {
	d := 1
	for _, n := range s.Shape {
		d *= n
	}
	return d
}

// Validate checks that the slices agree with each other: len(X) = N·Dim, len(IDs) = N, labels in
// [0, Classes), and Times/Events either absent or of length N.
func (s *Set) Validate() error {
	n := len(s.Y)
	for _, d := range s.Shape {
		if d <= 0 {
			return fmt.Errorf("data: set %q has a non-positive dimension in shape %v", s.Name, s.Shape)
		}
	}
	if len(s.X) != n*s.Dim() {
		return fmt.Errorf("data: set %q has len(X)=%d, want N·Dim = %d·%d = %d", s.Name, len(s.X), n, s.Dim(), n*s.Dim())
	}
	if len(s.IDs) != n {
		return fmt.Errorf("data: set %q has %d ids for %d examples", s.Name, len(s.IDs), n)
	}
	for i, y := range s.Y {
		if y < 0 || (s.Classes > 0 && int(y) >= s.Classes) || (s.Classes == 0 && y != 0) {
			return fmt.Errorf("data: set %q example %d has label %d outside [0, %d)", s.Name, i, y, s.Classes)
		}
	}
	if s.Times != nil && len(s.Times) != n {
		return fmt.Errorf("data: set %q has %d times for %d examples", s.Name, len(s.Times), n)
	}
	if s.Events != nil && len(s.Events) != n {
		return fmt.Errorf("data: set %q has %d events for %d examples", s.Name, len(s.Events), n)
	}
	return nil
}

// Example returns the features of example i (a view into X, not a copy).
func (s *Set) Example(i int) []float32 {
	d := s.Dim()
	return s.X[i*d : (i+1)*d : (i+1)*d]
}

// Subset returns the examples idx, in that order, as a new set with copied slices; ids are kept.
// Indices may repeat. It panics on an index out of range, like a slice expression.
func (s *Set) Subset(idx []int) *Set {
	n := s.Len()
	for _, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("data: Subset index %d out of range [0, %d) of set %q", i, n, s.Name))
		}
	}
	out := &Set{Name: s.Name, Shape: slices.Clone(s.Shape), Classes: s.Classes}
	out.X, out.Y = s.Gather(idx)
	out.IDs = gather(s.IDs, idx)
	if s.Times != nil {
		out.Times = gather(s.Times, idx)
	}
	if s.Events != nil {
		out.Events = gather(s.Events, idx)
	}
	return out
}

// Gather copies the features and labels of examples idx into new slices (len(idx)·Dim and len(idx)).
func (s *Set) Gather(idx []int) (x []float32, y []int32) {
	d := s.Dim()
	x = make([]float32, len(idx)*d)
	for j, i := range idx {
		copy(x[j*d:(j+1)*d], s.X[i*d:(i+1)*d])
	}
	return x, gather(s.Y, idx)
}

func gather[T any](v []T, idx []int) []T {
	out := make([]T, len(idx))
	for j, i := range idx {
		out[j] = v[i]
	}
	return out
}

// Clone returns a deep copy.
func (s *Set) Clone() *Set {
	return &Set{
		Name:    s.Name,
		Shape:   slices.Clone(s.Shape),
		X:       slices.Clone(s.X),
		Y:       slices.Clone(s.Y),
		IDs:     slices.Clone(s.IDs),
		Classes: s.Classes,
		Times:   slices.Clone(s.Times),
		Events:  slices.Clone(s.Events),
	}
}

// shallow returns a copy of the Set header sharing X (and Shape) with s, with fresh label, id, time
// and event slices: used by transforms that change labels only.
func (s *Set) shallow() *Set {
	out := *s
	out.Y = slices.Clone(s.Y)
	out.IDs = slices.Clone(s.IDs)
	out.Times = slices.Clone(s.Times)
	out.Events = slices.Clone(s.Events)
	return &out
}

// ClassCounts returns the number of examples of each class (length Classes).
func (s *Set) ClassCounts() []int {
	c := make([]int, s.Classes)
	for _, y := range s.Y {
		if int(y) < s.Classes {
			c[y]++
		}
	}
	return c
}

// ByClass returns the indices of the examples of each class, in increasing order.
func (s *Set) ByClass() [][]int {
	by := make([][]int, s.Classes)
	for i, y := range s.Y {
		if int(y) < s.Classes {
			by[y] = append(by[y], i)
		}
	}
	return by
}

// Reshape returns a set sharing X with s whose per-example shape is shape (same number of features),
// e.g. Reshape(28, 28, 1) for a flat Fashion-MNIST set.
func (s *Set) Reshape(shape ...int) (*Set, error) {
	d := 1
	for _, n := range shape {
		d *= n
	}
	if d != s.Dim() || len(shape) == 0 {
		return nil, fmt.Errorf("data: cannot reshape %q examples of shape %v (%d features) to %v", s.Name, s.Shape, s.Dim(), shape)
	}
	out := *s
	out.Shape = slices.Clone(shape)
	return &out, nil
}

// Split divides s into two sets, the first with round(frac·N) of the examples, stratified by class
// when Classes > 0 (each class contributes floor(frac·n_c) or one more, by largest remainder).
// Both parts keep the original order and ids. The choice is deterministic given seed.
func (s *Set) Split(frac float64, seed uint64) (first, second *Set, err error) {
	if !(frac >= 0 && frac <= 1) {
		return nil, nil, fmt.Errorf("data: split fraction %g outside [0, 1]", frac)
	}
	r := newRand(seed, streamSplit)
	groups := [][]int{}
	if s.Classes > 0 {
		groups = s.ByClass()
	} else {
		all := make([]int, s.Len())
		for i := range all {
			all[i] = i
		}
		groups = append(groups, all)
	}
	// Largest remainder: each group gets floor(frac·n_g), and the round(frac·N) − Σ floor left over go
	// one each to the groups with the largest fractional parts (lowest class first on ties).
	takes := make([]int, len(groups))
	left := int(frac*float64(s.Len()) + 0.5)
	for c, g := range groups {
		takes[c] = int(frac * float64(len(g)))
		left -= takes[c]
	}
	order := make([]int, len(groups))
	for c := range order {
		order[c] = c
	}
	part := func(c int) float64 { return frac*float64(len(groups[c])) - float64(takes[c]) }
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(part(y), part(x)) })
	for _, c := range order {
		if left > 0 && takes[c] < len(groups[c]) {
			takes[c]++
			left--
		}
	}
	var a, b []int
	for c, g := range groups {
		g = slices.Clone(g)
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		a = append(a, g[:takes[c]]...)
		b = append(b, g[takes[c]:]...)
	}
	slices.Sort(a)
	slices.Sort(b)
	return s.Subset(a), s.Subset(b), nil
}

// FilterClasses keeps the examples whose label is in classes. With relabel, labels become positions
// in classes (classes[j] ↦ j) and Classes becomes len(classes), e.g. FilterClasses([]int{0, 1}, true)
// for a binary T-shirt vs Trouser task; otherwise labels and Classes are unchanged.
func (s *Set) FilterClasses(classes []int, relabel bool) (*Set, error) {
	pos := make(map[int32]int32, len(classes))
	for j, c := range classes {
		if c < 0 || c >= s.Classes {
			return nil, fmt.Errorf("data: class %d outside [0, %d) of set %q", c, s.Classes, s.Name)
		}
		if _, dup := pos[int32(c)]; dup {
			return nil, fmt.Errorf("data: class %d listed twice", c)
		}
		pos[int32(c)] = int32(j)
	}
	var idx []int
	for i, y := range s.Y {
		if _, ok := pos[y]; ok {
			idx = append(idx, i)
		}
	}
	out := s.Subset(idx)
	if relabel {
		for i, y := range out.Y {
			out.Y[i] = pos[y]
		}
		out.Classes = len(classes)
	}
	return out, nil
}

// RenumberIDs returns a copy header (sharing X) whose ids are 0..N-1 in the current order, for
// objectives that want dense ids on a subset.
func (s *Set) RenumberIDs() *Set {
	out := s.shallow()
	for i := range out.IDs {
		out.IDs[i] = int32(i)
	}
	return out
}

// Concat joins sets with the same shape and number of classes; ids are kept as they are (the
// caller keeps them distinct).
func Concat(name string, sets ...*Set) (*Set, error) {
	if len(sets) == 0 {
		return nil, fmt.Errorf("data: Concat of no sets")
	}
	out := &Set{Name: name, Shape: slices.Clone(sets[0].Shape), Classes: sets[0].Classes}
	withTimes := sets[0].Times != nil
	for _, s := range sets {
		if !slices.Equal(s.Shape, out.Shape) || s.Classes != out.Classes {
			return nil, fmt.Errorf("data: Concat of %q (shape %v, %d classes) with %q (shape %v, %d classes)",
				sets[0].Name, out.Shape, out.Classes, s.Name, s.Shape, s.Classes)
		}
		if (s.Times != nil) != withTimes {
			return nil, fmt.Errorf("data: Concat of sets with and without survival times")
		}
		out.X = append(out.X, s.X...)
		out.Y = append(out.Y, s.Y...)
		out.IDs = append(out.IDs, s.IDs...)
		if withTimes {
			out.Times = append(out.Times, s.Times...)
			out.Events = append(out.Events, s.Events...)
		}
	}
	return out, nil
}

// Downsample average-pools images of shape [H, W, C] (or a flat [H·W] with H = W) by factor f in
// both directions, e.g. 28×28 → 14×14 with f = 2. The result has shape [H/f, W/f, C] for image
// input and a flat [H/f·W/f·C] for flat input.
func (s *Set) Downsample(f int) (*Set, error) {
	h, w, c, flat, err := imageShape(s.Shape)
	if err != nil {
		return nil, err
	}
	if f < 1 || h%f != 0 || w%f != 0 {
		return nil, fmt.Errorf("data: cannot downsample %d×%d images by %d", h, w, f)
	}
	oh, ow := h/f, w/f
	d, od := h*w*c, oh*ow*c
	n := s.Len()
	x := make([]float32, n*od)
	inv := 1 / float32(f*f)
	for i := range n {
		src, dst := s.X[i*d:(i+1)*d], x[i*od:(i+1)*od]
		for r := range h {
			for q := range w {
				for ch := range c {
					dst[((r/f)*ow+q/f)*c+ch] += src[(r*w+q)*c+ch] * inv
				}
			}
		}
	}
	out := s.shallow()
	out.X = x
	out.Shape = []int{oh, ow, c}
	if flat {
		out.Shape = []int{od}
	}
	return out, nil
}

// imageShape reads [H, W, C], [H, W] or a flat square [H·H] (single channel).
func imageShape(shape []int) (h, w, c int, flat bool, err error) {
	switch len(shape) {
	case 3:
		return shape[0], shape[1], shape[2], false, nil
	case 2:
		return shape[0], shape[1], 1, false, nil
	case 1:
		for h = 1; h*h < shape[0]; h++ {
		}
		if h*h == shape[0] {
			return h, h, 1, true, nil
		}
	}
	return 0, 0, 0, false, fmt.Errorf("data: shape %v is not an image ([H, W, C], [H, W] or a flat square)", shape)
}

// FeatureStats returns the mean and standard deviation (population, over examples) of every feature.
func (s *Set) FeatureStats() (mean, std []float64) {
	d, n := s.Dim(), s.Len()
	mean, std = make([]float64, d), make([]float64, d)
	if n == 0 {
		return mean, std
	}
	for i := range n {
		for j, v := range s.X[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := range n {
		for j, v := range s.X[i*d : (i+1)*d] {
			dv := float64(v) - mean[j]
			std[j] += dv * dv
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(n))
	}
	return mean, std
}

// Normalize returns a copy of s (new X, shared labels' copies) with feature j mapped to
// (x_j − mean[j])/std[j]; features with std[j] = 0 are only centred. Use the training set's
// FeatureStats for every split.
func (s *Set) Normalize(mean, std []float64) (*Set, error) {
	d := s.Dim()
	if len(mean) != d || len(std) != d {
		return nil, fmt.Errorf("data: Normalize of %q (%d features) with %d means and %d stds", s.Name, d, len(mean), len(std))
	}
	out := s.shallow()
	out.X = make([]float32, len(s.X))
	for i := range s.Len() {
		for j := range d {
			v := float64(s.X[i*d+j]) - mean[j]
			if std[j] > 0 {
				v /= std[j]
			}
			out.X[i*d+j] = float32(v)
		}
	}
	return out, nil
}
