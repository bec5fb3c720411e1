package landscape

import (
	"fmt"
	"math"
	"sort"
)

// Barrier holds the three barrier definitions of a curve φ(α), α ∈ [0, 1] (see the package doc), each
// absolute and relative to ½(φ(0)+φ(1)) (relative values are 0 when that mean is 0: see RelativeValid).
type Barrier struct {
	// Linear is max_α [φ(α) − ((1−α)φ(0) + αφ(1))], at LinearAlpha.
	Linear, LinearAlpha float64
	// Mean is max_α φ(α) − ½(φ(0)+φ(1)), at MeanAlpha.
	Mean, MeanAlpha float64
	// Midpoint is φ(½) − ½(φ(0)+φ(1)); when ½ is not on the grid φ(½) is interpolated linearly
	// (MidpointInterpolated).
	Midpoint             float64
	MidpointInterpolated bool `json:",omitempty"`
	// Relative versions: divided by ½(φ(0)+φ(1)).
	RelLinear, RelMean, RelMidpoint float64
	RelativeValid                   bool
}

// Barriers computes the barriers of φ sampled at alpha (sorted ascending, starting at 0 and ending at 1).
func Barriers(alpha, phi []float64) (Barrier, error) {
	if len(alpha) != len(phi) || len(alpha) < 2 {
		return Barrier{}, fmt.Errorf("landscape.Barriers: %d α values for %d losses (need ≥ 2, equal)", len(alpha), len(phi))
	}
	if alpha[0] != 0 || alpha[len(alpha)-1] != 1 || !sort.Float64sAreSorted(alpha) {
		return Barrier{}, fmt.Errorf("landscape.Barriers: α grid must be sorted and run from 0 to 1, got [%g … %g]", alpha[0], alpha[len(alpha)-1])
	}
	for i, v := range phi {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Barrier{}, fmt.Errorf("landscape.Barriers: loss is %g at α=%g", v, alpha[i])
		}
	}
	p0, p1 := phi[0], phi[len(phi)-1]
	mean := (p0 + p1) / 2
	b := Barrier{Linear: math.Inf(-1), Mean: math.Inf(-1)}
	for i, a := range alpha {
		if g := phi[i] - ((1-a)*p0 + a*p1); g > b.Linear {
			b.Linear, b.LinearAlpha = g, a
		}
		if g := phi[i] - mean; g > b.Mean {
			b.Mean, b.MeanAlpha = g, a
		}
	}
	j := sort.SearchFloat64s(alpha, 0.5)
	if alpha[j] == 0.5 {
		b.Midpoint = phi[j] - mean
	} else {
		t := (0.5 - alpha[j-1]) / (alpha[j] - alpha[j-1])
		b.Midpoint = (1-t)*phi[j-1] + t*phi[j] - mean
		b.MidpointInterpolated = true
	}
	if mean != 0 {
		b.RelativeValid = true
		b.RelLinear, b.RelMean, b.RelMidpoint = b.Linear/mean, b.Mean/mean, b.Midpoint/mean
	}
	return b, nil
}

// Curve is the loss and error along a path on one dataset, with their barriers.
type Curve struct {
	Data         string
	N            int
	Loss, Error  []float64
	LossBarrier  Barrier
	ErrorBarrier Barrier
}

// Path is an interpolation θ(α) = base + α·direction evaluated on an α grid (plus refinement points) on
// one or more datasets.
type Path struct {
	Alpha []float64
	// GridSize is the size of the initial evenly spaced grid; len(Alpha) − GridSize points were added by
	// refinement.
	GridSize int
	Curves   []Curve
	// Refinement reports the adaptive refinement (zero when off).
	Refinement Refinement
	Provenance Provenance
}

// Refinement reports how the barrier of the refined curve was pinned down.
type Refinement struct {
	// Data is the curve that drove refinement, Barrier "linear" or "mean".
	Data, Barrier string
	Rounds        int
	Tolerance     float64
	// Uncertainty is the final estimate of |true max − sampled max|: the gap between the sampled maximum
	// and the vertex of the parabola through it and its two neighbours, or the last round's change.
	Uncertainty float64
	Converged   bool
}

