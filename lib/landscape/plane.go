package landscape

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
)

// Plane is the 2-D affine slice θ(s, t) = Origin + s·U + t·V of parameter space.
type Plane struct {
	Kind         string
	Origin, U, V *ParamSet
	// Marks are named points of interest in plane coordinates (the models it was built from, or a
	// projected trajectory).
	Marks []Mark
	// ExplainedVariance holds the variance ratios of U and V for a PCA plane.
	ExplainedVariance []float64 `json:",omitempty"`
}

// Mark is a named point in plane coordinates.
type Mark struct {
	Name string
	S, T float64
}

// PlaneThrough returns the plane through a, b, c (Gram–Schmidt): origin a, U = (b−a)/‖b−a‖, V the unit
// component of c−a orthogonal to U; so a ↦ (0,0), b ↦ (‖b−a‖, 0), c ↦ (⟨c−a,U⟩, ‖(c−a)⊥‖).
func PlaneThrough(a, b, c *ParamSet) (*Plane, error) {
	if err := checkAll(a, b, c); err != nil {
		return nil, err
	}
	u := combine([]float64{1, -1}, []*ParamSet{b, a})
	w := combine([]float64{1, -1}, []*ParamSet{c, a})
	nu := u.Norm()
	if nu == 0 {
		return nil, fmt.Errorf("landscape.PlaneThrough: the first two points coincide")
	}
	u = u.Scale(1 / nu)
	cs := dot(w, u)
	v := combine([]float64{1, -cs}, []*ParamSet{w, u})
	nv := v.Norm()
	if nv <= 1e-12*max(nu, w.Norm()) {
		return nil, fmt.Errorf("landscape.PlaneThrough: the three points are collinear")
	}
	v = v.Scale(1 / nv)
	return &Plane{Kind: "three points", Origin: a.Clone(), U: u, V: v,
		Marks: []Mark{{"A", 0, 0}, {"B", nu, 0}, {"C", cs, nv}}}, nil
}

// NormMode selects how a random direction is normalised (Li et al.).
type NormMode string

const (
	// NormFilter scales each filter (each output unit: index j of the last axis) to the norm of the
	// parameter's filter j. The default.
	NormFilter NormMode = "filter"
	// NormLayer scales the whole tensor to the parameter's norm.
	NormLayer NormMode = "layer"
	// NormWeight multiplies elementwise by the parameter (d ⊙ θ).
	NormWeight NormMode = "weight"
	// NormDFilter and NormDLayer give each filter / tensor unit norm.
	NormDFilter NormMode = "dfilter"
	NormDLayer  NormMode = "dlayer"
)

// DirectionOptions configures RandomDirection.
type DirectionOptions struct {
	Norm NormMode // default NormFilter
	// KeepBiases copies θ into the direction for 1-D tensors (biases, norm gains) instead of zeroing them
	// (Li et al.'s "biasbn" default zeroes them).
	KeepBiases bool
}

// RandomDirection draws d ~ N(0, I) shaped like theta (seeded) and normalises it (Li et al.).
func RandomDirection(theta *ParamSet, seed uint64, opts DirectionOptions) (*ParamSet, error) {
	r := rand.New(rand.NewPCG(seed, 0x1a5d))
	d := theta.Zeros()
	for _, p := range d.Params {
		for j := range p.Data {
			p.Data[j] = r.NormFloat64()
		}
	}
	return NormalizeDirection(d, theta, opts)
}

