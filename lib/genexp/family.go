package genexp

import (
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/genmeasure"
)

// Model is one trained network of a family.
type Model struct {
	Noise              float64
	Width              int
	NoiseIdx, WidthIdx int
	// TrainErr is the error on the (noisy) training labels, TestErr on clean test labels.
	TrainErr, TestErr float64
	Measures          []genmeasure.Measure
}

// Gap is the generalization gap, test error − training error.
func (m Model) Gap() float64 { return m.TestErr - m.TrainErr }

// Family is one independent run: every noise × width model trained on the run's own sample.
type Family struct {
	Run    int
	Models []Model
}

// RunFamily trains and measures run r's family. Run r draws its training and test samples, its label
// noise (one draw per rate) and its initialisations (one per model) from cfg.Seed + r, so runs share
// nothing but the pools. done, if set, is called after each model.
func RunFamily(d Data, cfg Config, r int, done func(Model)) (*Family, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if err := d.check(cfg.Train, cfg.Test); err != nil {
		return nil, err
	}
	seed := cfg.Seed + uint64(r)
	s, test := d.draw(cfg.Train, cfg.Test, 1000+seed)
	f := &Family{Run: r}
	for i, rate := range cfg.Noises {
		noisy, _, err := data.LabelNoise(s, data.NoiseConfig{Kind: data.Uniform, Rate: rate, Seed: 1000*seed + uint64(i)})
		if err != nil {
			return nil, fmt.Errorf("genexp.RunFamily: %w", err)
		}
		for j, w := range cfg.Widths {
			h, h0, err := Fit(noisy, w, cfg, 1000*seed+uint64(100+len(cfg.Widths)*i+j))
			if err != nil {
				return nil, err
			}
			m := Model{Noise: rate, Width: w, NoiseIdx: i, WidthIdx: j}
			if m.TrainErr, err = h.Error(Inputs(noisy)); err != nil {
				return nil, err
			}
			if m.TestErr, err = h.Error(Inputs(test)); err != nil {
				return nil, err
			}
			if m.Measures, err = genmeasure.Measures(h, h0, Inputs(noisy), cfg.Search); err != nil {
				return nil, fmt.Errorf("genexp.RunFamily (noise %g, width %d): %w", rate, w, err)
			}
			f.Models = append(f.Models, m)
			if done != nil {
				done(m)
			}
		}
	}
	return f, nil
}

// Tau is one measure's rank correlation with the generalization gap over a family.
type Tau struct {
	Name string
	// Models is the number of models where the measure is finite (the "/γ" measures are NaN when a
	// model's 10th-percentile margin is ≤ 0).
	Models int
	// Tau is Kendall's τ_b with the gap; Granulated the granulated τ over the noise and width axes.
	// NaN when fewer than 3 models have a finite value or the values are constant.
	Tau, Granulated float64
}

// Taus ranks every measure of the family (but "params") against the models' gaps, in the order of the
// first model's measures.
func (f *Family) Taus() ([]Tau, error) {
	if len(f.Models) == 0 {
		return nil, fmt.Errorf("genexp: run %d has no models", f.Run)
	}
	var rows []Tau
	for k, ms := range f.Models[0].Measures {
		if ms.Name == "params" {
			continue
		}
		var v, gap []float64
		var hp [][]int
		for _, m := range f.Models {
			if len(m.Measures) != len(f.Models[0].Measures) || m.Measures[k].Name != ms.Name {
				return nil, fmt.Errorf("genexp: run %d: models list different measures", f.Run)
			}
			x := m.Measures[k].Value
			if math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
			v, gap = append(v, x), append(gap, m.Gap())
			hp = append(hp, []int{m.NoiseIdx, m.WidthIdx})
		}
		t := Tau{Name: ms.Name, Models: len(v), Tau: math.NaN(), Granulated: math.NaN()}
		if len(v) >= 3 {
			if tau, err := genmeasure.KendallTau(v, gap); err == nil {
				t.Tau = tau
			}
			if _, g, err := genmeasure.GranulatedTau(v, gap, hp); err == nil {
				t.Granulated = g
			}
		}
		rows = append(rows, t)
	}
	return rows, nil
}

// TauOf returns Kendall's τ of the named measure with the gap over the family; an error when the
// measure is unknown or its τ is undefined.
func (f *Family) TauOf(name string) (float64, error) {
	rows, err := f.Taus()
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if r.Name == name {
			if math.IsNaN(r.Tau) {
				return 0, fmt.Errorf("genexp: run %d: τ of %s undefined (%d finite values)", f.Run, name, r.Models)
			}
			return r.Tau, nil
		}
	}
	return 0, fmt.Errorf("genexp: no measure %q", name)
}

// NoiseTau is Kendall's τ between the label-noise rate and the gap over the family: how strongly the
// sweep drives the gap.
func (f *Family) NoiseTau() (float64, error) {
	var noise, gap []float64
	for _, m := range f.Models {
		noise, gap = append(noise, m.Noise), append(gap, m.Gap())
	}
	return genmeasure.KendallTau(noise, gap)
}

// TausAcross returns, for the named measure, its τ in each family (in order); an error when any is
// undefined.
func TausAcross(fs []*Family, name string) ([]float64, error) {
	out := make([]float64, len(fs))
	for i, f := range fs {
		t, err := f.TauOf(name)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// TauStat is one measure's τ with the gap across families.
type TauStat struct {
	Name string
	// Taus holds the τ of each family where it is defined; Mean and SD (sample standard deviation, 0 for
	// one family) summarise them.
	Taus     []float64
	Mean, SD float64
	// Granulated is the mean granulated τ over the same families.
	Granulated float64
}

// Summarize returns every measure's τ across the families, in the first family's order; a measure
// whose τ is undefined in every family has no Taus and NaN statistics.
func Summarize(fs []*Family) ([]TauStat, error) {
	if len(fs) == 0 {
		return nil, fmt.Errorf("genexp.Summarize: no families")
	}
	var out []TauStat
	for i, f := range fs {
		rows, err := f.Taus()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			for _, r := range rows {
				out = append(out, TauStat{Name: r.Name})
			}
		}
		if len(rows) != len(out) {
			return nil, fmt.Errorf("genexp.Summarize: run %d lists %d measures, run %d %d", fs[0].Run, len(out), f.Run, len(rows))
		}
		for k, r := range rows {
			if r.Name != out[k].Name {
				return nil, fmt.Errorf("genexp.Summarize: run %d lists %s where run %d lists %s", f.Run, r.Name, fs[0].Run, out[k].Name)
			}
			if !math.IsNaN(r.Tau) {
				out[k].Taus = append(out[k].Taus, r.Tau)
				out[k].Granulated += r.Granulated
			}
		}
	}
	for k := range out {
		s := &out[k]
		n := float64(len(s.Taus))
		s.Mean, s.SD, s.Granulated = math.NaN(), math.NaN(), s.Granulated/n
		if n == 0 {
			continue
		}
		s.Mean = 0
		for _, t := range s.Taus {
			s.Mean += t / n
		}
		s.SD = 0
		if n > 1 {
			for _, t := range s.Taus {
				s.SD += (t - s.Mean) * (t - s.Mean) / (n - 1)
			}
			s.SD = math.Sqrt(s.SD)
		}
	}
	return out, nil
}