// PathOptions configures Interpolate.
type PathOptions struct {
	// NumAlpha is the number of evenly spaced α values including both ends (default 21).
	NumAlpha int
	// Refine turns on adaptive refinement around the maximum of the loss barrier on Data[RefineData].
	Refine     bool
	RefineData int
	// RefineBarrier is "linear" (default) or "mean".
	RefineBarrier string
	// Tolerance is the absolute tolerance on the barrier (default 1e-3); MaxRounds bounds the refinement
	// rounds (default 12, each adds at most two points).
	Tolerance float64
	MaxRounds int
	// Watch, if set, is called after every compiled call's worth of α values (the evaluator's
	// PointsPerCall) with the path so far, its barriers not yet computed (read it there, do not keep or
	// change it), and once more with done true when the path is complete, e.g. viz.LivePath's growing
	// line. Each point's numbers are the same with or without a watcher.
	Watch func(p *Path, done bool)
}

func (o *PathOptions) defaults() error {
	if o.NumAlpha == 0 {
		o.NumAlpha = 21
	}
	if o.NumAlpha < 2 {
		return fmt.Errorf("landscape: NumAlpha=%d, need ≥ 2", o.NumAlpha)
	}
	if o.Tolerance == 0 {
		o.Tolerance = 1e-3
	}
	if o.MaxRounds == 0 {
		o.MaxRounds = 12
	}
	if o.RefineBarrier == "" {
		o.RefineBarrier = "linear"
	}
	if o.RefineBarrier != "linear" && o.RefineBarrier != "mean" {
		return fmt.Errorf("landscape: RefineBarrier %q, want \"linear\" or \"mean\"", o.RefineBarrier)
	}
	if o.Tolerance < 0 || o.MaxRounds < 0 {
		return fmt.Errorf("landscape: Tolerance=%g and MaxRounds=%d must be ≥ 0", o.Tolerance, o.MaxRounds)
	}
	return nil
}

// AlphaGrid returns n evenly spaced values from 0 to 1 inclusive.
func AlphaGrid(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i) / float64(n-1)
	}
	return out
}

// Interpolate evaluates the linear path (1−α)θ_A + αθ_B on each dataset (e.g. a train subset and test).
func Interpolate(ev *Evaluator, a, b *ParamSet, data []*Data, opts PathOptions) (*Path, error) {
	dir, err := Sub(b, a)
	if err != nil {
		return nil, err
	}
	p, err := LinePath(ev, a, dir, data, opts)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// LinePath evaluates θ(α) = base + α·dir for α on the grid of opts, refining if asked.
func LinePath(ev *Evaluator, base, dir *ParamSet, data []*Data, opts PathOptions) (*Path, error) {
	pd := pathDirs{dirs: []*ParamSet{dir}, coef: func(a float64) []float64 { return []float64{a} }}
	return evalPath(ev, base, pd, data, opts)
}

// pathDirs describes a path θ(α) = base + Σ_m coef(α)_m·dirs[m].
type pathDirs struct {
	dirs []*ParamSet
	coef func(alpha float64) []float64
}

// evalPath evaluates a path on the α grid of opts (defaults applied), refining if asked.
func evalPath(ev *Evaluator, base *ParamSet, pd pathDirs, data []*Data, opts PathOptions) (*Path, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("landscape: no evaluation data given")
	}
	if opts.RefineData < 0 || opts.RefineData >= len(data) {
		return nil, fmt.Errorf("landscape: RefineData=%d but %d datasets given", opts.RefineData, len(data))
	}
	p := &Path{GridSize: opts.NumAlpha, Curves: make([]Curve, len(data))}
	for i, d := range data {
		if err := d.check(); err != nil {
			return nil, err
		}
		p.Curves[i] = Curve{Data: d.Name, N: d.Len()}
	}
	if err := p.addWatched(ev, base, pd, data, AlphaGrid(opts.NumAlpha), opts.Watch); err != nil {
		return nil, err
	}
	if opts.Refine {
		if err := p.refine(ev, base, pd, data, opts); err != nil {
			return nil, err
		}
	}
	if err := p.computeBarriers(); err != nil {
		return nil, err
	}
	p.Provenance = newProvenance(ev, data)
	p.Provenance.Grid = fmt.Sprintf("%d α values evenly spaced in [0,1], %d added by refinement", opts.NumAlpha, len(p.Alpha)-opts.NumAlpha)
	if opts.Watch != nil {
		opts.Watch(p, true)
	}
	return p, nil
}

