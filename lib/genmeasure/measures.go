package genmeasure

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// SingularValues returns the singular values of the rows×cols row-major matrix w, largest first
// (exact SVD).
func SingularValues(w []float64, rows, cols int) ([]float64, error) {
	if rows <= 0 || cols <= 0 || len(w) != rows*cols {
		return nil, fmt.Errorf("genmeasure.SingularValues: %d values for a %d×%d matrix", len(w), rows, cols)
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(rows, cols, slices.Clone(w)), mat.SVDNone) {
		return nil, fmt.Errorf("genmeasure.SingularValues: the SVD did not converge")
	}
	return svd.Values(nil), nil
}

// Spectral is the largest singular value ‖w‖₂ of a rows×cols matrix.
func Spectral(w []float64, rows, cols int) (float64, error) {
	s, err := SingularValues(w, rows, cols)
	if err != nil {
		return 0, err
	}
	return s[0], nil
}

// Frobenius is ‖w‖_F.
func Frobenius(w []float64) float64 {
	s := 0.0
	for _, v := range w {
		s += v * v
	}
	return math.Sqrt(s)
}

// Margins returns f(x)_y − max_{j≠y} f(x)_j for each row of logits.
func Margins(logits [][]float64, labels []int32) ([]float64, error) {
	if len(logits) != len(labels) || len(labels) == 0 {
		return nil, fmt.Errorf("genmeasure.Margins: %d logit rows for %d labels", len(logits), len(labels))
	}
	out := make([]float64, len(labels))
	for i, z := range logits {
		y := int(labels[i])
		if y < 0 || y >= len(z) || len(z) < 2 {
			return nil, fmt.Errorf("genmeasure.Margins: label %d of row %d with %d classes", y, i, len(z))
		}
		other := math.Inf(-1)
		for j, v := range z {
			if j != y && v > other {
				other = v
			}
		}
		out[i] = z[y] - other
	}
	return out, nil
}

// RobustMargin is Jiang et al.'s γ: the ⌊m/10⌋-th smallest of the m training margins (the 10th
// percentile; the smallest margin when m < 20).
func RobustMargin(margins []float64) float64 {
	s := slices.Clone(margins)
	slices.Sort(s)
	k := len(s) / 10
	if k > 0 {
		k-- // the k-th smallest, 1-based
	}
	return s[k]
}

// PathNorm is sqrt(Σ_paths Π (parameter)²): the network with every weight and bias squared,
// evaluated on the all-ones input (ReLU is the identity on its non-negative values).
func PathNorm(n *Net) (float64, error) {
	if err := n.Check(); err != nil {
		return 0, err
	}
	h := make([]float64, n.Layers[0].In)
	for i := range h {
		h[i] = 1
	}
	for _, l := range n.Layers {
		z := make([]float64, l.Out)
		for j := range z {
			if l.B != nil {
				z[j] = l.B[j] * l.B[j]
			}
		}
		for i, hv := range h {
			row := l.W[i*l.Out : (i+1)*l.Out]
			for j, w := range row {
				z[j] += hv * w * w
			}
		}
		h = z
	}
	s := 0.0
	for _, v := range h {
		s += v
	}
	return math.Sqrt(s), nil
}

// Measure is one named value.
type Measure struct {
	Name  string
	Value float64
	// Kind is "norm", "margin", "path", "flatness" or "size".
	Kind string
}

// Config sets the sample and the flatness searches for Measures.
type Config struct {
	// Flatness configures the PAC-Bayes σ' searches (plain and magnitude-aware).
	Flatness FlatnessConfig
	// Sharpness configures the worst-case α' searches.
	Sharpness SharpnessConfig
	// SkipFlatness leaves out the (slower) flatness measures.
	SkipFlatness bool
}