// NormalizeDirection applies the normalisation of opts to direction d relative to theta, in place, and
// returns d.
func NormalizeDirection(d, theta *ParamSet, opts DirectionOptions) (*ParamSet, error) {
	if err := d.Compatible(theta); err != nil {
		return nil, err
	}
	if opts.Norm == "" {
		opts.Norm = NormFilter
	}
	for i, p := range d.Params {
		th := theta.Params[i]
		if len(p.Shape) <= 1 {
			if opts.KeepBiases {
				copy(p.Data, th.Data)
			} else {
				clear(p.Data)
			}
			continue
		}
		switch opts.Norm {
		case NormFilter, NormDFilter:
			nf := p.Shape[len(p.Shape)-1]
			dn := make([]float64, nf)
			tn := make([]float64, nf)
			for k, v := range p.Data {
				dn[k%nf] += v * v
				tn[k%nf] += th.Data[k] * th.Data[k]
			}
			for k := range p.Data {
				j := k % nf
				target := math.Sqrt(tn[j])
				if opts.Norm == NormDFilter {
					target = 1
				}
				p.Data[k] *= target / (math.Sqrt(dn[j]) + 1e-10)
			}
		case NormLayer, NormDLayer:
			dn, tn := 0.0, 0.0
			for k, v := range p.Data {
				dn += v * v
				tn += th.Data[k] * th.Data[k]
			}
			target := math.Sqrt(tn)
			if opts.Norm == NormDLayer {
				target = 1
			}
			for k := range p.Data {
				p.Data[k] *= target / (math.Sqrt(dn) + 1e-10)
			}
		case NormWeight:
			for k := range p.Data {
				p.Data[k] *= th.Data[k]
			}
		default:
			return nil, fmt.Errorf("landscape: unknown direction normalisation %q (filter, layer, weight, dfilter, dlayer)", opts.Norm)
		}
	}
	return d, nil
}

// RandomPlane is the plane around theta along two filter-normalised random directions (seeds seed and
// seed+1); s, t = ±1 moves each filter by its own norm.
func RandomPlane(theta *ParamSet, seed uint64, opts DirectionOptions) (*Plane, error) {
	d1, err := RandomDirection(theta, seed, opts)
	if err != nil {
		return nil, err
	}
	d2, err := RandomDirection(theta, seed+1, opts)
	if err != nil {
		return nil, err
	}
	return &Plane{Kind: "random " + string(opts.Norm), Origin: theta.Clone(), U: d1, V: d2, Marks: []Mark{{"θ", 0, 0}}}, nil
}

// PCAPlane is the plane through origin (usually the final point of training) along the top-2 principal
// directions of the snapshots' displacements θ_t − origin (centred, as in Li et al.'s use of PCA). U and V
// are unit vectors; Marks hold the snapshots projected onto the plane (⟨θ_t − origin, U⟩, ⟨·, V⟩) and
// ExplainedVariance the variance ratios. When the trajectory has a single direction (a straight line),
// V is a seeded random unit vector orthogonal to U and its variance ratio is ~0.
func PCAPlane(snapshots []*ParamSet, origin *ParamSet) (*Plane, error) {
	if len(snapshots) < 2 {
		return nil, fmt.Errorf("landscape.PCAPlane: need at least 2 snapshots, got %d", len(snapshots))
	}
	if err := checkAll(append([]*ParamSet{origin}, snapshots...)...); err != nil {
		return nil, err
	}
	T := len(snapshots)
	X := make([][]float64, T)
	P := origin.Size()
	mean := make([]float64, P)
	of := origin.Flat()
	for i, s := range snapshots {
		X[i] = s.Flat()
		for j := range X[i] {
			X[i][j] -= of[j]
			mean[j] += X[i][j] / float64(T)
		}
	}
	for i := range X {
		for j := range X[i] {
			X[i][j] -= mean[j]
		}
	}
	G := make([][]float64, T)
	for i := range G {
		G[i] = make([]float64, T)
		for j := 0; j <= i; j++ {
			s := 0.0
			for k := range X[i] {
				s += X[i][k] * X[j][k]
			}
			G[i][j] = s
			G[j][i] = s
		}
	}
	vals, vecs := symEigen(G)
	total := 0.0
	for _, v := range vals {
		total += max(v, 0)
	}
	if total == 0 {
		return nil, fmt.Errorf("landscape.PCAPlane: all snapshots are the same point")
	}
	dir := func(idx int) []float64 {
		d := make([]float64, P)
		for i := range X {
			for k := range d {
				d[k] += vecs[i][idx] * X[i][k]
			}
		}
		return d
	}
	normalize := func(d []float64) float64 {
		n := 0.0
		for _, v := range d {
			n += v * v
		}
		n = math.Sqrt(n)
		for k := range d {
			d[k] /= n
		}
		return n
	}
	u := dir(0)
	normalize(u)
	var v []float64
	if vals[1] > 1e-12*vals[0] {
		v = dir(1)
	} else {
		r := rand.New(rand.NewPCG(0, 0x9ca))
		v = make([]float64, P)
		for k := range v {
			v[k] = r.NormFloat64()
		}
	}
	// Orthogonalise against u (exact already for PCA directions up to rounding).
	uv := 0.0
	for k := range v {
		uv += u[k] * v[k]
	}
	for k := range v {
		v[k] -= uv * u[k]
	}
	normalize(v)
	U, _ := origin.FromFlat(u)
	V, _ := origin.FromFlat(v)
	pl := &Plane{Kind: "pca", Origin: origin.Clone(), U: U, V: V,
		ExplainedVariance: []float64{max(vals[0], 0) / total, max(vals[1], 0) / total}}
	for i, s := range snapshots {
		d := combine([]float64{1, -1}, []*ParamSet{s, origin})
		pl.Marks = append(pl.Marks, Mark{Name: fmt.Sprintf("snapshot %d", i), S: dot(d, U), T: dot(d, V)})
	}
	return pl, nil
}

