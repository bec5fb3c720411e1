package landscape

import (
	"fmt"
	"strings"
)

// Layerwise holds layer-wise LMC (Adilova et al.): for each row, only the named groups move along the
// path while the others stay at the base, θ(α) = θ_base + α·mask_row(θ_other − θ_base). Rows of Gap are
// ready for a heatmap (row × α).
type Layerwise struct {
	// Rows names each row's groups, joined by "+"; Base is "A" or "B".
	Rows  []string
	Base  string
	Alpha []float64
	Data  string
	// Loss[r][i] is the loss at Alpha[i] on row r; Gap the linear-chord gap; Barrier the barriers.
	Loss, Gap [][]float64
	Barrier   []Barrier
	// Cumulative rows: groups[0..r] interpolated together (only when each row is a single group).
	CumulativeLoss, CumulativeGap [][]float64 `json:",omitempty"`
	Cumulative                    []Barrier   `json:",omitempty"`
	Provenance                    Provenance
}

// LayerwiseOptions configures InterpolateLayers.
type LayerwiseOptions struct {
	// NumAlpha is the number of α values (default 21).
	NumAlpha int
	// BaseB makes θ_B the base (groups move from B towards A).
	BaseB bool
	// Sets lists the group sets, one row each; default: every group alone, in order, plus cumulative rows.
	Sets [][]string
}

// InterpolateLayers computes per-group (or per-set) and cumulative interpolation curves and barriers.
func InterpolateLayers(ev *Evaluator, a, b *ParamSet, d *Data, opts LayerwiseOptions) (*Layerwise, error) {
	if opts.NumAlpha == 0 {
		opts.NumAlpha = 21
	}
	if opts.NumAlpha < 2 {
		return nil, fmt.Errorf("landscape: NumAlpha=%d, need ≥ 2", opts.NumAlpha)
	}
	base, other := a, b
	res := &Layerwise{Base: "A", Alpha: AlphaGrid(opts.NumAlpha), Data: d.Name}
	if opts.BaseB {
		base, other, res.Base = b, a, "B"
	}
	delta, err := Sub(other, base)
	if err != nil {
		return nil, err
	}
	sets := opts.Sets
	single := sets == nil
	if single {
		for _, g := range base.Groups() {
			sets = append(sets, []string{g})
		}
	}
	row := func(groups []string) ([]float64, []float64, Barrier, error) {
		dir, err := delta.Mask(groups...)
		if err != nil {
			return nil, nil, Barrier{}, err
		}
		p, err := LinePath(ev, base, dir, []*Data{d}, PathOptions{NumAlpha: opts.NumAlpha})
		if err != nil {
			return nil, nil, Barrier{}, err
		}
		c := p.Curves[0]
		return c.Loss, gaps(p.Alpha, c.Loss, "linear"), c.LossBarrier, nil
	}
	for _, s := range sets {
		l, g, br, err := row(s)
		if err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, strings.Join(s, "+"))
		res.Loss, res.Gap, res.Barrier = append(res.Loss, l), append(res.Gap, g), append(res.Barrier, br)
	}
	if single {
		for r := range sets {
			var groups []string
			for _, s := range sets[:r+1] {
				groups = append(groups, s...)
			}
			l, g, br, err := row(groups)
			if err != nil {
				return nil, err
			}
			res.CumulativeLoss, res.CumulativeGap = append(res.CumulativeLoss, l), append(res.CumulativeGap, g)
			res.Cumulative = append(res.Cumulative, br)
		}
	}
	res.Provenance = newProvenance(ev, []*Data{d})
	res.Provenance.Grid = fmt.Sprintf("%d α values evenly spaced in [0,1]", opts.NumAlpha)
	return res, nil
}
