package amclexp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
)

// PairStats describes the positive and negative pairs of a batch of view pairs under a trained arm.
type PairStats struct {
	// Overlap is P(s⁻/τ⁻ ≥ s⁺/τ⁺) over all (positive pair, negative pair) couples of one head, averaged
	// over the heads: how much the two distributions overlap (0: perfectly separated).
	Overlap float64
	// AtLower and AtUpper are the fractions of the temperatures the loss uses (every positive pair and
	// every anchor's hardest negative, in every head) within 1% of the range [τ_min, τ_max] from a bound.
	AtLower, AtUpper float64
	// TauPos and TauNeg are the mean temperatures of the positive pairs and of the hardest negatives.
	TauPos, TauNeg float64
	// Pos and Neg are s/τ of the positive pairs and of a subsample of at most MaxSamples negative pairs,
	// all heads pooled (for histograms).
	Pos, Neg []float64
}

// MaxSamples bounds the negative pairs PairStats keeps for histograms.
const MaxSamples = 20000

// Measure returns the PairStats of arm at point p (trained context ctx) on the view pairs v1, v2
// (b images each, flat).
func (c Config) Measure(ctx *context.Context, arm Arm, p Point, v1, v2 []float32, b int) (PairStats, error) {
	d := len(v1) / max(b, 1)
	if b < 2 || len(v1) != b*d || len(v2) != len(v1) {
		return PairStats{}, fmt.Errorf("amclexp.Measure: %d and %d view values for %d images", len(v1), len(v2), b)
	}
	exec, err := context.NewExecAny(backend.Must(), ctx.Reuse(), func(ctx *context.Context, x1, x2 *Node) []*Node {
		_, sim, tau := c.pairs(ctx, arm, p, x1, x2)
		return []*Node{sim, tau}
	})
	if err != nil {
		return PairStats{}, err
	}
	defer exec.Finalize()
	t1, t2 := tensors.FromFlatDataAndDimensions(v1, b, d), tensors.FromFlatDataAndDimensions(v2, b, d)
	defer t1.MustFinalizeAll()
	defer t2.MustFinalizeAll()
	out, err := exec.Exec(t1, t2)
	if err != nil {
		return PairStats{}, fmt.Errorf("amclexp.Measure: %w", err)
	}
	sim, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		return PairStats{}, err
	}
	tau, err := tensors.CopyFlatData[float32](out[1])
	if err != nil {
		return PairStats{}, err
	}
	for _, t := range out {
		t.MustFinalizeAll()
	}
	tauMax := p.Tau
	if arm.AMCL {
		tauMax = p.TauMax
	}
	return pairStats(sim, tau, arm.Heads, b, lowerBound(arm, p), tauMax), nil
}

// lowerBound is the smallest temperature the arm can take.
func lowerBound(arm Arm, p Point) float64 {
	if arm.AMCL {
		return losses.AMCLTauMin
	}
	return p.Tau
}

// pairStats computes PairStats from similarities and temperatures [C, 2B, 2B] of 2B views of b images
// (view i and view i+b are the positive pair), the temperatures bounded by [lo, hi].
func pairStats(sim, tau []float32, heads, b int, lo, hi float64) PairStats {
	a := 2 * b
	var st PairStats
	var neg []float64
	nLoss, edge := 0, 0.01*(hi-lo)
	count := func(t float64) {
		nLoss++
		if hi > lo && t <= lo+edge {
			st.AtLower++
		}
		if hi > lo && t >= hi-edge {
			st.AtUpper++
		}
	}
	for h := range heads {
		var pos, ng []float64
		for i := range a {
			row := (h*a + i) * a
			hard, hardSim := -1, math.Inf(-1)
			for j := range a {
				s, t := float64(sim[row+j]), float64(tau[row+j])
				switch {
				case i == j:
				case i%b == j%b:
					pos = append(pos, s/t)
					st.TauPos += t
					count(t)
				default:
					ng = append(ng, s/t)
					if s > hardSim {
						hard, hardSim = j, s
					}
				}
			}
			t := float64(tau[row+hard])
			st.TauNeg += t
			count(t)
		}
		st.Overlap += overlap(pos, ng) / float64(heads)
		st.Pos = append(st.Pos, pos...)
		neg = append(neg, ng...)
	}
	st.TauPos /= float64(heads * a)
	st.TauNeg /= float64(heads * a)
	st.AtLower /= float64(nLoss)
	st.AtUpper /= float64(nLoss)
	step := max(1, (len(neg)+MaxSamples-1)/MaxSamples)
	for k := 0; k < len(neg); k += step {
		st.Neg = append(st.Neg, neg[k])
	}
	return st
}