// symEigen returns the eigenvalues (descending) and eigenvectors (columns of vecs) of a symmetric
// matrix, by cyclic Jacobi rotations.
func symEigen(a [][]float64) ([]float64, [][]float64) {
	n := len(a)
	m := make([][]float64, n)
	v := make([][]float64, n)
	for i := range m {
		m[i] = append([]float64(nil), a[i]...)
		v[i] = make([]float64, n)
		v[i][i] = 1
	}
	for sweep := 0; sweep < 100; sweep++ {
		off := 0.0
		for i := range n {
			for j := i + 1; j < n; j++ {
				off += m[i][j] * m[i][j]
			}
		}
		if off < 1e-30 {
			break
		}
		for p := range n {
			for q := p + 1; q < n; q++ {
				if m[p][q] == 0 {
					continue
				}
				theta := (m[q][q] - m[p][p]) / (2 * m[p][q])
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range n {
					mkp, mkq := m[k][p], m[k][q]
					m[k][p], m[k][q] = c*mkp-s*mkq, s*mkp+c*mkq
				}
				for k := range n {
					mpk, mqk := m[p][k], m[q][k]
					m[p][k], m[q][k] = c*mpk-s*mqk, s*mpk+c*mqk
				}
				for k := range n {
					vkp, vkq := v[k][p], v[k][q]
					v[k][p], v[k][q] = c*vkp-s*vkq, s*vkp+c*vkq
				}
			}
		}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return m[idx[i]][idx[i]] > m[idx[j]][idx[j]] })
	vals := make([]float64, n)
	vecs := make([][]float64, n)
	for i := range vecs {
		vecs[i] = make([]float64, n)
	}
	for c, i := range idx {
		vals[c] = m[i][i]
		for k := range n {
			vecs[k][c] = v[k][i]
		}
	}
	return vals, vecs
}

// GridSpec is an evenly spaced grid of plane coordinates: NS values of s in [SMin, SMax] and NT of t.
type GridSpec struct {
	SMin, SMax float64
	NS         int
	TMin, TMax float64
	NT         int
}