// addWatched is add, in chunks of one compiled call's points with watch called after each when watch is
// set (the evaluator runs the same program on each chunk, so the numbers do not change).
func (p *Path) addWatched(ev *Evaluator, base *ParamSet, pd pathDirs, data []*Data, alphas []float64, watch func(*Path, bool)) error {
	if watch == nil {
		return p.add(ev, base, pd, data, alphas)
	}
	k := ev.cfg.PointsPerCall
	for start := 0; start < len(alphas); start += k {
		if err := p.add(ev, base, pd, data, alphas[start:min(start+k, len(alphas))]); err != nil {
			return err
		}
		watch(p, false)
	}
	return nil
}

// add evaluates the new α values and merges them into the sorted path.
func (p *Path) add(ev *Evaluator, base *ParamSet, pd pathDirs, data []*Data, alphas []float64) error {
	coeffs := make([][]float64, len(alphas))
	for i, a := range alphas {
		coeffs[i] = pd.coef(a)
	}
	results := make([][]Point, len(data))
	for i, d := range data {
		pts, err := ev.Eval(base, pd.dirs, coeffs, d)
		if err != nil {
			return err
		}
		results[i] = pts
	}
	type row struct {
		a    float64
		l, e []float64
	}
	rows := make([]row, 0, len(p.Alpha)+len(alphas))
	for j, a := range p.Alpha {
		r := row{a: a}
		for i := range data {
			r.l = append(r.l, p.Curves[i].Loss[j])
			r.e = append(r.e, p.Curves[i].Error[j])
		}
		rows = append(rows, r)
	}
	for j, a := range alphas {
		r := row{a: a}
		for i := range data {
			r.l = append(r.l, results[i][j].Loss)
			r.e = append(r.e, results[i][j].Error)
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].a < rows[j].a })
	p.Alpha = p.Alpha[:0]
	for i := range p.Curves {
		p.Curves[i].Loss, p.Curves[i].Error = nil, nil
	}
	for _, r := range rows {
		p.Alpha = append(p.Alpha, r.a)
		for i := range p.Curves {
			p.Curves[i].Loss = append(p.Curves[i].Loss, r.l[i])
			p.Curves[i].Error = append(p.Curves[i].Error, r.e[i])
		}
	}
	return nil
}

func (p *Path) computeBarriers() error {
	for i := range p.Curves {
		c := &p.Curves[i]
		var err error
		if c.LossBarrier, err = Barriers(p.Alpha, c.Loss); err != nil {
			return fmt.Errorf("%s: %w", c.Data, err)
		}
		if c.ErrorBarrier, err = Barriers(p.Alpha, c.Error); err != nil {
			return fmt.Errorf("%s: %w", c.Data, err)
		}
	}
	return nil
}

// gaps returns the quantity whose maximum is the barrier being refined.
func gaps(alpha, phi []float64, kind string) []float64 {
	p0, p1 := phi[0], phi[len(phi)-1]
	out := make([]float64, len(phi))
	for i, a := range alpha {
		if kind == "mean" {
			out[i] = phi[i] - (p0+p1)/2
		} else {
			out[i] = phi[i] - ((1-a)*p0 + a*p1)
		}
	}
	return out
}

// parabolaVertex returns the maximum of the parabola through three points, when it is concave and its
// vertex lies within [x0, x2]; ok is false otherwise.
func parabolaVertex(x0, y0, x1, y1, x2, y2 float64) (xv, yv float64, ok bool) {
	d0 := (y1 - y0) / (x1 - x0)
	d1 := (y2 - y1) / (x2 - x1)
	a := (d1 - d0) / (x2 - x0) // leading coefficient
	if !(a < 0) {
		return 0, 0, false
	}
	// y = y1 + s(x−x1) + a(x−x1)², with s the slope at x1.
	s := d0 + a*(x1-x0)
	xv = x1 - s/(2*a)
	if xv < x0 || xv > x2 {
		return 0, 0, false
	}
	return xv, y1 + s*(xv-x1) + a*(xv-x1)*(xv-x1), true
}