// overlap returns P(n ≥ p) over all couples of p in pos and n in neg.
func overlap(pos, neg []float64) float64 {
	sorted := slices.Clone(neg)
	slices.Sort(sorted)
	over := 0.0
	for _, p := range pos {
		over += float64(len(sorted) - sort.SearchFloat64s(sorted, p))
	}
	return over / float64(len(pos)*len(sorted))
}

// Tuning is the validation kNN accuracy of every grid point of one arm, where its temperatures sat
// (PairStats on validation views), and the index of the chosen point.
type Tuning struct {
	ValKNN           []float64
	AtLower, AtUpper []float64
	Best             int
}

// ArmResult is one arm in one setting: its tuning and the final runs of the chosen point (run r: seed r+1).
type ArmResult struct {
	Arm    string
	Tuning Tuning
	Chosen Point
	// KNN and Probe are the test accuracies of each final run; Overlap, AtLower, AtUpper, TauPos and
	// TauNeg its PairStats on the setting's test views.
	KNN, Probe, Overlap, AtLower, AtUpper, TauPos, TauNeg []float64
	Loss                                                  [][]float64 // mean loss of each epoch, per run
	// Pos and Neg are the s/τ samples of the first final run (PairStats).
	Pos, Neg []float64
}

// SettingResult is every arm with one number of augmentation types.
type SettingResult struct {
	Augs int
	Arms []ArmResult
}

// Arm returns the result of the arm named name (nil if none).
func (s *SettingResult) Arm(name string) *ArmResult {
	for i := range s.Arms {
		if s.Arms[i].Arm == name {
			return &s.Arms[i]
		}
	}
	return nil
}

// views returns one fixed pair of views of the first b images of s with nAug augmentation types.
func views(s *data.Set, nAug, b int, seed uint64) (v1, v2 []float32, err error) {
	aug, err := data.NewAugmenter(s.Shape, Augment(nAug, seed))
	if err != nil {
		return nil, nil, err
	}
	v1, v2 = aug.TwoViews(s, viewsIndex(b))
	return v1, v2, nil
}