// Measures computes every measure of the trained network n (initialisation init, same shapes) on its
// training sample s. Names and conventions (Jiang et al. 2020):
//
//	params                   number of weights and biases
//	param.norm               Σ_i ‖W_i‖_F²
//	fro.dist                 Σ_i ‖W_i − W_i⁰‖_F²
//	dist.spec.init           Σ_i ‖W_i − W_i⁰‖₂²
//	log.prod.of.fro          Σ_i log ‖W_i‖_F²            (…over.margin: − log γ²)
//	log.sum.of.fro           log L + (1/L) Σ_i log ‖W_i‖_F²  (…over.margin: (1/L)(Σ − log γ²))
//	log.prod.of.spec         Σ_i log ‖W_i‖₂²             (and over.margin, as above)
//	log.sum.of.spec          log L + (1/L) Σ_i log ‖W_i‖₂²
//	spec.orig                log[Π_i ‖W_i‖₂² · Σ_i ‖W_i‖_F²/‖W_i‖₂² / γ²]
//	spec.init                the same with ‖W_i − W_i⁰‖_F² in the sum's numerators
//	path.norm                PathNorm (square root taken)
//	path.norm.over.margin    path.norm / γ²
//	inverse.margin           1/γ²
//	pacbayes.flatness        1/σ'²        (σ' from Flatness, noise N(0, σ²))
//	pacbayes.mag.flatness    1/σ'²        (magnitude-aware noise N(0, σ²w² + ε²))
//	pacbayes.init / .orig    ‖w − w⁰‖² (or ‖w‖²) / (4σ'²) + log(m/σ') + 10
//	pacbayes.mag.init / .orig ¼ Σ_i log[(ε² + (σ'²+1)‖w − w⁰‖²/ω)/(ε² + σ'²(w_i − w_i⁰)²)] + log(m/σ') + 10
//	sharpness.flatness       1/α'²        (α' from Sharpness, box ‖u‖_∞ ≤ α)
//	sharpness.mag.flatness   1/α'²        (box |u_i| ≤ α|w_i| + ε)
//
// Norms use weight matrices only (biases excluded) and are squared inside products, as in Jiang et
// al.; path norm and the PAC-Bayes measures use every parameter. γ is RobustMargin of the training
// margins; when γ ≤ 0 the "/γ" measures are NaN.
func Measures(n, init *Net, s Inputs, cfg Config) ([]Measure, error) {
	if err := n.checkInputs(s); err != nil {
		return nil, err
	}
	if err := sameShape(n, init); err != nil {
		return nil, err
	}
	var out []Measure
	add := func(name, kind string, v float64) { out = append(out, Measure{Name: name, Value: v, Kind: kind}) }

	L := float64(len(n.Layers))
	var sumLogFro, sumLogSpec, sumFro2, froDist, specDist, specSum, specInitSum float64
	for i, l := range n.Layers {
		fro := Frobenius(l.W)
		spec, err := Spectral(l.W, l.In, l.Out)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		d := make([]float64, len(l.W))
		for k := range d {
			d[k] = l.W[k] - init.Layers[i].W[k]
		}
		dFro := Frobenius(d)
		dSpec, err := Spectral(d, l.In, l.Out)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		sumLogFro += math.Log(fro * fro)
		sumLogSpec += math.Log(spec * spec)
		sumFro2 += fro * fro
		froDist += dFro * dFro
		specDist += dSpec * dSpec
		specSum += fro * fro / (spec * spec)
		specInitSum += dFro * dFro / (spec * spec)
	}
	logits, err := n.Logits(s)
	if err != nil {
		return nil, err
	}
	margins, err := Margins(logits, s.Y)
	if err != nil {
		return nil, err
	}
	gamma := RobustMargin(margins)
	logG2 := math.NaN()
	if gamma > 0 {
		logG2 = math.Log(gamma * gamma)
	}
	path, err := PathNorm(n)
	if err != nil {
		return nil, err
	}

	add("params", "size", float64(n.NumParams()))
	add("param.norm", "norm", sumFro2)
	add("fro.dist", "norm", froDist)
	add("dist.spec.init", "norm", specDist)
	add("log.prod.of.fro", "norm", sumLogFro)
	add("log.prod.of.fro.over.margin", "margin", sumLogFro-logG2)
	add("log.sum.of.fro", "norm", math.Log(L)+sumLogFro/L)
	add("log.sum.of.fro.over.margin", "margin", math.Log(L)+(sumLogFro-logG2)/L)
	add("log.prod.of.spec", "norm", sumLogSpec)
	add("log.prod.of.spec.over.margin", "margin", sumLogSpec-logG2)
	add("log.sum.of.spec", "norm", math.Log(L)+sumLogSpec/L)
	add("log.sum.of.spec.over.margin", "margin", math.Log(L)+(sumLogSpec-logG2)/L)
	add("spec.orig", "margin", sumLogSpec+math.Log(specSum)-logG2)
	add("spec.init", "margin", sumLogSpec+math.Log(specInitSum)-logG2)
	add("path.norm", "path", path)
	pm, im := math.NaN(), math.NaN()
	if gamma > 0 {
		pm, im = path/(gamma*gamma), 1/(gamma*gamma)
	}
	add("path.norm.over.margin", "path", pm)
	add("inverse.margin", "margin", im)
	if cfg.SkipFlatness {
		return out, nil
	}

	m := float64(s.N())
	w, w0 := n.Flat(), init.Flat()
	var dist2, norm2 float64
	for i := range w {
		dist2 += (w[i] - w0[i]) * (w[i] - w0[i])
		norm2 += w[i] * w[i]
	}
	fc := cfg.Flatness
	fc.Magnitude = false
	sigma, err := Flatness(n, s, fc)
	if err != nil {
		return nil, err
	}
	fc.Magnitude = true
	sigmaMag, err := Flatness(n, s, fc)
	if err != nil {
		return nil, err
	}
	eps := fc.withDefaults().Eps
	omega := float64(len(w))
	magTerm := func(sig float64, useInit bool) float64 {
		num := dist2
		if !useInit {
			num = norm2
		}
		t := 0.0
		for i := range w {
			d := w[i]
			if useInit {
				d -= w0[i]
			}
			t += math.Log((eps*eps + (sig*sig+1)*num/omega) / (eps*eps + sig*sig*d*d))
		}
		return t/4 + math.Log(m/sig) + 10
	}
	add("pacbayes.flatness", "flatness", 1/(sigma*sigma))
	add("pacbayes.init", "flatness", dist2/(4*sigma*sigma)+math.Log(m/sigma)+10)
	add("pacbayes.orig", "flatness", norm2/(4*sigma*sigma)+math.Log(m/sigma)+10)
	add("pacbayes.mag.flatness", "flatness", 1/(sigmaMag*sigmaMag))
	add("pacbayes.mag.init", "flatness", magTerm(sigmaMag, true))
	add("pacbayes.mag.orig", "flatness", magTerm(sigmaMag, false))

	sc := cfg.Sharpness
	sc.Magnitude = false
	alpha, err := Sharpness(n, s, sc)
	if err != nil {
		return nil, err
	}
	sc.Magnitude = true
	alphaMag, err := Sharpness(n, s, sc)
	if err != nil {
		return nil, err
	}
	add("sharpness.flatness", "flatness", 1/(alpha*alpha))
	add("sharpness.mag.flatness", "flatness", 1/(alphaMag*alphaMag))
	return out, nil
}

func sameShape(a, b *Net) error {
	if err := a.Check(); err != nil {
		return err
	}
	if b == nil || len(a.Layers) != len(b.Layers) {
		return fmt.Errorf("genmeasure: the initial network has a different number of layers")
	}
	for i := range a.Layers {
		if a.Layers[i].In != b.Layers[i].In || a.Layers[i].Out != b.Layers[i].Out || len(a.Layers[i].B) != len(b.Layers[i].B) {
			return fmt.Errorf("genmeasure: layer %d is %d×%d (bias %d) but the initial network's is %d×%d (bias %d)", i,
				a.Layers[i].In, a.Layers[i].Out, len(a.Layers[i].B), b.Layers[i].In, b.Layers[i].Out, len(b.Layers[i].B))
		}
	}
	return nil
}

// Lookup returns the value of the measure called name.
func Lookup(ms []Measure, name string) (float64, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m.Value, true
		}
	}
	return math.NaN(), false
}
