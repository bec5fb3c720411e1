package viz

import (
	"fmt"
	"math"

	"github.com/losslab/losslab/lib/landscape"
)

// HessianDensity plots the eigenvalue densities of Hessian spectra from lib/landscape's stochastic
// Lanczos quadrature (landscape.SpectralDensity), one line per spectrum, as PyHessian does (Yao et al.,
// arXiv:1912.07145): each quadrature node is spread as a Gaussian of standard deviation sigma (sigma ≤ 0
// picks 1 % of the joint eigenvalue range) on a shared grid of 400 points covering every spectrum's
// nodes, and the density is drawn on a log axis, floored at 1e-7 of the highest peak so that the
// outliers far from the bulk stay visible. names[i] labels spectra[i].
func HessianDensity(title string, names []string, spectra []*landscape.Spectrum, sigma float64) *Figure {
	if len(spectra) == 0 || len(names) != len(spectra) {
		return errFigure(title, fmt.Errorf("viz: HessianDensity %q: %d names for %d spectra (need one name per spectrum, at least one)", title, len(names), len(spectra)))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range spectra {
		if s == nil || len(s.Nodes) == 0 {
			return errFigure(title, fmt.Errorf("viz: HessianDensity %q: spectrum %q is empty", title, names[i]))
		}
		l, h := s.Range()
		lo, hi = math.Min(lo, l), math.Max(hi, h)
	}
	if sigma <= 0 {
		sigma = 0.01 * math.Max(hi-lo, 1e-12)
	}
	grid := Linspace(lo-4*sigma, hi+4*sigma, 400)
	var series []Series
	var curves [][]float64
	peak := 0.0
	for i, s := range spectra {
		d, err := s.Density(grid, sigma)
		if err != nil {
			return errFigure(title, fmt.Errorf("viz: HessianDensity %q: %s: %w", title, names[i], err))
		}
		for _, v := range d {
			peak = math.Max(peak, v)
		}
		curves = append(curves, d)
	}
	for i, d := range curves {
		y := make([]float64, len(d))
		for j, v := range d {
			y[j] = math.Max(v, 1e-7*peak)
		}
		l, h := spectra[i].Range()
		series = append(series, XY(fmt.Sprintf("%s (λ from %.3g to %.3g)", names[i], l, h), grid, y))
	}
	return Lines(title, "eigenvalue λ of the Hessian", "density (log scale)", series...).LogY()
}