func viewsIndex(b int) []int {
	idx := make([]int, b)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// NumRuns returns the number of pre-training runs Run makes (for progress bars).
func (c Config) NumRuns() int {
	n := 0
	for _, a := range c.Arms {
		n += len(a.Grid) + c.Runs
	}
	return n * len(c.Augs)
}

// Run runs the experiment on sp: for every setting and arm, one tuning run per grid point (validation
// kNN accuracy, ties to the earlier point), then Runs final runs of the chosen point, scored on the
// test images. progress, if not nil, is called after every pre-training run with a description of it.
func Run(c Config, sp *Splits, progress func(done string)) ([]SettingResult, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if sp == nil || sp.Train == nil || sp.Val == nil || sp.Test == nil {
		return nil, errors.New("amclexp.Run: missing splits")
	}
	if sp.Train.Len() < c.KNN || sp.Val.Len() < c.PairBatch || sp.Test.Len() < c.PairBatch || sp.Train.Len() < c.Batch {
		return nil, fmt.Errorf("amclexp.Run: splits of %d/%d/%d images for k = %d, batch %d and pair batch %d",
			sp.Train.Len(), sp.Val.Len(), sp.Test.Len(), c.KNN, c.Batch, c.PairBatch)
	}
	dim := c.Width[len(c.Width)-1]
	var out []SettingResult
	for _, na := range c.Augs {
		sr := SettingResult{Augs: na}
		val1, val2, err := views(sp.Val, na, c.PairBatch, c.DataSeed+uint64(na))
		if err != nil {
			return nil, err
		}
		te1, te2, err := views(sp.Test, na, c.PairBatch, c.DataSeed+100+uint64(na))
		if err != nil {
			return nil, err
		}
		for _, a := range c.Arms {
			ar := ArmResult{Arm: a.Name, Tuning: Tuning{Best: -1}}
			best := math.Inf(-1)
			for i, p := range a.Grid {
				ctx, _, err := c.Pretrain(a, p, sp.Train, na, c.TuneSeed)
				if err != nil {
					return nil, err
				}
				trH, vaH, err := c.embed2(ctx, sp.Train, sp.Val)
				if err != nil {
					return nil, err
				}
				acc, err := KNN(trH, sp.Train.Y, vaH, sp.Val.Y, dim, c.KNN, sp.Train.Classes)
				if err != nil {
					return nil, err
				}
				st, err := c.Measure(ctx, a, p, val1, val2, c.PairBatch)
				if err != nil {
					return nil, err
				}
				ar.Tuning.ValKNN = append(ar.Tuning.ValKNN, acc)
				ar.Tuning.AtLower = append(ar.Tuning.AtLower, st.AtLower)
				ar.Tuning.AtUpper = append(ar.Tuning.AtUpper, st.AtUpper)
				if acc > best {
					best, ar.Tuning.Best = acc, i
				}
				if progress != nil {
					progress(fmt.Sprintf("%d aug, %s, tuning %v: validation kNN %.3f", na, a.Name, p, acc))
				}
			}
			p := a.Grid[ar.Tuning.Best]
			ar.Chosen = p
			for r := range c.Runs {
				seed := uint64(r + 1)
				ctx, curve, err := c.Pretrain(a, p, sp.Train, na, seed)
				if err != nil {
					return nil, err
				}
				trH, teH, err := c.embed2(ctx, sp.Train, sp.Test)
				if err != nil {
					return nil, err
				}
				acc, err := KNN(trH, sp.Train.Y, teH, sp.Test.Y, dim, c.KNN, sp.Train.Classes)
				if err != nil {
					return nil, err
				}
				probe, err := Probe(trH, teH, sp.Train, sp.Test, dim, c.ProbeEpochs, seed)
				if err != nil {
					return nil, err
				}
				st, err := c.Measure(ctx, a, p, te1, te2, c.PairBatch)
				if err != nil {
					return nil, err
				}
				ar.KNN, ar.Probe, ar.Loss = append(ar.KNN, acc), append(ar.Probe, probe), append(ar.Loss, curve)
				ar.Overlap, ar.AtLower, ar.AtUpper = append(ar.Overlap, st.Overlap), append(ar.AtLower, st.AtLower), append(ar.AtUpper, st.AtUpper)
				ar.TauPos, ar.TauNeg = append(ar.TauPos, st.TauPos), append(ar.TauNeg, st.TauNeg)
				if r == 0 {
					ar.Pos, ar.Neg = st.Pos, st.Neg
				}
				if progress != nil {
					progress(fmt.Sprintf("%d aug, %s (%v), run %d: test kNN %.3f, probe %.3f", na, a.Name, p, r+1, acc, probe))
				}
			}
			sr.Arms = append(sr.Arms, ar)
		}
		out = append(out, sr)
	}
	return out, nil
}

// embed2 returns the backbone features of two sets.
func (c Config) embed2(ctx *context.Context, a, b *data.Set) (ha, hb []float32, err error) {
	if ha, err = c.Embed(ctx, a); err != nil {
		return nil, nil, err
	}
	hb, err = c.Embed(ctx, b)
	return ha, hb, err
}

// Metric picks one value per final run from an ArmResult, e.g. KNNOf.
type Metric func(*ArmResult) []float64

// KNNOf, ProbeOf and OverlapOf are the Metrics of the test kNN and probe accuracies and of the overlap.
func KNNOf(a *ArmResult) []float64     { return a.KNN }
func ProbeOf(a *ArmResult) []float64   { return a.Probe }
func OverlapOf(a *ArmResult) []float64 { return a.Overlap }

// Values returns metric of every final run of arm with augs augmentation types.
func Values(res []SettingResult, augs int, arm string, metric Metric) ([]float64, error) {
	for i := range res {
		if res[i].Augs == augs {
			if a := res[i].Arm(arm); a != nil {
				return metric(a), nil
			}
		}
	}
	return nil, fmt.Errorf("amclexp.Values: no results for %s with %d augmentation types", arm, augs)
}

// Gain returns, per run, metric of method minus metric of baseline with augs augmentation types.
func Gain(res []SettingResult, augs int, method, baseline string, metric Metric) ([]float64, error) {
	m, err := Values(res, augs, method, metric)
	if err != nil {
		return nil, err
	}
	b, err := Values(res, augs, baseline, metric)
	if err != nil {
		return nil, err
	}
	if len(m) != len(b) {
		return nil, fmt.Errorf("amclexp.Gain: %d runs of %s and %d of %s", len(m), method, len(b), baseline)
	}
	g := make([]float64, len(m))
	for i := range g {
		g[i] = m[i] - b[i]
	}
	return g, nil
}

// Chosen lists the chosen point of every arm with augs augmentation types, e.g. "SimCLR τ=0.2, AMCL β=1 τ_max=2".
func Chosen(res []SettingResult, augs int) string {
	var s []string
	for _, r := range res {
		if r.Augs == augs {
			for _, a := range r.Arms {
				s = append(s, a.Arm+" "+a.Chosen.String())
			}
		}
	}
	return strings.Join(s, ", ")
}

// PinnedRange returns the smallest and largest fraction of the loss's temperatures at a bound (either)
// over the tuning points of a.
func (a *ArmResult) PinnedRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for i := range a.Tuning.AtLower {
		f := a.Tuning.AtLower[i] + a.Tuning.AtUpper[i]
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	return lo, hi
}
