package landscape

import (
	"fmt"
	"strings"
)

// REPAIR: Jordan, Sedghi, Saukh, Entezari and Neyshabur, "REPAIR: REnormalizing Permuted Activations
// for Interpolation Repair" (ICLR 2023, arXiv:2211.08403). Interpolating two aligned networks shrinks
// the spread of hidden pre-activations ("variance collapse"); REPAIR rescales every unit of the
// interpolated network θ_α = (1−α)θ_A + αθ_B so that its pre-activations have the mean and standard
// deviation interpolated from the endpoints', μ_t = (1−α)μ_A + αμ_B and σ_t = (1−α)σ_A + ασ_B. The paper
// inserts a BatchNorm layer after each layer and folds it back into the weights; here the fold is done
// directly, one layer at a time in forward order (each layer's statistics are measured after the layers
// before it have been corrected, as the inserted BatchNorm layers would see them):
//
//	W'[…, i] = s_i·W[…, i],  b'_i = s_i·(b_i − μ_i) + μ_t,i,  s_i = σ_t,i/σ_i.
//
// The paper's simpler RESET variant only recomputes the statistics of the BatchNorm layers a network
// already has; in LossLab that is the Evaluator's BatchNorm re-estimation (BNConfig), on by default, so
// RepairPath with Reset set evaluates the plain path with it and checks that there is something to reset.

// RepairOptions configures Repair and RepairPath.
type RepairOptions struct {
	// Probe gives the pre-activations of every group of Spec (ModelProbe for lib/models' MLP and CNN).
	Probe ProbeFn
	Spec  *PermSpec
	// Data holds the examples the statistics are measured on (a training subset, usually).
	Data *Data
	// Reset selects the RESET variant (BatchNorm statistics re-estimated, weights untouched).
	Reset bool
}

// repairer holds the endpoints and their statistics.
type repairer struct {
	a, b       *ParamSet
	opts       RepairOptions
	muA, sdA   [][]float64
	muB, sdB   [][]float64
	weights    []string
	biases     []string
	groupUnits []int
}

func newRepairer(a, b *ParamSet, opts RepairOptions) (*repairer, error) {
	if opts.Probe == nil || opts.Spec == nil || opts.Data == nil {
		return nil, fmt.Errorf("landscape.Repair: needs a Probe, a Spec and Data")
	}
	if err := a.Compatible(b); err != nil {
		return nil, err
	}
	if err := opts.Spec.check(a); err != nil {
		return nil, err
	}
	r := &repairer{a: a, b: b, opts: opts}
	for _, pa := range opts.Spec.Params {
		if strings.Contains(pa.Name, "norm_") {
			return nil, fmt.Errorf("landscape.Repair: %s is a normalisation parameter; REPAIR folds the correction into the layer before the nonlinearity, which a normalisation layer would undo (for BatchNorm networks use the RESET variant, Reset: true)", pa.Name)
		}
	}
	for _, g := range opts.Spec.Groups {
		w, bias := a.Lookup(g.Name+"/weights"), a.Lookup(g.Name+"/biases")
		if w == nil || bias == nil || w.Shape[len(w.Shape)-1] != g.Size || len(bias.Data) != g.Size {
			return nil, fmt.Errorf("landscape.Repair: group %s is not produced by a layer with %s/weights [..., %d] and %s/biases [%d]", g.Name, g.Name, g.Size, g.Name, g.Size)
		}
		r.weights, r.biases, r.groupUnits = append(r.weights, w.Name()), append(r.biases, bias.Name()), append(r.groupUnits, g.Size)
	}
	var err error
	if r.muA, r.sdA, err = r.stats(a); err != nil {
		return nil, err
	}
	if r.muB, r.sdB, err = r.stats(b); err != nil {
		return nil, err
	}
	return r, nil
}

// stats measures the pre-activation mean and standard deviation of every group at ps.
func (r *repairer) stats(ps *ParamSet) (mu, sd [][]float64, err error) {
	hs, err := r.opts.Probe(ps, r.opts.Data)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range r.opts.Spec.Groups {
		h, err := hiddenOf(hs, g)
		if err != nil {
			return nil, nil, err
		}
		m, s := columnStats(h.Pre, h.PreRows, h.Units)
		mu, sd = append(mu, m), append(sd, s)
	}
	return mu, sd, nil
}

// at returns the repaired network at α.
func (r *repairer) at(alpha float64) (*ParamSet, error) {
	theta := combine([]float64{1 - alpha, alpha}, []*ParamSet{r.a, r.b})
	for g := range r.opts.Spec.Groups {
		mu, sd, err := r.stats(theta)
		if err != nil {
			return nil, err
		}
		w, bias := theta.Lookup(r.weights[g]), theta.Lookup(r.biases[g])
		n := r.groupUnits[g]
		for i := range n {
			target := (1-alpha)*r.sdA[g][i] + alpha*r.sdB[g][i]
			s := 1.0
			if sd[g][i] > 0 {
				s = target / sd[g][i]
			}
			for j := i; j < len(w.Data); j += n {
				w.Data[j] *= s
			}
			bias.Data[i] = s*(bias.Data[i]-mu[g][i]) + (1-alpha)*r.muA[g][i] + alpha*r.muB[g][i]
		}
	}
	return theta, nil
}

