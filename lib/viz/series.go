package viz

import (
	"fmt"
	"math"
)

// Series is one named sequence of data. Lines and Scatter draw Y against X; Lo and Hi, when set,
// give a shaded band (e.g. mean ± spread across seeds) drawn under the line. Bar and Histogram read
// only Y (one value per category, or the samples to bin).
type Series struct {
	Name   string
	X, Y   []float64
	Lo, Hi []float64 // optional band (Lines) or error bars (Bar), same length as Y
	// Interval says what Lo..Hi are, e.g. "mean ± 1 s.e. over 5 seeds"; the legend (or, without a
	// legend, a footnote) shows it. MeanBand, MeanSE and Spread set it; WithInterval sets it on any series.
	Interval string
}

// WithInterval returns s with its interval's meaning set (see Series.Interval).
func (s Series) WithInterval(meaning string) Series {
	s.Interval = meaning
	return s
}

// Spread returns a series of bar heights y with error bars from lo to hi (given by the caller, e.g. a
// confidence interval); meaning says what the bars are, e.g. "95% bootstrap interval".
func Spread(name string, y, lo, hi []float64, meaning string) Series {
	return Series{Name: name, Y: y, Lo: lo, Hi: hi, Interval: meaning}
}

// MeanSE summarises repeated measurements (e.g. one per seed) of each bar of a Bar chart: samples[i]
// holds the values of category i; the bar is their mean and the error bar mean ± one standard error
// (sample standard deviation / √n). Non-finite samples are left out; a category with no finite sample
// is NaN (which Bar reports as an error).
func MeanSE(name string, samples [][]float64) Series {
	s := Series{Name: name, Y: make([]float64, len(samples)), Lo: make([]float64, len(samples)), Hi: make([]float64, len(samples))}
	lo, hi := math.MaxInt, 0
	for i, vs := range samples {
		mean, sd, n := meanSD(vs)
		se := 0.0
		if n > 1 {
			se = sd / math.Sqrt(float64(n))
		}
		s.Y[i], s.Lo[i], s.Hi[i] = mean, mean-se, mean+se
		lo, hi = min(lo, n), max(hi, n)
	}
	s.Interval = "mean ± 1 s.e. over " + countRange(lo, hi, "values")
	return s
}