func linspace(lo, hi float64, n int) []float64 {
	if n == 1 {
		return []float64{lo}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return out
}

// Grid holds loss and error on a plane grid, indexed [t][s]. Done marks the points computed so far
// (all of them when Complete).
type Grid struct {
	Spec        GridSpec
	S, T        []float64
	Loss, Error [][]float64
	Done        [][]bool
	Complete    bool
	Kind        string
	Marks       []Mark
	// Key fingerprints the plane, grid, data and objective; a cache file is reused only when it matches.
	Key        string
	Provenance Provenance
	// Checksum is the SHA-256 of Key, Spec, the coordinates and the values (Loss, Error, Done), set by
	// EvaluateGrid whenever it writes the cache: a cache whose values were edited is not trusted.
	Checksum string `json:",omitempty"`
}

// GridOptions configures EvaluateGrid.
type GridOptions struct {
	// CacheFile, if set, holds the grid as JSON, rewritten atomically after every chunk of points; an
	// interrupted evaluation resumes from it.
	CacheFile string
	// MaxNewPoints stops after computing this many new points (0: no limit), leaving Complete false.
	MaxNewPoints int
	// Watch, if set, is called after every chunk of points with the grid so far (read it there, do not
	// keep or change it), and once more with done true at the end, e.g. viz.LiveGrid's filling contour.
	Watch func(g *Grid, done bool)
}

// MaxGridBytes bounds the memory a grid's values may take (Loss, Error and Done, plus its JSON when it
// is cached): 2 GiB, a grid of some 120 million points, or 26 million with a cache file. A larger grid is
// an error rather than Go's fatal "out of memory", even when MaxNewPoints asks for only a few points
// (the grid holds them all).
const MaxGridBytes = 2 << 30

// checkGridSize estimates the memory of the grid's values and refuses grids above MaxGridBytes.
func checkGridSize(spec GridSpec, cached bool) error {
	perPoint := int64(8 + 8 + 1) // Loss, Error, Done
	if cached {
		perPoint += 64 // the indented JSON of the three values, written and read whole
	}
	maxPoints := int64(MaxGridBytes) / perPoint
	if int64(spec.NS) > maxPoints || int64(spec.NT) > maxPoints/int64(spec.NS) {
		need := float64(spec.NS) * float64(spec.NT) * float64(perPoint)
		return fmt.Errorf("landscape.EvaluateGrid: grid %d×%d needs about %.3g GB for its values, more than the limit of %.3g GB (landscape.MaxGridBytes): use fewer points",
			spec.NS, spec.NT, need/1e9, float64(MaxGridBytes)/1e9)
	}
	return nil
}

// EvaluateGrid evaluates the plane on the grid, resuming from opts.CacheFile when it matches.
func EvaluateGrid(ev *Evaluator, pl *Plane, d *Data, spec GridSpec, opts GridOptions) (*Grid, error) {
	if spec.NS < 1 || spec.NT < 1 {
		return nil, fmt.Errorf("landscape.EvaluateGrid: grid %d×%d is empty", spec.NS, spec.NT)
	}
	if err := checkGridSize(spec, opts.CacheFile != ""); err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	key, err := gridKey(ev, pl, d, spec)
	if err != nil {
		return nil, err
	}
	var g *Grid
	if opts.CacheFile != "" {
		if g, err = readGridCache(opts.CacheFile, key, spec); err != nil {
			return nil, fmt.Errorf("landscape.EvaluateGrid: reading the cache: %w", err)
		}
	}
	if g == nil {
		g = &Grid{Spec: spec, S: linspace(spec.SMin, spec.SMax, spec.NS), T: linspace(spec.TMin, spec.TMax, spec.NT),
			Kind: pl.Kind, Marks: pl.Marks, Key: key, Provenance: newProvenance(ev, []*Data{d})}
		g.Provenance.Grid = fmt.Sprintf("%d×%d, s∈[%g,%g], t∈[%g,%g]", spec.NS, spec.NT, spec.SMin, spec.SMax, spec.TMin, spec.TMax)
		for range spec.NT {
			g.Loss = append(g.Loss, make([]float64, spec.NS))
			g.Error = append(g.Error, make([]float64, spec.NS))
			g.Done = append(g.Done, make([]bool, spec.NS))
		}
	}
	type ij struct{ i, j int }
	var todo []ij
	for i := range g.T {
		for j := range g.S {
			if !g.Done[i][j] {
				todo = append(todo, ij{i, j})
			}
		}
	}
	if opts.MaxNewPoints > 0 && len(todo) > opts.MaxNewPoints {
		todo = todo[:opts.MaxNewPoints]
	}
	chunk := 4 * ev.cfg.PointsPerCall
	for start := 0; start < len(todo); start += chunk {
		part := todo[start:min(start+chunk, len(todo))]
		coeffs := make([][]float64, len(part))
		for k, p := range part {
			coeffs[k] = []float64{g.S[p.j], g.T[p.i]}
		}
		pts, err := ev.Eval(pl.Origin, []*ParamSet{pl.U, pl.V}, coeffs, d)
		if err != nil {
			return nil, err
		}
		for k, p := range part {
			g.Loss[p.i][p.j], g.Error[p.i][p.j], g.Done[p.i][p.j] = pts[k].Loss, pts[k].Error, true
		}
		g.Complete = allDone(g.Done)
		if opts.CacheFile != "" {
			g.Checksum = g.sum()
			if err := SaveJSON(opts.CacheFile, g); err != nil {
				return nil, err
			}
		}
		if opts.Watch != nil {
			opts.Watch(g, false)
		}
	}
	g.Complete = allDone(g.Done)
	if opts.Watch != nil {
		opts.Watch(g, true)
	}
	return g, nil
}

// maxCacheBytes bounds a grid cache file: the JSON of the largest grid checkGridSize accepts.
const maxCacheBytes = MaxGridBytes

// readGridCache returns the grid cached in path for the grid of key and spec: nil (compute afresh)
// when there is no cache, it belongs to another grid, or it was written without a checksum (by an
// older LossLab); an error naming the file when it has the right key but is damaged or edited (rows
// of the wrong length, other coordinates, values that do not match its checksum).
func readGridCache(path, key string, spec GridSpec) (*Grid, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if st.Size() > maxCacheBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than a grid cache holds (%d): not a cache, or damaged", path, st.Size(), int64(maxCacheBytes))
	}
	var g Grid
	if err := LoadJSON(path, &g); err != nil {
		return nil, err
	}
	if g.Key != key || g.Checksum == "" {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: damaged or edited cache (it has this grid's key): %s", path, fmt.Sprintf(format, args...))
	}
	if g.Spec != spec {
		return nil, bad("grid %+v, want %+v", g.Spec, spec)
	}
	if !slices.Equal(g.S, linspace(spec.SMin, spec.SMax, spec.NS)) || !slices.Equal(g.T, linspace(spec.TMin, spec.TMax, spec.NT)) {
		return nil, bad("its s or t coordinates are not the grid's")
	}
	for name, rows := range map[string]int{"Loss": len(g.Loss), "Error": len(g.Error), "Done": len(g.Done)} {
		if rows != spec.NT {
			return nil, bad("%s has %d rows, want %d", name, rows, spec.NT)
		}
	}
	for i := range spec.NT {
		if len(g.Loss[i]) != spec.NS || len(g.Error[i]) != spec.NS || len(g.Done[i]) != spec.NS {
			return nil, bad("row %d has %d/%d/%d entries (Loss/Error/Done), want %d", i, len(g.Loss[i]), len(g.Error[i]), len(g.Done[i]), spec.NS)
		}
	}
	if g.sum() != g.Checksum {
		return nil, bad("its values do not match its checksum")
	}
	g.Complete = allDone(g.Done)
	return &g, nil
}

// sum is the Checksum of g.
func (g *Grid) sum() string {
	h := sha256.New()
	var buf [8]byte
	put := func(v float64) {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
		h.Write(buf[:])
	}
	fmt.Fprintf(h, "%s|%+v|%d|%d|", g.Key, g.Spec, len(g.S), len(g.T))
	for _, v := range slices.Concat(g.S, g.T) {
		put(v)
	}
	for i := range g.Loss {
		for _, v := range slices.Concat(g.Loss[i], g.Error[i]) {
			put(v)
		}
		for _, d := range g.Done[i] {
			h.Write([]byte{map[bool]byte{false: 0, true: 1}[d]})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func allDone(done [][]bool) bool {
	for _, row := range done {
		for _, d := range row {
			if !d {
				return false
			}
		}
	}
	return true
}

func gridKey(ev *Evaluator, pl *Plane, d *Data, spec GridSpec) (string, error) {
	if err := checkAll(pl.Origin, pl.U, pl.V); err != nil {
		return "", err
	}
	h := sha256.New()
	var buf [8]byte
	put := func(v float64) {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
		h.Write(buf[:])
	}
	for _, ps := range []*ParamSet{pl.Origin, pl.U, pl.V} {
		for _, v := range ps.Flat() {
			put(v)
		}
	}
	fmt.Fprintf(h, "%+v|%s|%d|%s|%d", spec, d.Name, d.Len(), ev.LossName(), ev.cfg.BatchSize)
	if ev.ReestimatesBN() {
		// BatchNorm statistics re-estimated at each point: the statistics data is part of the key.
		sd := ev.cfg.BatchNorm.Data
		if sd == nil {
			sd = d
		}
		fmt.Fprintf(h, "|bn %s %d %d", sd.Name, sd.Len(), ev.cfg.BatchNorm.Examples)
		for _, v := range sd.X[:min(sd.Len(), ev.cfg.BatchNorm.Examples)*prod(sd.Shape)] {
			put(float64(v))
		}
	}
	for _, v := range d.X {
		put(float64(v))
	}
	for _, y := range d.Y {
		put(float64(y))
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}