// Repair returns the interpolated network (1−α)θ_A + αθ_B with REPAIR applied (θ_B aligned to θ_A
// first: REPAIR does not align).
func Repair(a, b *ParamSet, alpha float64, opts RepairOptions) (*ParamSet, error) {
	if opts.Reset {
		return nil, fmt.Errorf("landscape.Repair: the RESET variant changes no weights; evaluate the plain path with BatchNorm re-estimation (RepairPath does)")
	}
	r, err := newRepairer(a, b, opts)
	if err != nil {
		return nil, err
	}
	return r.at(alpha)
}

// RepairPath evaluates the path θ_A → θ_B with REPAIR (or, with opts.Reset, RESET) at numAlpha evenly
// spaced α on each dataset, with the batched evaluator (ev.PointsPerCall repaired networks per call).
// Barriers are computed as for Interpolate; refinement is not offered.
func RepairPath(ev *Evaluator, a, b *ParamSet, data []*Data, numAlpha int, opts RepairOptions) (*Path, error) {
	if numAlpha < 2 {
		return nil, fmt.Errorf("landscape.RepairPath: numAlpha=%d, need ≥ 2", numAlpha)
	}
	if opts.Reset {
		if !ev.ReestimatesBN() {
			return nil, fmt.Errorf("landscape.RepairPath: RESET re-estimates BatchNorm statistics, but the evaluator does not (no BatchNorm layers, or BatchNorm.Off); use REPAIR")
		}
		p, err := Interpolate(ev, a, b, data, PathOptions{NumAlpha: numAlpha})
		if err != nil {
			return nil, err
		}
		p.Provenance.Notes = "RESET: BatchNorm statistics re-estimated at every point (Jordan et al., ICLR 2023)"
		return p, nil
	}
	r, err := newRepairer(a, b, opts)
	if err != nil {
		return nil, err
	}
	alphas := AlphaGrid(numAlpha)
	points := make([]*ParamSet, len(alphas))
	for i, al := range alphas {
		if points[i], err = r.at(al); err != nil {
			return nil, err
		}
	}
	p := &Path{Alpha: alphas, GridSize: numAlpha}
	for _, d := range data {
		pts, err := EvalPoints(ev, points, d)
		if err != nil {
			return nil, err
		}
		c := Curve{Data: d.Name, N: d.Len()}
		for _, pt := range pts {
			c.Loss, c.Error = append(c.Loss, pt.Loss), append(c.Error, pt.Error)
		}
		p.Curves = append(p.Curves, c)
	}
	if err := p.computeBarriers(); err != nil {
		return nil, err
	}
	p.Provenance = newProvenance(ev, data)
	p.Provenance.Grid = fmt.Sprintf("%d α values evenly spaced in [0,1]", numAlpha)
	p.Provenance.Notes = fmt.Sprintf("REPAIR (Jordan et al., ICLR 2023): pre-activation statistics of %d groups reset to the interpolated endpoint statistics, measured on %d examples of %s", len(opts.Spec.Groups), opts.Data.Len(), opts.Data.Name)
	return p, nil
}

// EvalPoints evaluates arbitrary parameter points on d with the batched evaluator: points[0] is the
// base and the others enter as directions, PointsPerCall at a time (the last call padded with zero
// directions, so one compiled program serves every call).
func EvalPoints(ev *Evaluator, points []*ParamSet, d *Data) ([]Point, error) {
	if len(points) == 0 {
		return nil, fmt.Errorf("landscape.EvalPoints: no points")
	}
	base := points[0]
	if err := checkAll(points...); err != nil {
		return nil, err
	}
	k := ev.cfg.PointsPerCall
	coeffs := make([][]float64, k)
	for i := range coeffs {
		coeffs[i] = make([]float64, k)
		coeffs[i][i] = 1
	}
	out := make([]Point, 0, len(points))
	for start := 0; start < len(points); start += k {
		dirs := make([]*ParamSet, k)
		for i := range dirs {
			if start+i < len(points) {
				dirs[i] = combine([]float64{1, -1}, []*ParamSet{points[start+i], base})
			} else {
				dirs[i] = base.Zeros()
			}
		}
		pts, err := ev.Eval(base, dirs, coeffs, d)
		if err != nil {
			return nil, err
		}
		out = append(out, pts[:min(k, len(points)-start)]...)
	}
	return out, nil
}