// meanSD returns the mean and sample standard deviation of the finite values of vs, and their number
// (NaN, NaN, 0 when there are none).
func meanSD(vs []float64) (mean, sd float64, n int) {
	var sum float64
	for _, v := range vs {
		if isFinite(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	mean = sum / float64(n)
	var sq float64
	for _, v := range vs {
		if isFinite(v) {
			sq += (v - mean) * (v - mean)
		}
	}
	if n > 1 {
		sd = math.Sqrt(sq / float64(n-1))
	}
	return mean, sd, n
}

// countRange says "5 runs" or "3–5 runs".
func countRange(lo, hi int, what string) string {
	if lo >= hi || lo == math.MaxInt {
		return fmt.Sprintf("%d %s", hi, what)
	}
	return fmt.Sprintf("%d–%d %s", lo, hi, what)
}

// XY returns a series of points (x[i], y[i]).
func XY(name string, x, y []float64) Series { return Series{Name: name, X: x, Y: y} }

// Y returns a series with x = 0, 1, 2, ...
func Y(name string, y []float64) Series { return Series{Name: name, X: Range(len(y)), Y: y} }

// Values returns a series that holds only values: the bar heights of Bar, or the samples of
// Histogram.
func Values(name string, v []float64) Series { return Series{Name: name, Y: v} }

// Band returns a series whose line is mean and whose band is mean ± spread.
func Band(name string, x, mean, spread []float64) Series {
	s := Series{Name: name, X: x, Y: mean, Lo: make([]float64, len(mean)), Hi: make([]float64, len(spread))}
	if len(spread) != len(mean) {
		return s // the length mismatch is reported when the series is drawn
	}
	for i, m := range mean {
		s.Lo[i], s.Hi[i] = m-spread[i], m+spread[i]
	}
	return s
}

// MeanBand summarises several runs (e.g. one per seed) of the same curve: the line is the mean over
// runs at each x and the band is mean ± one (sample) standard deviation. runs[r][i] is run r at
// x[i]; non-finite values are left out of the statistics at that x (if a point has no finite value
// it becomes a gap). Its Interval says so, with the number of runs.
func MeanBand(name string, x []float64, runs [][]float64) Series {
	n := len(x)
	s := Series{Name: name, X: x, Y: make([]float64, n), Lo: make([]float64, n), Hi: make([]float64, n)}
	lo, hi := math.MaxInt, 0
	for i := range n {
		vs := make([]float64, 0, len(runs))
		for _, run := range runs {
			if i < len(run) {
				vs = append(vs, run[i])
			}
		}
		mean, sd, k := meanSD(vs)
		s.Y[i], s.Lo[i], s.Hi[i] = mean, mean-sd, mean+sd
		if k > 0 {
			lo, hi = min(lo, k), max(hi, k)
		}
	}
	s.Interval = "mean ± 1 s.d. over " + countRange(lo, hi, "runs")
	return s
}

// Range returns 0, 1, ..., n-1 as float64 (handy x values: steps, epochs, layers).
func Range(n int) []float64 {
	r := make([]float64, n)
	for i := range r {
		r[i] = float64(i)
	}
	return r
}

// Linspace returns n evenly spaced values from lo to hi inclusive.
func Linspace(lo, hi float64, n int) []float64 {
	r := make([]float64, n)
	for i := range r {
		if n == 1 {
			r[i] = lo
			continue
		}
		r[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return r
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func seriesName(s Series, i int) string {
	if s.Name != "" {
		return fmt.Sprintf("%q", s.Name)
	}
	return fmt.Sprintf("#%d", i)
}

// checkXY validates a series for Lines/Scatter: equal lengths, finite x, at least one finite y.
// It returns the number of points whose y (or band) is not finite.
func checkXY(kind string, s Series, i int, needFinitePoint bool) (gaps int, err error) {
	name := seriesName(s, i)
	if len(s.Y) == 0 {
		return 0, fmt.Errorf("viz: %s: series %s is empty", kind, name)
	}
	if len(s.X) != len(s.Y) {
		return 0, fmt.Errorf("viz: %s: series %s has %d x values but %d y values", kind, name, len(s.X), len(s.Y))
	}
	if (s.Lo == nil) != (s.Hi == nil) || (s.Lo != nil && (len(s.Lo) != len(s.Y) || len(s.Hi) != len(s.Y))) {
		return 0, fmt.Errorf("viz: %s: series %s band needs Lo and Hi both of length %d, got %d and %d",
			kind, name, len(s.Y), len(s.Lo), len(s.Hi))
	}
	for j, x := range s.X {
		if !isFinite(x) {
			return 0, fmt.Errorf("viz: %s: series %s has a non-finite x value (%v) at index %d", kind, name, x, j)
		}
		ok := isFinite(s.Y[j])
		if s.Lo != nil && (!isFinite(s.Lo[j]) || !isFinite(s.Hi[j])) {
			ok = false
		}
		if !ok {
			gaps++
		}
	}
	if needFinitePoint && !anyFinite(s.Y) {
		return 0, fmt.Errorf("viz: %s: series %s has no finite y value (all %d are NaN or Inf)", kind, name, len(s.Y))
	}
	return gaps, nil
}

func anyFinite(v []float64) bool {
	for _, x := range v {
		if isFinite(x) {
			return true
		}
	}
	return false
}

// gapNote is the footnote for series with left-out values.
func gapNote(verb string, names []string, counts []int) string {
	parts := ""
	for i, n := range names {
		if i > 0 {
			parts += ", "
		}
		parts += fmt.Sprintf("%s (%d)", n, counts[i])
	}
	return fmt.Sprintf("NaN/Inf values %s: %s", verb, parts)
}

// runs returns the maximal index ranges [a, b) on which ok is true.
func runs(n int, ok func(i int) bool) [][2]int {
	var out [][2]int
	start := -1
	for i := 0; i <= n; i++ {
		if i < n && ok(i) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, [2]int{start, i})
			start = -1
		}
	}
	return out
}

func log10(x float64) float64 { return math.Log10(x) }