// refine adds points around the maximum of the gap until the parabola through the maximum and its
// neighbours agrees with the sampled maximum to the tolerance (and the last round changed the maximum
// by no more than the tolerance), or MaxRounds is reached.
func (p *Path) refine(ev *Evaluator, base *ParamSet, pd pathDirs, data []*Data, opts PathOptions) error {
	r := &p.Refinement
	r.Data, r.Barrier, r.Tolerance = data[opts.RefineData].Name, opts.RefineBarrier, opts.Tolerance
	prevMax := math.Inf(-1)
	for r.Rounds = 0; r.Rounds < opts.MaxRounds; r.Rounds++ {
		g := gaps(p.Alpha, p.Curves[opts.RefineData].Loss, opts.RefineBarrier)
		i := 0
		for j := range g {
			if g[j] > g[i] {
				i = j
			}
		}
		unc := math.Abs(g[i] - prevMax)
		// The three sampled points nearest the maximum (shifted inwards at the ends).
		c := min(max(i, 1), len(g)-2)
		if xv, yv, ok := parabolaVertex(p.Alpha[c-1], g[c-1], p.Alpha[c], g[c], p.Alpha[c+1], g[c+1]); ok && xv >= 0 && xv <= 1 {
			unc = max(unc, yv-g[i])
		}
		r.Uncertainty = unc
		if r.Rounds > 0 && unc <= opts.Tolerance {
			r.Converged = true
			return nil
		}
		prevMax = g[i]
		var next []float64
		if i > 0 {
			next = append(next, (p.Alpha[i-1]+p.Alpha[i])/2)
		}
		if i+1 < len(p.Alpha) {
			next = append(next, (p.Alpha[i]+p.Alpha[i+1])/2)
		}
		if p.Alpha[min(i+1, len(p.Alpha)-1)]-p.Alpha[max(i-1, 0)] < 1e-9 {
			r.Converged = unc <= opts.Tolerance
			return nil // spacing below what α can resolve
		}
		if err := p.addWatched(ev, base, pd, data, next, opts.Watch); err != nil {
			return err
		}
	}
	return nil
}

// Stats summarises a set of values: count, mean, sample standard deviation, min and max.
type Stats struct {
	N                   int
	Mean, Std, Min, Max float64
}

// Summarize returns the Stats of values (Std is 0 for fewer than two values).
func Summarize(values []float64) Stats {
	s := Stats{N: len(values)}
	if len(values) == 0 {
		return s
	}
	s.Min, s.Max = math.Inf(1), math.Inf(-1)
	for _, v := range values {
		s.Mean += v
		s.Min, s.Max = min(s.Min, v), max(s.Max, v)
	}
	s.Mean /= float64(len(values))
	if len(values) > 1 {
		for _, v := range values {
			s.Std += (v - s.Mean) * (v - s.Mean)
		}
		s.Std = math.Sqrt(s.Std / float64(len(values)-1))
	}
	return s
}

// PairSummary holds the paths between several pairs of points (e.g. seed pairs) and the spread of their
// barriers per dataset.
type PairSummary struct {
	Paths []*Path
	// Per dataset name: statistics of the loss barriers (linear, mean, midpoint) and error barriers.
	LossLinear, LossMean, LossMidpoint map[string]Stats
	ErrorLinear, ErrorMean             map[string]Stats
	Provenance                         Provenance
}

// InterpolatePairs runs Interpolate for each pair and summarises the barriers: mean and spread.
func InterpolatePairs(ev *Evaluator, pairs [][2]*ParamSet, data []*Data, opts PathOptions) (*PairSummary, error) {
	if len(pairs) == 0 {
		return nil, fmt.Errorf("landscape.InterpolatePairs: no pairs given")
	}
	out := &PairSummary{LossLinear: map[string]Stats{}, LossMean: map[string]Stats{}, LossMidpoint: map[string]Stats{},
		ErrorLinear: map[string]Stats{}, ErrorMean: map[string]Stats{}}
	for i, pr := range pairs {
		p, err := Interpolate(ev, pr[0], pr[1], data, opts)
		if err != nil {
			return nil, fmt.Errorf("pair %d: %w", i, err)
		}
		out.Paths = append(out.Paths, p)
	}
	for ci, d := range data {
		collect := func(f func(c Curve) float64) Stats {
			var v []float64
			for _, p := range out.Paths {
				v = append(v, f(p.Curves[ci]))
			}
			return Summarize(v)
		}
		out.LossLinear[d.Name] = collect(func(c Curve) float64 { return c.LossBarrier.Linear })
		out.LossMean[d.Name] = collect(func(c Curve) float64 { return c.LossBarrier.Mean })
		out.LossMidpoint[d.Name] = collect(func(c Curve) float64 { return c.LossBarrier.Midpoint })
		out.ErrorLinear[d.Name] = collect(func(c Curve) float64 { return c.ErrorBarrier.Linear })
		out.ErrorMean[d.Name] = collect(func(c Curve) float64 { return c.ErrorBarrier.Mean })
	}
	out.Provenance = newProvenance(ev, data)
	out.Provenance.Notes = fmt.Sprintf("%d pairs", len(pairs))
	return out, nil
}
